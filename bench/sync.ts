// npm run bench:sync — sync throughput against real PostgreSQL (DATABASE_URL, default the local
// server), with HQ in a process of its own: a 100,000-sale backlog pushed and acknowledged (bar
// ≤ 20 s), HQ's ingest rate, and the time to provision 1,000,000 cards to a fresh terminal. Each
// run uses a schema of its own.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Ledger } from '../db/ledger';
import { priceBasket, validateProgram } from '../engine';
import { startTestHq } from '../hq/testing';
import { sql } from '../hq/db';
import { SyncAgent } from '../sync/agent';
import { figure, resourceFile } from './stats';

process.env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/test';
const SALES = Number(process.env.BENCH_SALES ?? 100_000);
const CARDS = Number(process.env.BENCH_PROVISION_CARDS ?? 1_000_000);
const dir = join(process.cwd(), '.data', 'bench', `sync-${process.pid}`);
mkdirSync(dir, { recursive: true });
const checked = validateProgram(JSON.parse(readFileSync(resourceFile('demo-program.json'), 'utf8')));
if (!checked.ok) throw new Error('demo program');
const catalog = JSON.parse(readFileSync(resourceFile('demo-catalog.json'), 'utf8')) as { sku: string; name: string; category: string; unitPrice: number }[];

/** `hq/main.ts serve` in a child process on a free port, on the given schema of DATABASE_URL. */
async function startHqProcess(schema: string): Promise<{ url: string; stop(): void }> {
  const port = 20000 + (process.pid % 20000);
  const child = spawn(process.execPath, ['--import', 'tsx', 'hq/main.ts', 'serve', '--port', String(port)], {
    env: { ...process.env, HQ_SCHEMA: schema, HQ_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}/`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`HQ exited with ${child.exitCode}`);
    if (await fetch(new URL('/v1/health', url)).then((r) => r.ok, () => false)) break;
    if (i > 600) throw new Error('HQ did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, stop: () => child.kill('SIGTERM') };
}

const hq = await startTestHq();
try {
  // A terminal with a backlog: 1,000 cardholders and SALES sales waiting in the outbox (each card's
  // first with the welcome bonus, which HQ checks is the person's only one).
  const ledger = new Ledger({ path: join(dir, 'backlog.db') });
  ledger.sqlite.pragma('synchronous = OFF'); // building the fixture; pushing runs with FULL
  const cards = ledger.sqlite.transaction(() => Array.from({ length: 1000 }, (_, i) => ledger.enroll({ holder: { firstName: `Клиент ${i}` }, cardNumber: `3${String(i).padStart(12, '0')}`, now: new Date().toISOString(), consentPd: true })!))();
  const fill = ledger.sqlite.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const card = cards[i % cards.length]!;
      const now = new Date().toISOString();
      const lines = [catalog[i % catalog.length]!, catalog[(i * 7) % catalog.length]!].map((p) => ({ ...p, qty: 1 + (i % 3) }));
      ledger.commitSale({ card, priced: priceBasket(checked.program, checked.hash, { lots: [], lifetimeSpend: 0, purchaseCount: i % 30, firstPurchase: i < cards.length, holder: {} }, { lines }, { now }), now });
    }
  });
  for (let i = 0; i < SALES; i += 10_000) fill(i, Math.min(SALES, i + 10_000));
  ledger.sqlite.pragma('synchronous = FULL');
  // HQ serves in a process of its own, as deployed (`npm run hq`), on this run's schema.
  const server = await startHqProcess(hq.schema);
  const agent = new SyncAgent(ledger, { hqUrl: server.url, keyFile: join(dir, 'backlog.db.sync-key') });
  await agent.register(await hq.service.createRegistrationCode('bench-store'));

  const t0 = performance.now();
  await agent.syncOnce();
  const pushS = (performance.now() - t0) / 1000;
  if (agent.status().pendingOperations !== 0) throw new Error('backlog not drained');
  const [{ n }] = (await hq.db.rows<{ n: string }>(sql`SELECT count(*) AS n FROM receipts`)) as [{ n: string }];
  if (Number(n) !== SALES) throw new Error(`HQ has ${n} receipts, expected ${SALES}`);
  figure('backlog_sales', SALES, 'sales', 0);
  figure('backlog_100k_push_s', pushS * (100_000 / SALES), 's', 2);
  figure('ingest_rate', SALES / pushS, 'sales/s', 0);
  ledger.close();
  server.stop();

  // A chain's card base at HQ, provisioned to a fresh terminal in pages.
  await hq.db.rows(sql`INSERT INTO cardholders (cardholder_id, holder, enrolled_at, store_id)
    SELECT 'p-' || g, jsonb_build_object('firstName', 'Имя' || (g % 500), 'surname', 'Фамилия' || (g % 997), 'phone', '+7900' || lpad(g::text, 7, '0')), now(), 'bench-store'
    FROM generate_series(1, ${CARDS}) g`);
  await hq.db.rows(sql`INSERT INTO cards (cardholder_id, card_id, number, chip_uid, status)
    SELECT 'p-' || g, 'c-' || g, '4' || lpad(g::text, 12, '0'), NULL, 'active' FROM generate_series(1, ${CARDS}) g`);
  const fresh = new Ledger({ path: join(dir, 'fresh.db') });
  const agent2 = new SyncAgent(fresh, { hqUrl: hq.url, keyFile: join(dir, 'fresh.db.sync-key') });
  await agent2.register(await hq.service.createRegistrationCode('bench-store'));
  const t1 = performance.now();
  await agent2.syncOnce();
  const provisionS = (performance.now() - t1) / 1000;
  const have = fresh.sqlite.prepare("SELECT count(*) FROM cards WHERE number LIKE '4%'").pluck().get() as number;
  if (have !== CARDS) throw new Error(`provisioned ${have} of ${CARDS} cards`);
  figure('provision_cards', CARDS, 'cards', 0);
  figure('provision_1m_cards_s', provisionS * (1_000_000 / CARDS), 's', 1);
  fresh.close();
} finally {
  await hq.destroy();
  rmSync(dir, { recursive: true, force: true });
}
