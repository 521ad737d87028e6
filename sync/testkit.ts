// What the sync tests share: the demo program, one HQ per test file (embedded, or a schema of its
// own on DATABASE_URL), and terminals — a real ledger in a temporary folder with a sync agent,
// registered with that HQ unless told otherwise.
import { afterAll, beforeAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ledger } from '../db/ledger';
import { validateProgram } from '../engine';
import { startTestHq, type TestHq } from '../hq/testing';
import { SyncAgent } from './agent';

const checked = validateProgram(JSON.parse(readFileSync('resources/demo-program.json', 'utf8')));
if (!checked.ok) throw new Error('the demo program does not validate');
export const demoProgram = checked;

export interface TestTerminal {
  ledger: Ledger;
  agent: SyncAgent;
  db: string;
  clock: () => Date;
}

/** Starts an HQ before the file's tests and removes it, and every terminal made, after them. */
export function syncTestbed(setup?: (hq: TestHq) => Promise<void>) {
  const bed = { hq: undefined as unknown as TestHq, dirs: [] as string[] };
  beforeAll(async () => {
    bed.hq = await startTestHq();
    await setup?.(bed.hq);
  });
  afterAll(async () => {
    await bed.hq.destroy();
    for (const d of bed.dirs) rmSync(d, { recursive: true, force: true });
  });
  return {
    get hq() {
      return bed.hq;
    },
    async terminal(opts: { register?: boolean; clockOffsetMs?: number } = {}): Promise<TestTerminal> {
      const dir = mkdtempSync(join(tmpdir(), 'term-'));
      bed.dirs.push(dir);
      const db = join(dir, 'ledger.db');
      const ledger = new Ledger({ path: db });
      const clock = () => new Date(Date.now() + (opts.clockOffsetMs ?? 0));
      const agent = new SyncAgent(ledger, { hqUrl: bed.hq.url, keyFile: `${db}.sync-key`, clock });
      if (opts.register !== false) await agent.register(await bed.hq.service.createRegistrationCode('store-1'));
      return { ledger, agent, db, clock };
    },
  };
}
