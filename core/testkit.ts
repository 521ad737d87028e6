// What the terminal's tests share: an API answer's value (the test fails with the refusal's
// message otherwise), the refusal of one expected to be refused, and temporary folders removed
// after each test.
import { afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ApiResult } from '../protocol/api';

export const ok = <T>(r: ApiResult<T>): T => {
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value;
};

export const refused = <T>(r: ApiResult<T>) => {
  if (r.ok) throw new Error('expected a refusal');
  return r.error;
};

/** A new temporary folder per call, all removed after each test of the file that calls this. */
export function tempDirs(prefix: string): { make(): string; made: readonly string[] } {
  const made: string[] = [];
  afterEach(() => {
    for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return {
    make: () => {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      made.push(dir);
      return dir;
    },
    made,
  };
}
