// npm run bench:backup — the terminal's scheduled backup of bench:ledger's 1,000,000-card ledger,
// taken while the till works: how long it takes, and the longest a till's call waited meanwhile (a
// card lookup every 5 ms, timed from when it was due). Beside it, VACUUM INTO, the backup before
// `onlineBackup`, which holds the till for the whole copy.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Ledger } from '../db/ledger';
import { onlineBackup } from '../db/open';
import { seedCardNumber } from '../db/seed';
import { figure } from './stats';

const fixture = join(process.cwd(), '.data', 'bench', 'ledger-1000000.db');
if (!existsSync(fixture)) throw new Error(`${fixture} is missing: run \`npm run bench:ledger\` once to build it.`);
const ledger = new Ledger({ path: fixture });
const awake = setInterval(() => {}, 1000); // the start-up check's worker is unref'd
await ledger.integrityChecked;
clearInterval(awake);

let due = performance.now() + 5;
let longestWait = 0;
let calls = 0;
const till = setInterval(() => {
  longestWait = Math.max(longestWait, performance.now() - due);
  if (!ledger.findCard({ number: seedCardNumber((calls++ * 7919) % 1_000_000) })) throw new Error('card not found');
  due = performance.now() + 5;
}, 5);
const t0 = performance.now();
const file = await onlineBackup(ledger.sqlite, fixture, 'manual', 1);
const onlineS = (performance.now() - t0) / 1000;
clearInterval(till);
rmSync(file);

const vacuum = `${file}.vacuum`;
const t1 = performance.now();
ledger.sqlite.prepare('VACUUM INTO ?').run(vacuum);
const vacuumS = (performance.now() - t1) / 1000;
rmSync(vacuum);
ledger.close();

figure('online_backup_s', onlineS, 's', 1);
figure('online_backup_till_longest_wait', longestWait, 'ms', 1);
figure('online_backup_till_calls', calls, 'calls', 0);
figure('vacuum_into_s', vacuumS, 's', 1);
