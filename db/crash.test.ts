// Kill -9 in the middle of committing sales, 50 times over. After every restart: the file passes
// quick_check, every sale the child reported committed is there in full, none is half there,
// balances equal the sums of entries, and the hash chain verifies.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import Database from 'better-sqlite3';
import { Ledger } from './ledger';

const root = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Bundled once so each of the 50 restarts costs a Node start, not a TypeScript compile.
function buildChild(): string {
  const outDir = join(root, '.data', 'test');
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, `crash-child-${process.pid}.mjs`);
  buildSync({ entryPoints: [join(root, 'db/crash-child.ts')], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile, logLevel: 'warning' });
  return outfile;
}

function runAndKill(child: string, db: string, killAfterMs: number): Promise<string[]> {
  return new Promise((done, fail) => {
    const p = spawn(process.execPath, [child, db, join(root, 'resources/demo-program.json'), ], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOYALTY_MIGRATIONS_DIR: join(root, 'db/migrations') } });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    p.stdout.on('data', (d) => {
      out += String(d);
      if (!timer && out.includes('ready\n')) timer = setTimeout(() => p.kill('SIGKILL'), killAfterMs);
    });
    p.stderr.on('data', (d) => (err += String(d)));
    p.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') return fail(new Error(`child exited ${code}: ${err}`));
      // Only complete lines were reported after COMMIT; a torn last line was not.
      done(out.split('\n').slice(0, -1).filter((l) => l !== 'ready'));
    });
  });
}

describe('crash safety', () => {
  it('survives 50 SIGKILLs mid-commit without losing or tearing a sale', async () => {
    const child = buildChild();
    const db = join(dir, 'ledger.db');
    const reported = new Set<string>();
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 50; round++) {
      for (const id of await runAndKill(child, db, 5 + Math.floor(random() * 120))) reported.add(id);

      const raw = new Database(db);
      expect(raw.pragma('quick_check', { simple: true })).toBe('ok');
      const ids = new Set(raw.prepare('SELECT id FROM receipts').pluck().all() as string[]);
      for (const id of reported) expect(ids.has(id)).toBe(true);
      const torn = raw
        .prepare(
          `SELECT r.id FROM receipts r
           WHERE coalesce(json_array_length(r.priced, '$.lines'), 0) = 0
              OR NOT EXISTS (SELECT 1 FROM outbox o WHERE o.op_id = r.id)
              OR NOT EXISTS (SELECT 1 FROM point_entries e WHERE e.receipt_id = r.id)`,
        )
        .all();
      expect(torn).toEqual([]);
      expect(raw.prepare("SELECT count(*) FROM outbox WHERE kind = 'sale' AND op_id NOT IN (SELECT id FROM receipts)").pluck().get()).toBe(0);
      raw.close();
    }
    expect(reported.size).toBeGreaterThan(50);
    const ledger = new Ledger({ path: db });
    const report = ledger.verify();
    ledger.close();
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.receipts).toBeGreaterThanOrEqual(reported.size);
  }, 120_000);
});
