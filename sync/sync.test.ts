// Terminal ↔ HQ over real HTTP, on embedded PostgreSQL (or the real server with DATABASE_URL).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import type { Ledger } from '../db/ledger';
import { priceBasket, validateProgram } from '../engine';
import { sql } from '../hq/db';
import { welcomesPerPerson } from '../hq/testing';
import { assignRfmSegments } from '../hq/figures';
import { SyncStore } from './store';
import { loadOrCreateTerminalKey } from './keys';
import { signatureBase } from '../protocol/sync';
import { SyncAgent } from './agent';
import { HqClient } from './client';
import { adjustPoints, anonymize, blockCard, mergeCardholders, replaceCard } from '../db/admin';
import { burnInactive, expireLots } from '../db/jobs';
import { demoProgram as checked, syncTestbed, type TestTerminal } from './testkit';

const welcomePoints = checked.program.welcome!.points;
const basket = { lines: [{ sku: 'COFFEE-250', name: 'Кофе', category: 'grocery', qty: 2, unitPrice: 45900 }] };
const bed = syncTestbed();
const terminal = (opts: { register?: boolean } = {}) => bed.terminal(opts);

function sell(ledger: Ledger, number: string, redeem = 0, now = new Date().toISOString()) {
  const card = ledger.findCard({ number })!;
  return ledger.commitSale({ card, priced: priceBasket(checked.program, checked.hash, ledger.cardState(card), basket, { now, redeemPoints: redeem }), now });
}

