// npm run bench:hq — HQ's figures for a year of a 100-store chain (about 10 million receipts) on
// real PostgreSQL (DATABASE_URL; bar: under 5 s). The chain is generated once into the schema
// `bench_hq` (several minutes) and reused; BENCH_HQ_RECEIPTS scales it.
import { openHqDb, sql } from '../hq/db';
import { generateChain } from '../hq/chain-data';
import { computeFigures, revenuePerParticipant, rfm } from '../hq/figures';
import { figure } from './stats';

const url = process.env.DATABASE_URL;
if (!url) {
  console.error('bench:hq needs real PostgreSQL: set DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test)');
  process.exit(2);
}
const RECEIPTS = Number(process.env.BENCH_HQ_RECEIPTS ?? 10_000_000);
const schema = `bench_hq_${RECEIPTS}`;
const FROM = '2025-11-01T00:00:00.000Z';
const TO = '2026-11-01T00:00:00.000Z';

const db = await openHqDb({ url, schema });
const [have] = await db.rows<{ n: string }>(sql`SELECT count(*) AS n FROM receipts`);
if (Number(have!.n) < RECEIPTS) {
  const t0 = Date.now();
  process.stderr.write(`generating ${RECEIPTS} receipts into schema ${schema}…\n`);
  await generateChain(db, { stores: 100, cardholders: Math.round(RECEIPTS / 10), receipts: RECEIPTS, from: FROM, changeAt: '2026-05-01T00:00:00.000Z' });
  // A bulk load leaves the visibility map empty, so index-only scans still visit the heap until
  // (auto)vacuum has passed: vacuum now, as a running HQ's autovacuum would have.
  await db.rows(sql`VACUUM ANALYZE`);
  process.stderr.write(`generated and vacuumed in ${Math.round((Date.now() - t0) / 1000)} s\n`);
}
const year = { from: FROM, to: TO };
const time = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
  const t = process.hrtime.bigint();
  const v = await fn();
  return [v, Number(process.hrtime.bigint() - t) / 1e6];
};
await computeFigures(db, { from: FROM, to: '2025-11-08T00:00:00.000Z' }); // warm the connection
const [f, chainMs] = await time(() => computeFigures(db, year));
const [, storeMs] = await time(() => computeFigures(db, { ...year, storeId: 'store-7' }));
const [, monthlyMs] = await time(() => revenuePerParticipant(db, year));
const [, rfmMs] = await time(() => rfm(db, year));
figure('receipts', RECEIPTS, 'receipts', 0);
figure('figures_chain_year_s', chainMs / 1000, 's', 2);
figure('figures_one_store_year_s', storeMs / 1000, 's', 2);
figure('revenue_per_participant_by_month_s', monthlyMs / 1000, 's', 2);
figure('rfm_year_s', rfmMs / 1000, 's', 2);
figure('all_figures_s', (chainMs + storeMs + monthlyMs + rfmMs) / 1000, 's', 2);
console.error(`(attraction ${f.attractionRatio?.toFixed(3)}, activity ${f.activityRatio?.toFixed(3)}, top-20% share ${f.top20RevenueShare?.toFixed(3)})`);
await db.close();
