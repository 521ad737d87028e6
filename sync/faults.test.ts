// Exactly once under faults. A proxy between the terminals and HQ drops requests, drops responses
// after HQ has committed, duplicates and delays requests and answers 5xx; HQ is restarted in the
// middle of the run; one terminal's sync process is killed with SIGKILL again and again. After
// convergence every sale is at HQ exactly once, HQ's balances equal the sums of all terminals'
// entries, and every terminal shows HQ's balances.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ledger } from '../db/ledger';
import { priceBasket, validateProgram } from '../engine';
import { startTestHq, welcomesPerPerson, type TestHq } from '../hq/testing';
import { seedHqDemo } from '../hq/demo';
import { sql } from '../hq/db';
import { demoCards } from '../core/demo-cards';
import { SyncAgent } from './agent';

const check = validateProgram(JSON.parse(readFileSync('resources/demo-program.json', 'utf8')));
if (!check.ok) throw new Error('demo program');
const program = check;
const welcomePoints = check.program.welcome!.points;
const catalog = JSON.parse(readFileSync('resources/demo-catalog.json', 'utf8')) as { sku: string; name: string; category: string; unitPrice: number }[];

let seed = 20261122;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A misbehaving network between terminals and HQ. */
function faultyProxy(target: () => number) {
  let faults = true;
  const stats = { dropRequest: 0, dropResponse: 0, duplicate: 0, error5xx: 0, passed: 0 };
  const forward = (req: http.IncomingMessage, body: Buffer) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const out = http.request({ host: '127.0.0.1', port: target(), method: req.method, path: req.url, headers: req.headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      out.on('error', reject);
      out.end(body);
    });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const dice = faults ? random() : 1;
      try {
        await sleep(faults ? Math.floor(random() * 30) : 0);
        if (dice < 0.12) {
          stats.dropRequest++;
          return res.destroy();
        }
        if (dice < 0.2) {
          stats.error5xx++;
          return res.writeHead(503).end('{"error":"injected"}');
        }
        const first = await forward(req, body);
        if (dice < 0.35) {
          stats.dropResponse++; // HQ committed; the terminal never hears of it
          return res.destroy();
        }
        let answer = first;
        if (dice < 0.45) {
          stats.duplicate++;
          answer = await forward(req, body); // the same bytes again (HQ sees a replay)
        }
        stats.passed++;
        res.writeHead(answer.status, answer.headers).end(answer.body);
      } catch {
        res.writeHead(502).end('{"error":"HQ down"}');
      }
    });
  });
  return {
    stats,
    heal: () => (faults = false),
    listen: () => new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as { port: number }).port))),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const dirs: string[] = [];