/** HQ's per-store day sums, kept up at ingest, equal the same sums over the rows themselves. */
async function expectStoreDaysTrue() {
  const nonZero = sql`WHERE receipts <> 0 OR earned <> 0 OR redeemed <> 0 OR burned <> 0 ORDER BY store_id, day`;
  const kept = await bed.hq.db.rows(sql`SELECT * FROM store_days ${nonZero}`);
  expect(kept.length).toBeGreaterThan(0);
  expect(kept).toEqual(await bed.hq.db.rows(sql`SELECT * FROM store_day_facts('-infinity', 'infinity') ${nonZero}`));
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
    await expectStoreDaysTrue(); // the retried round added nothing to them either
    const [{ n }] = (await bed.hq.db.rows<{ n: string }>(sql`SELECT count(*) AS n FROM receipts WHERE terminal_id = ${t.ledger.terminalId}`)) as [{ n: string }];
    expect(Number(n)).toBe(5);
    const holder = t.ledger.findCard({ number: '7789000000050' })!.cardholderId;
    expect((await bed.hq.service.balances()).get(holder)).toBe(t.ledger.balance(holder));
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
    const hqBalance = (await bed.hq.service.balances()).get(card!.cardholderId)!;
    expect(hqBalance).toBeGreaterThan(0);
    expect(b.ledger.balance(card!.cardholderId)).toBe(hqBalance);
    a.ledger.close();
    b.ledger.close();
  });

  it('card operations, returns and adjustments reach HQ and the other terminals; balances agree everywhere', async () => {
    const a = await terminal();
    const b = await terminal();
    const now = () => new Date().toISOString();
    const who = { userId: 'admin', reason: 'тест синхронизации' };
    const keep = a.ledger.enroll({ holder: { surname: 'Сидорова', firstName: 'Вера', phone: '+79161110001' }, cardNumber: '7789000001017', now: now(), consentPd: true })!;
    const dup = a.ledger.enroll({ holder: { surname: 'Сидорова', firstName: 'Вера', phone: '+79161110002' }, cardNumber: '7789000001025', now: now(), consentPd: true })!;
    const sale = sell(a.ledger, keep.number);
    sell(a.ledger, dup.number);
    a.ledger.commitReturn({ originalReceiptId: sale.receiptId, lines: [{ lineNo: 1, qty: 1 }], now: now() });
    expect((await a.agent.syncOnce()).pushed).toBe(5);
    await b.agent.syncOnce(); // b knows both cardholders before the admin's changes
    expect(b.ledger.findCard({ phone: '+79161110001' })?.cardholderId).toBe(keep.cardholderId);
    adjustPoints(a.ledger, who, keep.cardholderId, 25, now());
    mergeCardholders(a.ledger, who, keep.cardholderId, dup.cardholderId, now());
    const replacement = replaceCard(a.ledger, who, keep.cardId, '7789000001033', null, now());
    blockCard(a.ledger, who, replacement.cardId, now());
    anonymize(a.ledger, who, keep.cardholderId, now());
    a.ledger.recordNps({ receiptId: sale.receiptId, score: 9, comment: 'всё отлично', now: now() });
    const pushed = await a.agent.syncOnce();
    expect(pushed.pushed).toBe(6);
    const [answer] = await bed.hq.db.rows<{ score: number; store_id: string }>(sql`SELECT score, store_id FROM nps WHERE terminal_id = ${a.ledger.terminalId}`);
    expect(answer).toMatchObject({ score: 9, store_id: 'store-1' });
    const rejected = await bed.hq.db.rows(sql`SELECT reason FROM operations WHERE terminal_id = ${a.ledger.terminalId} AND status = 'rejected'`);
    expect(rejected).toEqual([]);
    const hqBalances = await bed.hq.service.balances();
    expect(hqBalances.get(keep.cardholderId)).toBe(a.ledger.balance(keep.cardholderId));
    expect(hqBalances.get(dup.cardholderId) ?? 0).toBe(0);
    const [merged] = await bed.hq.db.rows<{ merged_into: string; holder: unknown }>(sql`SELECT merged_into, holder FROM cardholders WHERE cardholder_id = ${dup.cardholderId}`);
    expect(merged!.merged_into).toBe(keep.cardholderId);
    const [kept] = await bed.hq.db.rows<{ purchase_count: number }>(sql`SELECT purchase_count FROM balances WHERE cardholder_id = ${keep.cardholderId}`);
    expect(Number(kept!.purchase_count)).toBe(2);

    await b.agent.syncOnce();
    expect(b.ledger.findCard({ number: keep.number })?.status).toBe('replaced');
    expect(b.ledger.findCard({ number: '7789000001033' })?.status).toBe('blocked');
    const moved = b.ledger.findCard({ number: dup.number })!;
    expect(moved.cardholderId).toBe(keep.cardholderId);
    expect(moved.holder).toEqual({}); // anonymized at HQ, so here too
    expect(b.ledger.findCard({ phone: '+79161110001' })).toBeNull();
    expect(b.ledger.balance(keep.cardholderId)).toBe(a.ledger.balance(keep.cardholderId));
    await expectStoreDaysTrue(); // with a return, an adjustment and a merge's transfers among the rows
    a.ledger.close();
    b.ledger.close();
  });

  it('a cardholder\'s purchases on other terminals count here: the cumulative tier, one welcome bonus, repeat purchases, returns too', async () => {
    const a = await terminal();
    const b = await terminal();
    const x = a.ledger.enroll({ holder: { firstName: 'Ева', phone: '+79161110061' }, cardNumber: '7789000004011', now: new Date().toISOString(), consentPd: true })!;
    const first = sell(a.ledger, x.number, 0, new Date(Date.now() - 60_000).toISOString()); // the first purchase: the welcome bonus
    const second = sell(a.ledger, x.number);
    const stateAt = (t: { ledger: Ledger }) => t.ledger.cardState(t.ledger.findCard({ number: x.number })!);
    // When the coffee was last bought (repeat-purchase discounts), and when each sale was made.
    const coffeeAt = (t: { ledger: Ledger }) => t.ledger.cardState(t.ledger.findCard({ number: x.number })!, { todayFrom: null, bought: { since: '2000-01-01T00:00:00.000Z', skus: ['COFFEE-250'] } }).lastBought;
    const madeAt = (t: { ledger: Ledger }, sale: { receiptId: string }) => ({ 'COFFEE-250': t.ledger.receipt(sale.receiptId)!.createdAt });
    expect(b.ledger.findCard({ number: x.number })).toBeNull(); // b has not heard of the card yet
    await a.agent.syncOnce();
    await b.agent.syncOnce();
    expect(stateAt(b)).toMatchObject({ purchaseCount: 2, lifetimeSpend: stateAt(a).lifetimeSpend, firstPurchase: false });
    const priced = priceBasket(checked.program, checked.hash, stateAt(b), basket, { now: new Date().toISOString() });
    expect(priced.earnLots.map((l) => l.source)).not.toContain('welcome');
    expect(priced.lines[0]!.reasons.map((r) => r.ru).join()).toMatch(/3-я покупка/);
    expect(coffeeAt(b)).toEqual(madeAt(a, second));
    // A return at a counts against the spend at b, and the coffee it took back was not bought; a
    // sale at b counts at a.
    a.ledger.commitReturn({ originalReceiptId: second.receiptId, lines: [{ lineNo: 1, qty: 2 }], now: new Date().toISOString() });
    for (const t of [a, b]) await t.agent.syncOnce();
    expect(coffeeAt(b)).toEqual(madeAt(a, first));
    const third = sell(b.ledger, x.number);
    for (const t of [a, b, a]) await t.agent.syncOnce();
    expect(stateAt(a)).toMatchObject({ purchaseCount: 3, lifetimeSpend: stateAt(b).lifetimeSpend });
    expect(coffeeAt(a)).toEqual(madeAt(b, third));
    const [hq] = await bed.hq.db.rows<{ lifetime_spend: string; purchase_count: number }>(sql`SELECT lifetime_spend, purchase_count FROM balances WHERE cardholder_id = ${x.cardholderId}`);
    expect([Number(hq!.lifetime_spend), Number(hq!.purchase_count)]).toEqual([stateAt(a).lifetimeSpend, 3]);
    // Pulled a few items at a time, the feed gives the same purchases as in one page, each once.
    const caller = { terminalId: b.ledger.terminalId, storeId: 'store-1' };
    const whole = await bed.hq.service.pull(caller, 0, 100_000);
    const paged: unknown[] = [];
    for (let cursor = 0, more = true; more; ) {
      const page = await bed.hq.service.pull(caller, cursor, 2);
      paged.push(...(page.purchases ?? []));
      ({ cursor, more } = page);
    }
    expect(whole.purchases!.length).toBeGreaterThanOrEqual(2);
    expect(paged).toEqual(whole.purchases);
    for (const t of [a, b]) expect(t.ledger.verify().ok).toBe(true);
    a.ledger.close();
    b.ledger.close();
  });

  it('one welcome bonus per person: a card\'s first purchase on two terminals before they hear of each other', async () => {
    const a = await terminal();
    const b = await terminal();
    const c = await terminal();
    const x = a.ledger.enroll({ holder: { firstName: 'Вера', phone: '+79161110072' }, cardNumber: '7789000004029', now: new Date().toISOString(), consentPd: true })!;
    const y = a.ledger.enroll({ holder: { firstName: 'Нина', phone: '+79161110073' }, cardNumber: '7789000004037', now: new Date().toISOString(), consentPd: true })!;
    await a.agent.syncOnce();
    for (const t of [b, c]) await t.agent.syncOnce(); // b and c know both cards, and of no purchase on them
    const welcomeOf = (t: { ledger: Ledger }, holder: string) => t.ledger.sqlite.prepare("SELECT id FROM point_entries WHERE kind = 'welcome' AND cardholder_id = ?").pluck().get(holder) as string | undefined;
    sell(a.ledger, x.number);
    sell(b.ledger, x.number);
    expect(welcomeOf(a, x.cardholderId)).toBeDefined();
    expect(welcomeOf(b, x.cardholderId)).toBeDefined();
    // y: c's welcome lot expires at c (and is written off there) before c is back online.
    sell(c.ledger, y.number);
    sell(b.ledger, y.number);
    const later = new Date(Date.now() + 2 * 366 * 86_400_000).toISOString();
    expect(expireLots(c.ledger, later).expiredPoints).toBeGreaterThanOrEqual(welcomePoints);

    for (const t of [b, a, c, b, a]) await t.agent.syncOnce(); // b's sales reach HQ first
    const own = (t: { ledger: Ledger }, holder: string) => t.ledger.sqlite.prepare('SELECT coalesce(sum(points), 0) FROM point_entries WHERE cardholder_id = ?').pluck().get(holder) as number;
    const hqBalances = await bed.hq.service.balances();
    // x: HQ keeps b's welcome and takes a's back, on a's lot; every terminal shows it.
    const taken = await bed.hq.db.rows<{ lot_id: string; points: number }>(sql`SELECT lot_id, points FROM point_entries WHERE terminal_id = 'hq' AND kind = 'reverse' AND cardholder_id = ${x.cardholderId}`);
    expect(taken).toEqual([{ lot_id: welcomeOf(a, x.cardholderId), points: -welcomePoints }]);
    expect(hqBalances.get(x.cardholderId)).toBe(own(a, x.cardholderId) + own(b, x.cardholderId) - welcomePoints);
    // y: c's welcome had expired at c already: HQ took it back with c's sale and gave it back when
    // the expiry (the next operation in c's batch) arrived; nothing of it is taken twice.
    expect(hqBalances.get(y.cardholderId)).toBe(own(c, y.cardholderId) + own(b, y.cardholderId));
    const settled = await bed.hq.db.rows<{ id: string; lot_id: string; points: number }>(sql`SELECT id, lot_id, points FROM point_entries WHERE terminal_id = 'hq' AND kind = 'reverse' AND cardholder_id = ${y.cardholderId} ORDER BY hq_seq`);
    const cWelcome = welcomeOf(c, y.cardholderId)!;
    expect(settled).toEqual([
      { id: `w-${cWelcome}`, lot_id: cWelcome, points: -welcomePoints },
      { id: `w-${cWelcome}.1`, lot_id: cWelcome, points: welcomePoints },
    ]);
    const welcomes = await welcomesPerPerson(bed.hq.db);
    expect(welcomes.get(x.cardholderId)).toEqual({ given: 2, taken: welcomePoints });
    expect(welcomes.get(y.cardholderId)).toEqual({ given: 2, taken: 0 });
    for (const t of [a, b, c]) {
      for (const holder of [x.cardholderId, y.cardholderId]) expect(t.ledger.balance(holder)).toBe(hqBalances.get(holder));
      expect(t.ledger.lots(x.cardholderId).map((l) => l.lotId)).not.toContain(welcomeOf(a, x.cardholderId)); // nothing left of it to spend
      expect(t.ledger.verify().ok).toBe(true);
    }
    // Another round, and the same sales offered again, take nothing more back.
    for (const t of [a, b, c]) await t.agent.syncOnce();
    const { payloadJson, ...sale } = new SyncStore(a.ledger).pending(1000, 0).find((o) => o.kind === 'sale')!;
    const replay = await bed.hq.service.push({ terminalId: a.ledger.terminalId, storeId: 'store-1' }, [{ ...sale, payload: JSON.parse(payloadJson.toString()) }]);
    expect(replay.results).toEqual([{ seq: sale.seq, status: 'duplicate' }]);
    expect(await bed.hq.service.balances()).toEqual(hqBalances);
    expect((await welcomesPerPerson(bed.hq.db)).get(x.cardholderId)).toEqual({ given: 2, taken: welcomePoints });
    for (const t of [a, b, c]) t.ledger.close();
  });

  it('one welcome bonus per person when a terminal merges two cardholders who each had one: HQ takes the later back on its copy', async () => {
    const a = await terminal();
    const b = await terminal();
    const now = () => new Date().toISOString();
    const keep = a.ledger.enroll({ holder: { firstName: 'Лидия', phone: '+79161110081' }, cardNumber: '7789000004045', now: now(), consentPd: true })!;
    const dup = a.ledger.enroll({ holder: { firstName: 'Лидия' }, cardNumber: '7789000004052', now: now(), consentPd: true })!;
    sell(a.ledger, keep.number);
    sell(a.ledger, dup.number); // a second welcome bonus for the same person
    await a.agent.syncOnce();
    mergeCardholders(a.ledger, { userId: 'admin', reason: 'одна клиентка, две анкеты' }, keep.cardholderId, dup.cardholderId, now());
    const dupWelcome = a.ledger.sqlite.prepare("SELECT id FROM point_entries WHERE kind = 'welcome' AND cardholder_id = ?").pluck().get(dup.cardholderId) as string;
    // The merge closed dup's welcome lot with a transfer draw and opened its copy on keep, next in a's chain.
    const copy = a.ledger.sqlite
      .prepare("SELECT c.id FROM point_entries t JOIN point_entries c ON c.chain_seq = t.chain_seq + 1 WHERE t.lot_id = ? AND t.kind = 'transfer' AND t.points < 0")
      .pluck()
      .get(dupWelcome) as string;
    expect(copy).toBeDefined();
    for (const t of [a, b, a]) await t.agent.syncOnce();
    const taken = await bed.hq.db.rows<{ id: string; lot_id: string; points: number }>(sql`SELECT id, lot_id, points FROM point_entries WHERE terminal_id = 'hq' AND kind = 'reverse' AND cardholder_id = ${keep.cardholderId}`);
    expect(taken).toEqual([{ id: `w-${dupWelcome}`, lot_id: copy, points: -welcomePoints }]);
    expect((await welcomesPerPerson(bed.hq.db)).get(keep.cardholderId)).toEqual({ given: 2, taken: welcomePoints });
    const hqBalances = await bed.hq.service.balances();
    expect(hqBalances.get(dup.cardholderId) ?? 0).toBe(0);
    for (const t of [a, b]) {
      expect(t.ledger.balance(keep.cardholderId)).toBe(hqBalances.get(keep.cardholderId));
      expect(t.ledger.lots(keep.cardholderId).map((l) => l.lotId)).not.toContain(copy); // nothing left of it to spend
      expect(t.ledger.verify().ok).toBe(true);
    }
    // Another round takes nothing more back.
    for (const t of [a, b]) await t.agent.syncOnce();
    expect(await bed.hq.service.balances()).toEqual(hqBalances);
    a.ledger.close();
    b.ledger.close();
  });

  it('a sale returned after another terminal merged its cardholder away: the points come off the lots that merge moved', async () => {
    const a = await terminal();
    const b = await terminal();
    const now = () => new Date().toISOString();
    const who = { userId: 'admin', reason: 'дубль' };
    const keep = a.ledger.enroll({ holder: { firstName: 'Нина', phone: '+79161110051' }, cardNumber: '7789000003013', now: now(), consentPd: true })!;
    const dup = a.ledger.enroll({ holder: { firstName: 'Нина', phone: '+79161110052' }, cardNumber: '7789000003021', now: now(), consentPd: true })!;
    sell(a.ledger, dup.number);
    const sale = sell(a.ledger, dup.number);
    await a.agent.syncOnce();
    await b.agent.syncOnce();
    // The store admin at b merges the two; a hears of it through HQ, then takes the sale back.
    mergeCardholders(b.ledger, who, keep.cardholderId, dup.cardholderId, now());
    await b.agent.syncOnce();
    await a.agent.syncOnce();
    expect(a.ledger.findCard({ number: dup.number })?.cardholderId).toBe(keep.cardholderId);
    const before = a.ledger.balance(keep.cardholderId);
    const ret = a.ledger.commitReturn({ originalReceiptId: sale.receiptId, lines: [{ lineNo: 1, qty: 2 }], now: now() });
    expect(ret.priced.totals.pointsTakenBack).toBeGreaterThan(0);
    expect(a.ledger.balance(keep.cardholderId)).toBe(before - ret.priced.totals.pointsTakenBack);
    expect(a.ledger.balance(dup.cardholderId)).toBe(0); // nothing owed by a cardholder no card reaches
    // The copies b opened lost what was taken back: no lot is left below zero (a draw on the
    // emptied lot of the duplicate would be, and would outlive the copy when it expires).
    expect(a.ledger.lots(keep.cardholderId).every((l) => l.points > 0)).toBe(true);
    await a.agent.syncOnce();
    await b.agent.syncOnce();
    const hq = await bed.hq.service.balances();
    expect(hq.get(dup.cardholderId) ?? 0).toBe(0);
    for (const t of [a, b]) {
      expect(t.ledger.balance(keep.cardholderId)).toBe(hq.get(keep.cardholderId));
      expect(t.ledger.verify().ok).toBe(true);
    }
    a.ledger.close();
    b.ledger.close();
  });

  it('one person enrolled offline on two terminals with one phone: HQ merges them and every terminal shows one balance', async () => {
    const a = await terminal();
    const b = await terminal();
    const phone = '+79265550000';
    const first = a.ledger.enroll({ holder: { firstName: 'Лидия', phone }, cardNumber: '7789000002015', now: new Date(Date.now() - 60_000).toISOString(), consentPd: true })!;
    const second = b.ledger.enroll({ holder: { firstName: 'Лидия', surname: 'Котова', phone }, cardNumber: '7789000002023', now: new Date().toISOString(), consentPd: true })!;
    expect(first.cardholderId).not.toBe(second.cardholderId); // ids minted offline never collide
    sell(a.ledger, first.number);
    sell(b.ledger, second.number);
    sell(b.ledger, second.number);
    await a.agent.syncOnce();
    await b.agent.syncOnce();
    sell(b.ledger, second.number); // b still sells on its card before it hears of the merge
    await b.agent.syncOnce();
    await a.agent.syncOnce();
    await b.agent.syncOnce();

    const [dup] = await bed.hq.db.rows<{ merged_into: string }>(sql`SELECT merged_into FROM cardholders WHERE cardholder_id = ${second.cardholderId}`);
    expect(dup!.merged_into).toBe(first.cardholderId);
    const hqBalances = await bed.hq.service.balances();
    const [{ total }] = (await bed.hq.db.rows<{ total: string }>(sql`SELECT sum(points) AS total FROM point_entries WHERE terminal_id <> 'hq' AND cardholder_id IN (${first.cardholderId}, ${second.cardholderId})`)) as [{ total: string }];
    // Everything the two terminals wrote, but one welcome bonus: each gave one on its first sale;
    // a's reached HQ first, so HQ took b's back, from its copy on the cardholder kept.
    expect(hqBalances.get(first.cardholderId)).toBe(Number(total) - welcomePoints);
    expect((await welcomesPerPerson(bed.hq.db)).get(first.cardholderId)).toEqual({ given: 2, taken: welcomePoints });
    const taken = await bed.hq.db.rows<{ cardholder_id: string; lot_id: string; points: number }>(sql`SELECT cardholder_id, lot_id, points FROM point_entries WHERE terminal_id = 'hq' AND kind = 'reverse' AND cardholder_id IN (${first.cardholderId}, ${second.cardholderId})`);
    const bWelcome = b.ledger.sqlite.prepare("SELECT id FROM point_entries WHERE kind = 'welcome'").pluck().get() as string;
    expect(taken).toEqual([{ cardholder_id: first.cardholderId, lot_id: `m+${bWelcome}`, points: -welcomePoints }]);
    expect(hqBalances.get(second.cardholderId) ?? 0).toBe(0);
    const [kept] = await bed.hq.db.rows<{ purchase_count: number }>(sql`SELECT purchase_count FROM balances WHERE cardholder_id = ${first.cardholderId}`);
    expect(Number(kept!.purchase_count)).toBe(4);
    for (const t of [a, b]) {
      for (const number of [first.number, second.number]) {
        const card = t.ledger.findCard({ number })!;
        expect(card.cardholderId).toBe(first.cardholderId);
        expect(t.ledger.balance(card.cardholderId)).toBe(hqBalances.get(first.cardholderId));
        expect(t.ledger.cardState(card).purchaseCount).toBe(4); // the two histories, as at HQ
      }
      expect(t.ledger.findCard({ phone })?.cardholderId).toBe(first.cardholderId);
      expect(t.ledger.verify().ok).toBe(true);
    }

    // b opened the duplicate's lots, and HQ moved them to the kept cardholder: when their dates
    // pass, b expires the moved copies with the lots it opened since, and HQ and a see the points go.
    const sumOf = async (terminalId: string, cardholderId: string) =>
      Number(((await bed.hq.db.rows<{ s: string }>(sql`SELECT coalesce(sum(points), 0) AS s FROM point_entries WHERE terminal_id = ${terminalId} AND cardholder_id = ${cardholderId}`)) as [{ s: string }])[0].s);
    const movedFromB = await sumOf(b.ledger.terminalId, second.cardholderId);
    expect(movedFromB).toBeGreaterThan(0);
    const earnedAtB = movedFromB + (await sumOf(b.ledger.terminalId, first.cardholderId));
    const later = new Date(Date.now() + 2 * 366 * 86_400_000).toISOString();
    expect(expireLots(b.ledger, later).expiredPoints).toBe(earnedAtB - welcomePoints); // HQ took b's welcome lot back: nothing of it is left to expire
    expect(expireLots(b.ledger, later).expiredPoints).toBe(0);
    await b.agent.syncOnce();
    await a.agent.syncOnce();
    const afterExpiry = (await bed.hq.service.balances()).get(first.cardholderId);
    expect(afterExpiry).toBe(await sumOf(a.ledger.terminalId, first.cardholderId)); // what a wrote is all that is left
    for (const t of [a, b]) {
      expect(t.ledger.balance(first.cardholderId)).toBe(afterExpiry);
      expect(t.ledger.verify().ok).toBe(true);
    }
    a.ledger.close();
    b.ledger.close();
  });

  describe('a burn on one terminal that a purchase on another, with a merge between, shows to be wrong', () => {
    const DAY = 86_400_000;
    /** Two terminals, and the times from ten days ago. */
    async function tillsTenDaysBack() {
      const t0 = Date.now() - 10 * DAY;
      return { a: await terminal(), b: await terminal(), at: (ms: number) => new Date(t0 + ms).toISOString() };
    }
    /** The burn entries HQ has of the two cardholders: the terminal's, and HQ's giving them back. */
    const burnsAtHq = (...cardholderIds: string[]) =>
      bed.hq.db.rows<{ by: string; points: number }>(
        sql`SELECT CASE WHEN terminal_id = 'hq' THEN 'hq' ELSE 'terminal' END AS by, sum(points)::int AS points FROM point_entries
            WHERE cardholder_id IN (${sql.join(cardholderIds.map((id) => sql`${id}`), sql`, `)}) AND kind = 'burn' GROUP BY 1 ORDER BY 1`,
      );
    /** HQ's points burned in all, as its figures keep them (a burn given back counts as none). */
    const burnedAtHq = async () => Number(((await bed.hq.db.rows<{ b: string }>(sql`SELECT coalesce(sum(burned), 0) AS b FROM store_days`)) as [{ b: string }])[0].b);
    /**
     * b has sold on the kept cardholder's card on day 5, and a, not knowing (and with the sale at
     * HQ first if `saleFirst`), burns on day 6 with a three-day limit; then all sync. HQ gives back
     * all a burned, and its figures count no burn. What a burned is returned.
     */
    async function burnShownWrong(a: TestTerminal, b: TestTerminal, at: (ms: number) => string, cardholderIds: string[], saleFirst = false) {
      const burnedBefore = await burnedAtHq();
      if (saleFirst) await b.agent.syncOnce();
      const burned = burnInactive(a.ledger, 3, at(6 * DAY)).burnedPoints;
      expect(burned).toBeGreaterThan(0);
      for (const t of [a, b, a, b]) await t.agent.syncOnce();
      expect(await burnsAtHq(...cardholderIds)).toEqual([{ by: 'hq', points: burned }, { by: 'terminal', points: -burned }]);
      expect(await burnedAtHq()).toBe(burnedBefore);
      await expectStoreDaysTrue();
      return burned;
    }
    /** The cardholder's balance at HQ, the same on each terminal (each verifies); the terminals are closed. */
    async function oneBalance(cardholderId: string, tills: TestTerminal[]) {
      const balance = (await bed.hq.service.balances()).get(cardholderId);
      for (const t of tills) {
        expect(t.ledger.balance(cardholderId)).toBe(balance);
        expect(t.ledger.verify().ok).toBe(true);
        t.ledger.close();
      }
      return balance;
    }

    const cardsOf = [['7789000009010', '7789000009028'], ['7789000009036', '7789000009044']];
    for (const [i, first] of (['the burn', 'the sale'] as const).entries())
      it(`a burn of the cardholder HQ kept, and a sale on the duplicate's card made before its terminal heard of anything (${first} reaching HQ first): HQ gives it all back`, async () => {
        const { a, b, at } = await tillsTenDaysBack();
        const phone = `+7926555007${i}`;
        const kept = a.ledger.enroll({ holder: { firstName: 'Нина', phone }, cardNumber: cardsOf[i]![0]!, now: at(0), consentPd: true })!;
        const dup = b.ledger.enroll({ holder: { firstName: 'Нина', surname: 'Орлова', phone }, cardNumber: cardsOf[i]![1]!, now: at(60_000), consentPd: true })!;
        sell(a.ledger, kept.number, 0, at(120_000));
        await a.agent.syncOnce();
        sell(b.ledger, dup.number, 0, at(5 * DAY));
        await burnShownWrong(a, b, at, [kept.cardholderId, dup.cardholderId], first === 'the sale'); // a sees no purchase since day 0
        const [merged] = await bed.hq.db.rows<{ merged_into: string }>(sql`SELECT merged_into FROM cardholders WHERE cardholder_id = ${dup.cardholderId}`);
        expect(merged!.merged_into).toBe(kept.cardholderId);
        // As if a had not burned: all the terminals wrote but the burn, less b's welcome bonus (a's came first).
        const [{ written }] = (await bed.hq.db.rows<{ written: number }>(
          sql`SELECT sum(points)::int AS written FROM point_entries WHERE cardholder_id IN (${kept.cardholderId}, ${dup.cardholderId}) AND terminal_id <> 'hq' AND kind <> 'burn'`,
        )) as [{ written: number }];
        expect(await oneBalance(kept.cardholderId, [a, b])).toBe(written - welcomePoints);
      });

    it('a burn of the copy HQ made of a merged duplicate\'s lot, and a sale on the kept card the burning terminal had not heard of: HQ gives it back', async () => {
      const { a, b, at } = await tillsTenDaysBack();
      const phone = '+79265550079';
      const kept = b.ledger.enroll({ holder: { firstName: 'Вера', phone }, cardNumber: '7789000009051', now: at(0), consentPd: true })!;
      const dup = a.ledger.enroll({ holder: { firstName: 'Вера', surname: 'Лесная', phone }, cardNumber: '7789000009069', now: at(60_000), consentPd: true })!;
      sell(a.ledger, dup.number, 0, at(120_000));
      for (const t of [b, a, b, a]) await t.agent.syncOnce(); // HQ merges dup into kept, and a has the copies of its lots on kept
      expect(a.ledger.findCard({ number: dup.number })!.cardholderId).toBe(kept.cardholderId);
      sell(b.ledger, kept.number, 0, at(5 * DAY));
      const burned = await burnShownWrong(a, b, at, [kept.cardholderId, dup.cardholderId]);
      // What a burned was the copies of the lots it opened.
      expect(a.ledger.sqlite.prepare("SELECT -sum(points) FROM point_entries WHERE kind = 'burn' AND lot_id LIKE 'm+%'").pluck().get()).toBe(burned);
      await oneBalance(kept.cardholderId, [a, b]);
    });

    it('a burn of the copy a terminal\'s own merge opened, and a sale on the kept card it had not heard of: HQ gives it back', async () => {
      const { a, b, at } = await tillsTenDaysBack();
      const who = { userId: 'admin', reason: 'одна клиентка, две анкеты' };
      const kept = a.ledger.enroll({ holder: { firstName: 'Ия', phone: '+79265550081' }, cardNumber: '7789000009077', now: at(0), consentPd: true })!;
      const dup = a.ledger.enroll({ holder: { firstName: 'Ия', phone: '+79265550082' }, cardNumber: '7789000009085', now: at(60_000), consentPd: true })!;
      sell(a.ledger, dup.number, 0, at(120_000));
      mergeCardholders(a.ledger, who, kept.cardholderId, dup.cardholderId, at(180_000)); // the lots move to copies on kept, opened next in a's chain
      for (const t of [a, b]) await t.agent.syncOnce();
      sell(b.ledger, kept.number, 0, at(5 * DAY));
      const burned = await burnShownWrong(a, b, at, [kept.cardholderId, dup.cardholderId]);
      // What a burned was the copies its merge opened.
      expect(a.ledger.sqlite.prepare("SELECT -sum(b.points) FROM point_entries b JOIN point_entries o ON o.id = b.lot_id WHERE b.kind = 'burn' AND o.kind = 'transfer'").pluck().get()).toBe(burned);
      await oneBalance(kept.cardholderId, [a, b]);
    });
  });

  it('HQ writes RFM segments into the profiles; terminals price with them (a segment offer)', async () => {
    const t = await terminal();
    const now = () => new Date().toISOString();
    const x = t.ledger.enroll({ holder: { firstName: 'Рита', phone: '+79165550101' }, cardNumber: '7789000007014', now: now(), consentPd: true })!;
    const y = t.ledger.enroll({ holder: { firstName: 'Лев', phone: '+79165550102' }, cardNumber: '7789000007022', now: now(), consentPd: true })!;
    const since = now(); // only these sales are in the period
    sell(t.ledger, y.number);
    sell(t.ledger, x.number);
    sell(t.ledger, x.number); // x bought last and more often
    await t.agent.syncOnce();
    expect(await assignRfmSegments(bed.hq.db, { from: since, to: new Date(Date.now() + 60_000).toISOString() })).toBe(2);
    await t.agent.syncOnce();
    const segX = t.ledger.findCard({ number: x.number })!.holder.segments as string[];
    const segY = t.ledger.findCard({ number: y.number })!.holder.segments as string[];
    expect(segX[0]).toMatch(/^rfm:/);
    expect(segX).not.toEqual(segY);
    expect(t.ledger.findCard({ number: x.number })!.holder.firstName).toBe('Рита'); // the rest of the profile stays

    const withOffer = validateProgram({
      ...JSON.parse(readFileSync('resources/demo-program.json', 'utf8')),
      version: 2,
      discounts: [{ id: 'rfm-offer', name: 'Для лучших клиентов', type: 'offer', when: { segments: [segX[0]] }, percent: 7 }],
    });
    if (!withOffer.ok) throw new Error(JSON.stringify(withOffer.errors));
    const price = (number: string) => priceBasket(withOffer.program, withOffer.hash, t.ledger.cardState(t.ledger.findCard({ number })!), basket, { now: now() });
    expect(price(x.number).totals.discount).toBeGreaterThan(0);
    expect(price(y.number).totals.discount).toBe(0);
    t.ledger.close();
  });

  it('refuses unregistered, tampered, replayed and revoked requests with 401 and changes nothing', async () => {
    const t = await terminal({ register: false });
    await expect(t.agent.register('WRONGCODE1')).rejects.toThrow(/401/);
    const code = await bed.hq.service.createRegistrationCode('store-1');
    await t.agent.register(code);
    const other = await terminal({ register: false });
    await expect(other.agent.register(code)).rejects.toThrow(/401/); // one-time code

    const key = loadOrCreateTerminalKey(`${t.db}.sync-key`);
    const send = async (body: string, sigBody = body, nonce = randomBytes(18).toString('base64url'), ts = new Date().toISOString(), terminalId = t.ledger.terminalId) => {
      const sig = key.sign(signatureBase('POST', '/v1/push', ts, nonce, createHash('sha256').update(sigBody).digest('hex')));
      const res = await fetch(new URL('/v1/push', bed.hq.url), { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-terminal-id': terminalId, 'x-timestamp': ts, 'x-nonce': nonce, 'x-signature': sig } });
      return res.status;
    };
    const good = JSON.stringify({ ops: [] });
    const nonce = randomBytes(18).toString('base64url');
    expect(await send(good, good, nonce)).toBe(200);
    expect(await send(good, good, nonce)).toBe(401); // replayed
    expect(await send(JSON.stringify({ ops: [{ seq: 1, opId: 'x', kind: 'sale', payload: {}, createdAt: 'now' }] }), good)).toBe(401); // altered
    expect(await send(good, good, undefined, new Date(Date.now() - 3600_000).toISOString())).toBe(401); // stale
    expect(await send(good, good, undefined, undefined, 'no-such-terminal')).toBe(401);
    await bed.hq.service.revoke(t.ledger.terminalId);
    expect(await send(good)).toBe(401);
    const [{ acked }] = (await bed.hq.db.rows<{ acked: string }>(sql`SELECT acked_seq AS acked FROM terminals WHERE terminal_id = ${t.ledger.terminalId}`)) as [{ acked: string }];
    expect(Number(acked)).toBe(0);
    t.ledger.close();
    other.ledger.close();
  });

  it('two terminals use one card while both are offline; back online, both sales count once and balances converge', async () => {
    const { seedHqDemo } = await import('../hq/demo');
    await seedHqDemo(bed.hq.service);
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
    const hqBalance = (await bed.hq.service.balances()).get(holder)!;
    // Both gave the welcome bonus on the card's first purchase; HQ kept the one it heard of first.
    expect(hqBalance).toBe(entries(a.ledger) + entries(b.ledger) - welcomePoints);
    expect(a.ledger.balance(holder)).toBe(hqBalance);
    expect(b.ledger.balance(holder)).toBe(hqBalance);
    const [{ n }] = (await bed.hq.db.rows<{ n: string }>(sql`SELECT count(*) AS n FROM receipts WHERE cardholder_id = ${holder}`)) as [{ n: string }];
    expect(Number(n)).toBe(4);
    await expectStoreDaysTrue(); // a demo year loaded by SQL, then offline sales with redemptions
    a.ledger.close();
    b.ledger.close();
  });

  it('a batch with a hole applies what comes before the hole and nothing after it', async () => {
    const t = await terminal();
    t.ledger.enroll({ holder: { firstName: 'Ольга' }, cardNumber: '7789000000076', now: new Date().toISOString(), consentPd: true });
    sell(t.ledger, '7789000000076');
    t.ledger.recordNps({ receiptId: null, score: 9, comment: null, now: new Date().toISOString() }); // seq 3: not chained
    sell(t.ledger, '7789000000076');
    const ops = t.agent.store.pending(10);
    const client = new HqClient(bed.hq.url, t.ledger.terminalId, loadOrCreateTerminalKey(`${t.db}.sync-key`));
    const answer = await client.push(ops.filter((op) => op.seq !== 3), 0, null);
    expect(answer.ackedThrough).toBe(2);
    expect(answer.results.map((r) => r.status)).toEqual(['applied', 'applied', 'gap']);
    // The sale after the hole would continue the chain; HQ's head must still stop before the hole.
    // The terminal's own round then sends everything: 1–2 are duplicates, 3–4 go on from there.
    await t.agent.syncOnce();
    expect(t.agent.status().pendingOperations).toBe(0);
    const [n] = await bed.hq.db.rows<{ receipts: string; refused: string }>(
      sql`SELECT (SELECT count(*) FROM receipts WHERE terminal_id = ${t.ledger.terminalId}) AS receipts, (SELECT count(*) FROM quarantine WHERE terminal_id = ${t.ledger.terminalId}) AS refused`,
    );
    expect([Number(n!.receipts), Number(n!.refused)]).toEqual([2, 0]);
  });

  it('a batch that overtakes the one before it changes nothing; the backlog still arrives exactly once', async () => {
    // A proxy that holds the first push back until two more have gone through: HQ sees batches
    // two and three before batch one (gaps), then batch one.
    let pushes = 0;
    let gapped = 0;
    let release: () => void = () => {};
    const held = new Promise<void>((r) => (release = r));
    const proxy = createServer((req, res) => {
      const body: Buffer[] = [];
      req.on('data', (c: Buffer) => body.push(c));
      req.on('end', async () => {
        const n = req.url === '/v1/push' ? ++pushes : 0;
        if (n === 1) await held;
        const answer = await fetch(new URL(req.url!, bed.hq.url), { method: req.method, headers: req.headers as Record<string, string>, body: req.method === 'POST' ? Buffer.concat(body) : undefined });
        if (n === 3) release();
        const text = Buffer.from(await answer.arrayBuffer());
        if (text.includes('"status":"gap"')) gapped++;
        res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
        res.end(text);
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const t = await terminal();
      const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/`;
      const agent = new SyncAgent(t.ledger, { hqUrl: url, keyFile: `${t.db}.sync-key` });
      t.ledger.enroll({ holder: { firstName: 'Пётр' }, cardNumber: '7789000000068', now: new Date().toISOString(), consentPd: true });
      for (let i = 0; i < 1000; i++) sell(t.ledger, '7789000000068');
      const round = await agent.syncOnce();
      expect(gapped).toBeGreaterThanOrEqual(2); // the batches sent after the held one came first and changed nothing
      expect(round.pushed).toBe(1001);
      expect(agent.status().pendingOperations).toBe(0);
      const [ops] = await bed.hq.db.rows<{ n: string; top: string }>(sql`SELECT count(*) AS n, max(seq) AS top FROM operations WHERE terminal_id = ${t.ledger.terminalId}`);
      expect([Number(ops!.n), Number(ops!.top)]).toEqual([1001, 1001]);
      const [receipts] = await bed.hq.db.rows<{ n: string }>(sql`SELECT count(*) AS n FROM receipts WHERE terminal_id = ${t.ledger.terminalId}`);
      expect(Number(receipts!.n)).toBe(1000);
      const card = t.ledger.findCard({ number: '7789000000068' })!;
      expect((await bed.hq.service.balances()).get(card.cardholderId)).toBe(t.ledger.balance(card.cardholderId));
    } finally {
      release();
      proxy.close();
    }
  });
});
