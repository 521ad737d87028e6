// npm run bench:jobs — the hourly ledger jobs on bench:ledger's 1,000,000-card ledger (a copy of it,
// so the fixture is left as it is). Half a year after the fixture's sales most of its lots have
// expired: the first expiry run writes them off, and the burn (after 270 days without a purchase)
// takes what is left from the cardholders whose last purchase was before September; then what
// 200,000 sales on other terminals over the half year sold (HQ's feed) is dropped as far as it is
// older than 90 days. The next run, an hour later, must cost what the hour brought, not the
// ledger's history.
import { copyFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Ledger } from '../db/ledger';
import { listBackups } from '../db/open';
import { jobSlices } from '../db/jobs';
import { figure } from './stats';

const dir = join(process.cwd(), '.data', 'bench');
const fixture = join(dir, 'ledger-1000000.db');
const copy = join(dir, 'jobs.db');
if (!existsSync(fixture)) throw new Error(`${fixture} is missing: run \`npm run bench:ledger\` once to build it.`);
// The copy and what it leaves (a backup, if opening it applies a migration the fixture lacks).
const clear = () => {
  for (const f of [copy, `${copy}-wal`, `${copy}-shm`, `${copy}.key`, ...listBackups(copy)]) rmSync(f, { force: true });
};
clear();
copyFileSync(fixture, copy);
copyFileSync(`${fixture}.key`, `${copy}.key`);

const ledger = new Ledger({ path: copy });
const awake = setInterval(() => {}, 1000); // the start-up check's worker is unref'd
await ledger.integrityChecked;
clearInterval(awake);
// Every transaction a job makes, timed: a till's sale waits behind at most one of them.
const atomically = ledger.atomically.bind(ledger);
let longest = 0;
ledger.atomically = ((fn: () => unknown) => {
  const t0 = performance.now();
  try {
    return atomically(fn);
  } finally {
    longest = Math.max(longest, performance.now() - t0);
  }
}) as typeof ledger.atomically;

// Sales with a card on other terminals from 1 November to 1 June: the rows HQ's feed leaves in
// bought_elsewhere (not the purchase history it also counts, so the burn finds the fixture's
// cardholders as before).
const FEED = 200_000;
const from = Date.parse('2026-11-01T00:00:00.000Z');
const span = Date.parse('2027-06-01T00:00:00.000Z') - from;
const holders = ledger.sqlite.prepare('SELECT id FROM cardholders LIMIT 20000').pluck().all() as string[];
const bought = ledger.sqlite.prepare('INSERT INTO bought_elsewhere (sale_id, cardholder_id, created_at, lines) VALUES (?, ?, ?, ?)');
const lines = JSON.stringify({ 1: ['COFFEE-250', 2], 2: ['MILK-1L', 1] });
ledger.sqlite.transaction(() => {
  for (let i = 0; i < FEED; i++) bought.run(`feed-${i}`, holders[i % holders.length]!, new Date(from + Math.floor((span * i) / FEED)).toISOString(), lines);
})();

// As the terminal runs them (db/maintenance.ts): slices of ten transactions or 25 ms until expiry
// has caught up and burn has looked at every balance, each slice that wrote followed by a step that
// checkpoints the WAL; the till is served between steps, so its longest wait is the longest step
// (printed as the longest slice; the slices figure counts the checkpoint steps too).
function run(name: string, now: string) {
  longest = 0;
  const total = { expiredLots: 0, lotsChecked: 0, burnedCardholders: 0, prunedSales: 0 };
  let slices = 0;
  let longestSlice = 0;
  const t0 = performance.now();
  const steps = jobSlices(ledger, { expiry: { burnAfterInactiveDays: 270 } }, now);
  for (;;) {
    const s0 = performance.now();
    const step = steps.next(); // runs one slice
    if (step.done) break;
    longestSlice = Math.max(longestSlice, performance.now() - s0);
    slices++;
    for (const k of ['expiredLots', 'lotsChecked', 'burnedCardholders', 'prunedSales'] as const) total[k] += step.value[k];
  }
  figure(`${name}_ms`, performance.now() - t0, 'ms', 1);
  figure(`${name}_slices`, slices, 'slices', 0);
  figure(`${name}_longest_slice_ms`, longestSlice, 'ms', 1);
  figure(`${name}_longest_transaction_ms`, longest, 'ms', 1);
  figure(`${name}_lots_checked`, total.lotsChecked, 'lots', 0);
  figure(`${name}_lots_expired`, total.expiredLots, 'lots', 0);
  figure(`${name}_cardholders_burned`, total.burnedCardholders, 'cardholders', 0);
  figure(`${name}_feed_sales_dropped`, total.prunedSales, 'sales', 0);
}

figure('point_entries', ledger.sqlite.prepare('SELECT count(*) FROM point_entries').pluck().get() as number, 'entries', 0);
run('jobs_first_run', '2027-06-01T00:00:00.000Z');
run('jobs_hour_later', '2027-06-01T01:00:00.000Z');
ledger.close();
clear();