let hq: TestHq;
afterAll(async () => {
  await hq?.destroy();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function sell(ledger: Ledger, number: string) {
  const card = ledger.findCard({ number });
  if (!card) return false;
  const lines = [0, 1, 2].map(() => ({ ...catalog[Math.floor(random() * catalog.length)]!, qty: 1 + Math.floor(random() * 3) }));
  const now = new Date().toISOString();
  const priced = priceBasket(program.program, program.hash, ledger.cardState(card), { lines }, { now, redeemPoints: random() < 0.3 ? 150 : 0 });
  ledger.commitSale({ card, priced, now });
  return true;
}

async function untilSynced(agent: SyncAgent, tries = 50) {
  for (let i = 0; i < tries; i++) {
    try {
      await agent.syncOnce();
      if (agent.status().pendingOperations === 0) return;
    } catch {
      await sleep(20);
    }
  }
  throw new Error(`did not converge: ${JSON.stringify(agent.status())}`);
}

describe('sync under faults', () => {
  it('every sale reaches HQ exactly once and every terminal converges on HQ balances', async () => {
    hq = await startTestHq();
    await seedHqDemo(hq.service);
    const proxy = faultyProxy(() => hq.port);
    const proxyUrl = `http://127.0.0.1:${await proxy.listen()}/`;

    const terminals = await Promise.all(
      [0, 1, 2].map(async () => {
        const dir = mkdtempSync(join(tmpdir(), 'faults-'));
        dirs.push(dir);
        const db = join(dir, 'ledger.db');
        const ledger = new Ledger({ path: db });
        const agent = new SyncAgent(ledger, { hqUrl: proxyUrl, keyFile: `${db}.sync-key`, timeoutMs: 2000 });
        const direct = new SyncAgent(ledger, { hqUrl: hq.url, keyFile: `${db}.sync-key` });
        await direct.register(await hq.service.createRegistrationCode('store-1'));
        return { db, ledger, agent };
      }),
    );
    // Provision the demo cards through the faulty network.
    for (const t of terminals) await untilSynced(t.agent);
    for (const t of terminals) expect(t.ledger.findCard({ number: demoCards[0]!.number })).not.toBeNull();

    // Terminal 3 syncs from a child process that is killed with SIGKILL and restarted.
    const t3 = terminals[2]!;
    let child: ChildProcess | null = null;
    const startChild = () => {
      child = spawn(process.execPath, ['bin/loyalty.js', 'sync', '--db', t3.db, '--hq', proxyUrl], { stdio: 'ignore' });
    };
    startChild();
    let kills = 0;
    let hqRestarts = 0;
    for (let round = 0; round < 60; round++) {
      for (const t of terminals) sell(t.ledger, demoCards[Math.floor(random() * demoCards.length)]!.number);
      for (const t of terminals.slice(0, 2)) await t.agent.syncOnce().catch(() => undefined);
      if (round % 12 === 5) {
        child!.kill('SIGKILL');
        kills++;
        await sleep(50);
        startChild();
      }
      if (round === 30 || round === 45) {
        // HQ goes down while batches are in flight, and comes back.
        const inflight = terminals[0]!.agent.syncOnce().catch(() => undefined);
        await sleep(5);
        await hq.stop();
        hqRestarts++;
        await inflight;
        await sleep(100);
        await hq.start();
      }
      await sleep(10);
    }
    child!.kill('SIGKILL');
    kills++;
    expect(kills).toBeGreaterThanOrEqual(5);
    expect(hqRestarts).toBe(2);

    proxy.heal();
    for (const t of terminals) await untilSynced(t.agent);
    for (const t of terminals) await t.agent.syncOnce(); // everyone pulls the others' last entries

    // Every sale at HQ exactly once.
    for (const t of terminals) {
      const local = t.ledger.sqlite.prepare("SELECT id FROM receipts WHERE kind = 'sale' ORDER BY id").pluck().all() as string[];
      const remote = (await hq.db.rows<{ id: string }>(sql`SELECT id FROM receipts WHERE terminal_id = ${t.ledger.terminalId} ORDER BY id`)).map((r) => r.id);
      expect(remote).toEqual(local);
      const maxSeq = t.ledger.sqlite.prepare('SELECT max(seq) FROM outbox').pluck().get() as number;
      const [ops] = await hq.db.rows<{ n: string; acked: string }>(sql`SELECT count(*) AS n, max(acked_seq) AS acked FROM operations o JOIN terminals t USING (terminal_id) WHERE terminal_id = ${t.ledger.terminalId}`);
      expect(Number(ops!.n)).toBe(maxSeq);
      expect(Number(ops!.acked)).toBe(maxSeq);
    }
    // HQ balance = sum of all terminals' own entries and of HQ's own (the welcome bonuses a card got
    // on more than one terminal before they heard of each other, taken back) = what each terminal shows.
    const balances = await hq.service.balances();
    const sums = new Map<string, number>();
    const own = await hq.db.rows<{ h: string; p: string }>(sql`SELECT cardholder_id AS h, sum(points) AS p FROM point_entries WHERE terminal_id = 'hq' GROUP BY cardholder_id`);
    for (const r of own) sums.set(r.h, Number(r.p));
    for (const t of terminals) {
      for (const r of t.ledger.sqlite.prepare('SELECT cardholder_id AS h, sum(points) AS p FROM point_entries GROUP BY cardholder_id').all() as { h: string; p: number }[]) sums.set(r.h, (sums.get(r.h) ?? 0) + r.p);
    }
    const welcomes = await welcomesPerPerson(hq.db);
    expect(welcomes.size).toBeGreaterThan(0);
    for (const w of welcomes.values()) expect(w.taken).toBe((w.given - 1) * welcomePoints);
    expect(sums.size).toBeGreaterThan(0);
    for (const [holder, sum] of sums) {
      expect(balances.get(holder)).toBe(sum);
      for (const t of terminals) expect(t.ledger.balance(holder)).toBe(sum);
    }
    const [dups] = await hq.db.rows<{ n: string }>(sql`SELECT count(*) - count(DISTINCT id) AS n FROM point_entries`);
    expect(Number(dups!.n)).toBe(0);
    expect(proxy.stats.dropResponse + proxy.stats.dropRequest + proxy.stats.duplicate + proxy.stats.error5xx).toBeGreaterThan(20);
    for (const t of terminals) t.ledger.close();
    await proxy.close();
  }, 240_000);
});
