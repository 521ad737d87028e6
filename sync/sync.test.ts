// Terminal ↔ HQ over real HTTP, on embedded PostgreSQL (or the real server with DATABASE_URL).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { Ledger } from '../db/ledger';
import { priceBasket, validateProgram } from '../engine';
import { startTestHq, type TestHq } from '../hq/testing';
import { sql } from '../hq/db';
import { SyncAgent } from './agent';
import { loadOrCreateTerminalKey } from './keys';
import { signatureBase } from '../protocol/sync';

const check = validateProgram(JSON.parse(readFileSync('resources/demo-program.json', 'utf8')));
if (!check.ok) throw new Error('demo program');
const checked = check;
const basket = { lines: [{ sku: 'COFFEE-250', name: 'Кофе', category: 'grocery', qty: 2, unitPrice: 45900 }] };

let hq: TestHq;
const dirs: string[] = [];
beforeAll(async () => {
  hq = await startTestHq();
});
afterAll(async () => {
  await hq.destroy();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function terminal(opts: { register?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'term-'));
  dirs.push(dir);
  const db = join(dir, 'ledger.db');
  const ledger = new Ledger({ path: db });
  const agent = new SyncAgent(ledger, { hqUrl: hq.url, keyFile: `${db}.sync-key` });
  if (opts.register !== false) await agent.register(await hq.service.createRegistrationCode('store-1'));
  return { ledger, agent, db };
}

function sell(ledger: Ledger, number: string, redeem = 0) {
  const card = ledger.findCard({ number })!;
  const now = new Date().toISOString();
  return ledger.commitSale({ card, priced: priceBasket(checked.program, checked.hash, ledger.cardState(card), basket, { now, redeemPoints: redeem }), now });
}

describe('sync with HQ', () => {
  it('uploads sales exactly once and acknowledges them; a second round changes nothing', async () => {
    const t = await terminal();
    t.ledger.enroll({ holder: { firstName: 'Анна', phone: '+79990001122' }, cardNumber: '7789000000050', now: new Date().toISOString(), consentPd: true });
    for (let i = 0; i < 5; i++) sell(t.ledger, '7789000000050');
    const first = await t.agent.syncOnce();
    expect(first.pushed).toBe(6); // one enrollment and five sales
    expect(t.agent.status()).toMatchObject({ online: true, pendingOperations: 0 });
    const again = await t.agent.syncOnce();
    expect(again.pushed).toBe(0);
    const [{ n }] = (await hq.db.rows<{ n: string }>(sql`SELECT count(*) AS n FROM receipts WHERE terminal_id = ${t.ledger.terminalId}`)) as [{ n: string }];
    expect(Number(n)).toBe(5);
    const holder = t.ledger.findCard({ number: '7789000000050' })!.cardholderId;
    expect((await hq.service.balances()).get(holder)).toBe(t.ledger.balance(holder));
    t.ledger.close();
  });

  it('a terminal provisions cards and other terminals\' entries from HQ, and shows HQ\'s balance', async () => {
    const a = await terminal();
    a.ledger.enroll({ holder: { firstName: 'Ольга', phone: '+79265554433' }, cardNumber: '7789000000035', now: new Date().toISOString(), consentPd: true });
    sell(a.ledger, '7789000000035');
    await a.agent.syncOnce();
    const b = await terminal();
    await b.agent.syncOnce();
    const card = b.ledger.findCard({ number: '7789000000035' });
    expect(card?.holder.firstName).toBe('Ольга');
    const hqBalance = (await hq.service.balances()).get(card!.cardholderId)!;
    expect(hqBalance).toBeGreaterThan(0);
    expect(b.ledger.balance(card!.cardholderId)).toBe(hqBalance);
    a.ledger.close();
    b.ledger.close();
  });

  it('refuses unregistered, tampered, replayed and revoked requests with 401 and changes nothing', async () => {
    const t = await terminal({ register: false });
    await expect(t.agent.register('WRONGCODE1')).rejects.toThrow(/401/);
    const code = await hq.service.createRegistrationCode('store-1');
    await t.agent.register(code);
    const other = await terminal({ register: false });
    await expect(other.agent.register(code)).rejects.toThrow(/401/); // one-time code

    const key = loadOrCreateTerminalKey(`${t.db}.sync-key`);
    const send = async (body: string, sigBody = body, nonce = randomBytes(18).toString('base64url'), ts = new Date().toISOString(), terminalId = t.ledger.terminalId) => {
      const sig = key.sign(signatureBase('POST', '/v1/push', ts, nonce, createHash('sha256').update(sigBody).digest('hex')));
      const res = await fetch(new URL('/v1/push', hq.url), { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-terminal-id': terminalId, 'x-timestamp': ts, 'x-nonce': nonce, 'x-signature': sig } });
      return res.status;
    };
    const good = JSON.stringify({ ops: [] });
    const nonce = randomBytes(18).toString('base64url');
    expect(await send(good, good, nonce)).toBe(200);
    expect(await send(good, good, nonce)).toBe(401); // replayed
    expect(await send(JSON.stringify({ ops: [{ seq: 1, opId: 'x', kind: 'sale', payload: {}, createdAt: 'now' }] }), good)).toBe(401); // altered
    expect(await send(good, good, undefined, new Date(Date.now() - 3600_000).toISOString())).toBe(401); // stale
    expect(await send(good, good, undefined, undefined, 'no-such-terminal')).toBe(401);
    await hq.service.revoke(t.ledger.terminalId);
    expect(await send(good)).toBe(401);
    const [{ acked }] = (await hq.db.rows<{ acked: string }>(sql`SELECT acked_seq AS acked FROM terminals WHERE terminal_id = ${t.ledger.terminalId}`)) as [{ acked: string }];
    expect(Number(acked)).toBe(0);
    t.ledger.close();
    other.ledger.close();
  });

  it('two terminals use one card while both are offline; back online, both sales count once and balances converge', async () => {
    const { seedHqDemo } = await import('../hq/demo');
    await seedHqDemo(hq.service);
    const a = await terminal();
    const b = await terminal();
    await a.agent.syncOnce();
    await b.agent.syncOnce();
    const number = '7789000000027';
    // Offline: HQ cannot be reached (nothing listens on that port).
    for (const t of [a, b]) {
      const offline = new SyncAgent(t.ledger, { hqUrl: 'http://127.0.0.1:9/', keyFile: `${t.db}.sync-key`, timeoutMs: 500 });
      await expect(offline.syncOnce()).rejects.toThrow(/unreachable/);
      expect(offline.status()).toMatchObject({ online: false, pendingOperations: 0 });
    }
    sell(a.ledger, number);
    sell(b.ledger, number);
    sell(a.ledger, number, 50);
    sell(b.ledger, number, 50);
    const holder = a.ledger.findCard({ number })!.cardholderId;
    expect(b.ledger.findCard({ number })!.cardholderId).toBe(holder);
    const entries = (ledger: Ledger) => ledger.sqlite.prepare('SELECT coalesce(sum(points), 0) FROM point_entries WHERE cardholder_id = ?').pluck().get(holder) as number;
    for (const t of [a, b]) expect(t.ledger.balance(holder)).toBe(entries(t.ledger)); // offline, each knows only its own sales
    // Online again.
    for (const t of [a, b, a]) await t.agent.syncOnce();
    const hqBalance = (await hq.service.balances()).get(holder)!;
    expect(hqBalance).toBe(entries(a.ledger) + entries(b.ledger));
    expect(a.ledger.balance(holder)).toBe(hqBalance);
    expect(b.ledger.balance(holder)).toBe(hqBalance);
    const [{ n }] = (await hq.db.rows<{ n: string }>(sql`SELECT count(*) AS n FROM receipts WHERE cardholder_id = ${holder}`)) as [{ n: string }];
    expect(Number(n)).toBe(4);
    a.ledger.close();
    b.ledger.close();
  });
});
