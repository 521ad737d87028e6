// Card operations, returns, scheduled jobs, users and shifts on a real SQLite ledger, priced by the
// real engine with the demo program. After every operation the ledger must still verify: the
// chain links, and every cached balance equals the sum of its entries.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ledger, ReturnRefused, type CardRecord } from './ledger';
import { adjustPoints, anonymize, auditTrail, blockCard, closeShift, createUser, issueCard, LedgerRuleError, login, mergeCardholders, openShift, replaceCard, shiftReport, unblockCard } from './admin';
import { burnInactive, expireLots, jobSlices, KEEP_BOUGHT_ELSEWHERE_DAYS, pruneBoughtElsewhere, runLedgerJobs } from './jobs';
import { Maintenance } from './maintenance';
import { seedCardNumber } from './seed';
import { readProgramFile } from '../core/program';
import { resourcePath } from '../core/resources';
import { priceBasket } from '../engine';
import { toReturnView } from '../core/till';

const dirs: string[] = [];
function tempLedger() {
  const dir = mkdtempSync(join(tmpdir(), 'ops-'));
  dirs.push(dir);
  return new Ledger({ path: join(dir, 'ledger.db') });
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const { program, hash } = readProgramFile(resourcePath('demo-program.json'));
const T0 = '2026-06-01T10:00:00.000Z';
const admin = { userId: 'admin-1', reason: 'заявление клиента' };

function enroll(ledger: Ledger, number: string, phone: string, surname = 'Иванова') {
  return ledger.enroll({ holder: { surname, firstName: 'Мария', phone }, cardNumber: number, now: T0, consentPd: true })!;
}

function sell(ledger: Ledger, card: CardRecord, lines: { sku: string; qty: number; unitPrice: number; category?: string }[], now: string, redeemPoints = 0) {
  const priced = priceBasket(program, hash, ledger.cardState(ledger.findCard({ number: card.number })!), { lines: lines.map((l) => ({ name: l.sku, category: l.category ?? 'grocery', ...l })) }, { now, redeemPoints });
  return { priced, committed: ledger.commitSale({ card, priced, now }) };
}

function expectVerified(ledger: Ledger) {
  const report = ledger.verify();
  expect(report.problems).toEqual([]);
  expect(report.ok).toBe(true);
}

/** `lots` lots, every one of the cardholder's, each expired by exactly one entry. */
function expectEachLotExpiredOnce(ledger: Ledger, cardholderId: string, lots: number) {
  expect(ledger.sqlite.prepare("SELECT count(*), count(DISTINCT lot_id) FROM point_entries WHERE kind = 'expire'").raw().get()).toEqual([lots, lots]);
  expect(ledger.balance(cardholderId)).toBe(0);
  expectVerified(ledger);
}

describe('returns', () => {
  it('two partial returns have exactly the effect of one full return, and redeemed points go back to their lot with its expiry', () => {
    const ledger = tempLedger();
    const card = enroll(ledger, '7789000000019', '+79161234567');
    sell(ledger, card, [{ sku: 'A', qty: 1, unitPrice: 200000 }], T0); // welcome + earn
    const before = ledger.balance(card.cardholderId);
    const lotsBefore = ledger.lots(card.cardholderId);
    const { priced, committed } = sell(ledger, card, [{ sku: 'B', qty: 3, unitPrice: 33333 }, { sku: 'C', qty: 2, unitPrice: 45000 }], '2026-06-02T10:00:00.000Z', 150);
    expect(priced.totals.pointsRedeemed).toBeGreaterThan(0);

    const r1 = ledger.commitReturn({ originalReceiptId: committed.receiptNumber, lines: [{ lineNo: 1, qty: 2 }], now: '2026-06-03T10:00:00.000Z' });
    const r2 = ledger.commitReturn({ originalReceiptId: committed.receiptId, lines: [{ lineNo: 1, qty: 1 }, { lineNo: 2, qty: 2 }], now: '2026-06-03T11:00:00.000Z' });
    expect(r2.priced.complete).toBe(true);
    expect(r1.priced.totals.refund + r2.priced.totals.refund).toBe(priced.totals.toPay);
    expect(r1.priced.totals.pointsRestored + r2.priced.totals.pointsRestored).toBe(priced.totals.pointsRedeemed);
    // The card is exactly where it was before the sale: same balance, same lots, same expiry dates.
    expect(ledger.balance(card.cardholderId)).toBe(before);
    const lotsAfter = ledger.lots(card.cardholderId);
    expect(lotsAfter.map((l) => [l.lotId, l.points, l.expiresAt]).sort()).toEqual(lotsBefore.map((l) => [l.lotId, l.points, l.expiresAt]).sort());
    expectVerified(ledger);
    ledger.close();
  });

  it('refuses to return more than is left and writes nothing', () => {
    const ledger = tempLedger();
    const card = enroll(ledger, '7789000000019', '+79161234567');
    const { committed } = sell(ledger, card, [{ sku: 'A', qty: 2, unitPrice: 10000 }], T0);
    ledger.commitReturn({ originalReceiptId: committed.receiptId, lines: [{ lineNo: 1, qty: 1 }], now: T0 });
    const receipts = ledger.sqlite.prepare('SELECT count(*) FROM receipts').pluck().get();
    expect(() => ledger.commitReturn({ originalReceiptId: committed.receiptId, lines: [{ lineNo: 1, qty: 2 }], now: T0 })).toThrow(ReturnRefused);
    expect(() => ledger.commitReturn({ originalReceiptId: 'nope', lines: [{ lineNo: 1, qty: 1 }], now: T0 })).toThrow(/No such sale/);
    expect(ledger.sqlite.prepare('SELECT count(*) FROM receipts').pluck().get()).toBe(receipts);
    expectVerified(ledger);
    // The chain head was put back: the next sale still links.
    sell(ledger, card, [{ sku: 'A', qty: 1, unitPrice: 10000 }], T0);
    expectVerified(ledger);
    ledger.close();
  });

  it('takes earned points back even when they were spent: the balance goes negative', () => {
    const ledger = tempLedger();
    const card = enroll(ledger, '7789000000019', '+79161234567');
    const { committed, priced } = sell(ledger, card, [{ sku: 'A', qty: 1, unitPrice: 1_000_000 }], T0);
    expect(priced.totals.pointsEarned).toBeGreaterThan(0);
    adjustPoints(ledger, admin, card.cardholderId, -ledger.balance(card.cardholderId), T0);
    const ret = ledger.commitReturn({ originalReceiptId: committed.receiptId, lines: [{ lineNo: 1, qty: 1 }], now: T0 });
    expect(ret.priced.totals.pointsTakenBack).toBeGreaterThan(0);
    expect(ledger.balance(card.cardholderId)).toBe(-ret.priced.totals.pointsTakenBack);
    expectVerified(ledger);
    ledger.close();
  });

  it('does not take back earned points a second time once they have expired: only what was spent of them', () => {
    const ledger = tempLedger();
    const card = enroll(ledger, '7789000000019', '+79161234567');
    const { committed, priced } = sell(ledger, card, [{ sku: 'KETTLE', qty: 1, unitPrice: 1_000_000, category: 'appliances' }], T0);
    const earned = priced.earnLots.filter((l) => l.source !== 'welcome');
    expect(earned).toHaveLength(1);
    const { points, expiresAt } = earned[0]!;
    // Everything else on the card and 40 of the kettle's points are spent; the other points expire.
    const spent = 40;
    adjustPoints(ledger, admin, card.cardholderId, -(ledger.balance(card.cardholderId) - points + spent), T0);
    const lot = ledger.lots(card.cardholderId).find((l) => l.expiresAt === expiresAt)!;
    expect(lot.points).toBe(points - spent);
    const later = new Date(Date.parse(expiresAt!) + 86_400_000).toISOString();
    expect(expireLots(ledger, later)).toMatchObject({ expiredPoints: points - spent });
    expect(ledger.balance(card.cardholderId)).toBe(0);

    // Returned under warranty after that: the 40 spent points come back out, the expired ones do not.
    const preview = ledger.priceReturnOf(committed.receiptId, [{ lineNo: 1, qty: 1 }], later);
    expect(preview.priced.totals.pointsTakenBack).toBe(points);
    expect(preview.points).toEqual({ takenBack: [{ lotId: lot.lotId, points: spent }], alreadyGone: points - spent, restoredPastExpiry: 0 });
    const view = toReturnView(preview.priced, preview.points);
    expect(view.totals.pointsTakenBack).toBe(spent);
    expect(view.reasons.map((r) => r.ru)).toEqual(expect.arrayContaining([`Списываются начисленные баллы: ${spent}`, `Уже сгорели и повторно не списываются: ${points - spent}`]));
    const ret = ledger.commitReturn({ originalReceiptId: committed.receiptId, lines: [{ lineNo: 1, qty: 1 }], now: later });
    expect(ret.points.alreadyGone).toBe(points - spent);
    expect(ledger.balance(card.cardholderId)).toBe(-spent);
    expectVerified(ledger);
    ledger.close();
  });

  it('a return and the expiry of its points end the same whichever comes first', () => {
    // Two kettles, 40 of their points spent; one kettle comes back and the lot expires, in one
    // order on one ledger and in the other order on another; then the second kettle comes back.
    const run = (returnFirst: boolean) => {
      const ledger = tempLedger();
      const card = enroll(ledger, '7789000000019', '+79161234567');
      const { committed, priced } = sell(ledger, card, [{ sku: 'KETTLE', qty: 2, unitPrice: 500_000, category: 'appliances' }], T0);
      const { points, expiresAt } = priced.earnLots.find((l) => l.source !== 'welcome')!;
      adjustPoints(ledger, admin, card.cardholderId, -(ledger.balance(card.cardholderId) - points + 40), T0);
      const later = new Date(Date.parse(expiresAt!) + 86_400_000).toISOString();
      const returnOne = (now: string) => ledger.commitReturn({ originalReceiptId: committed.receiptId, lines: [{ lineNo: 1, qty: 1 }], now });
      if (returnFirst) {
        returnOne('2026-06-05T10:00:00.000Z');
        expireLots(ledger, later);
      } else {
        expireLots(ledger, later);
        returnOne(later);
      }
      const afterOne = ledger.balance(card.cardholderId);
      returnOne(later);
      expectVerified(ledger);
      const result = { points, afterOne, afterBoth: ledger.balance(card.cardholderId) };
      ledger.close();
      return result;
    };
    const first = run(true);
    const second = run(false);
    expect(first.points).toBeGreaterThan(80);
    expect(second).toEqual(first);
    // The customer pays back exactly the 40 points spent, once both kettles are back.
    expect(first).toMatchObject({ afterOne: 0, afterBoth: -40 });
  });

  it('says when points paid with go back to a lot already past its expiry (the next expiry run writes them off)', () => {
    const ledger = tempLedger();
    const card = enroll(ledger, '7789000000019', '+79161234567');
    sell(ledger, card, [{ sku: 'A', qty: 1, unitPrice: 100_000 }], T0); // the welcome bonus and an earn lot
    const lots = ledger.lots(card.cardholderId);
    const paid = sell(ledger, card, [{ sku: 'B', qty: 1, unitPrice: 50_000 }], '2026-07-01T10:00:00.000Z', 50);
    const drawn = paid.priced.redemption.fromLots.map((d) => ({ ...d, expiresAt: lots.find((l) => l.lotId === d.lotId)!.expiresAt! })).sort((x, y) => x.expiresAt.localeCompare(y.expiresAt));
    expect(drawn.length).toBeGreaterThan(0);
    const dayAfter = (at: string) => new Date(Date.parse(at) + 86_400_000).toISOString();
    const pastExpiry = (now: string) => ledger.priceReturnOf(paid.committed.receiptId, [{ lineNo: 1, qty: 1 }], now).points.restoredPastExpiry;
    expect(pastExpiry('2026-07-02T10:00:00.000Z')).toBe(0);
    expect(pastExpiry(dayAfter(drawn[0]!.expiresAt))).toBe(drawn.filter((d) => d.expiresAt <= dayAfter(drawn[0]!.expiresAt)).reduce((n, d) => n + d.points, 0));
    const after = dayAfter(drawn.at(-1)!.expiresAt);
    const preview = ledger.priceReturnOf(paid.committed.receiptId, [{ lineNo: 1, qty: 1 }], after);
    expect(preview.points.restoredPastExpiry).toBe(50);
    expect(toReturnView(preview.priced, preview.points).reasons.map((r) => r.ru)).toContain('Срок действия 50 из них уже истёк: они сгорят при ближайшем списании');
    // As the reason says: the return gives them back, and the next expiry run takes them.
    ledger.commitReturn({ originalReceiptId: paid.committed.receiptId, lines: [{ lineNo: 1, qty: 1 }], now: after });
    expireLots(ledger, after);
    for (const d of drawn) expect(ledger.lots(card.cardholderId).find((l) => l.lotId === d.lotId)).toBeUndefined();
    expectVerified(ledger);
    ledger.close();
  });

  it('a second partial return after expiry takes back only what is left of the lot to take', () => {
    const ledger = tempLedger();
    const card = enroll(ledger, '7789000000019', '+79161234567');
    const { committed, priced } = sell(ledger, card, [{ sku: 'KETTLE', qty: 2, unitPrice: 500_000, category: 'appliances' }], T0);
    const { points, expiresAt } = priced.earnLots.find((l) => l.source !== 'welcome')!;
    const first = ledger.commitReturn({ originalReceiptId: committed.receiptId, lines: [{ lineNo: 1, qty: 1 }], now: T0 });
    const half = first.priced.totals.pointsTakenBack;
    expect(first.points).toMatchObject({ alreadyGone: 0 });
    expect(half).toBeGreaterThan(0);
    const before = ledger.balance(card.cardholderId);
    const later = new Date(Date.parse(expiresAt!) + 86_400_000).toISOString();
    expireLots(ledger, later);
    expect(ledger.balance(card.cardholderId)).toBe(0);
    // The rest of the lot expired untouched: the second kettle's share is gone already.
    const second = ledger.commitReturn({ originalReceiptId: committed.receiptId, lines: [{ lineNo: 1, qty: 1 }], now: later });
    expect(second.priced.totals.pointsTakenBack).toBe(points - half);
    expect(second.points).toEqual({ takenBack: [], alreadyGone: points - half, restoredPastExpiry: 0 });
    expect(ledger.balance(card.cardholderId)).toBe(0);
    expect(before).toBeGreaterThan(0);
    expectVerified(ledger);
    ledger.close();
  });
});

describe('card operations', () => {
  it('issues, blocks, unblocks and replaces a card, writing each to the audit log with who and why', () => {
    const ledger = tempLedger();
    const card = enroll(ledger, '7789000000019', '+79161234567');
    sell(ledger, card, [{ sku: 'A', qty: 1, unitPrice: 100000 }], T0);
    const balance = ledger.balance(card.cardholderId);

    const second = issueCard(ledger, admin, card.cardholderId, '7789000000027', null, T0);
    expect(second.status).toBe('active');
    expect(() => issueCard(ledger, admin, card.cardholderId, '7789000000027', null, T0)).toThrow(/already issued/);
    expect(() => blockCard(ledger, { userId: 'admin-1', reason: '' }, card.cardId, T0)).toThrow(LedgerRuleError);

    blockCard(ledger, admin, card.cardId, T0);
    expect(ledger.findCard({ number: card.number })?.status).toBe('blocked');
    expect(() => blockCard(ledger, admin, card.cardId, T0)).toThrow(/blocked, not active/);
    unblockCard(ledger, admin, card.cardId, T0);

    const replacement = replaceCard(ledger, { userId: 'admin-1', reason: 'карта утеряна' }, card.cardId, '7789000000035', 'CHIP01', T0);
    expect(ledger.findCard({ number: card.number })?.status).toBe('replaced');
    const found = ledger.findCard({ chipUid: 'CHIP01' })!;
    expect(found.cardId).toBe(replacement.cardId);
    expect(ledger.balance(found.cardholderId)).toBe(balance); // balance and history carried over
    expect(auditTrail(ledger).map((a) => a.action)).toEqual(['card.replace', 'card.unblock', 'card.block', 'card.issue']);
    expect(auditTrail(ledger, card.cardId)[0]).toMatchObject({ user_id: 'admin-1', reason: 'карта утеряна' });
    expect(() => ledger.sqlite.prepare('DELETE FROM audit_log').run()).toThrow(/append-only/);
    expect(ledger.sqlite.prepare("SELECT count(*) FROM outbox WHERE kind = 'card'").pluck().get()).toBe(4);
    expectVerified(ledger);
    ledger.close();
  });

  it('merges duplicate cardholders: points move with their own expiry, cards and purchase history follow', () => {
    const ledger = tempLedger();
    const keep = enroll(ledger, '7789000000019', '+79161234567');
    const dup = enroll(ledger, '7789000000027', '+79031112233', 'Иванова-дубль');
    sell(ledger, keep, [{ sku: 'A', qty: 1, unitPrice: 100000 }], T0);
    sell(ledger, dup, [{ sku: 'A', qty: 1, unitPrice: 300000 }], T0);
    const total = ledger.balance(keep.cardholderId) + ledger.balance(dup.cardholderId);
    const dupExpiries = ledger.lots(dup.cardholderId).map((l) => l.expiresAt).sort();

    const result = mergeCardholders(ledger, admin, keep.cardholderId, dup.cardholderId, T0);
    expect(result.movedCards).toBe(1);
    expect(ledger.balance(keep.cardholderId)).toBe(total);
    expect(ledger.balance(dup.cardholderId)).toBe(0);
    expect(ledger.findCard({ number: dup.number })?.cardholderId).toBe(keep.cardholderId);
    // A moved card shows the holder it now belongs to; the duplicate's phone finds no one.
    expect(ledger.findCard({ number: dup.number })?.holder.surname).toBe('Иванова');
    expect(ledger.findCard({ phone: '+79031112233' })).toBeNull();
    expect(ledger.findCard({ phone: '+79161234567' })?.number).toBe(keep.number);
    const keptState = ledger.cardState(ledger.findCard({ number: keep.number })!);
    expect(keptState.purchaseCount).toBe(2);
    for (const e of dupExpiries) expect(keptState.lots.map((l) => l.expiresAt)).toContain(e);
    expect(() => mergeCardholders(ledger, admin, keep.cardholderId, dup.cardholderId, T0)).toThrow(/merged/);
    expect(() => mergeCardholders(ledger, admin, keep.cardholderId, keep.cardholderId, T0)).toThrow(/two different/);
    expectVerified(ledger);
    ledger.close();
  });

  it("returns a sale of a cardholder merged away: its points come out of, and go back to, the kept cardholder's lots, with their expiry", () => {
    const ledger = tempLedger();
    const keep = enroll(ledger, '7789000000019', '+79161234567');
    const dup = enroll(ledger, '7789000000027', '+79031112233', 'Иванова-дубль');
    adjustPoints(ledger, admin, dup.cardholderId, 100, T0, '2026-08-01T00:00:00.000Z');
    adjustPoints(ledger, admin, dup.cardholderId, 300, T0, '2026-09-01T00:00:00.000Z');
    // The sale pays 150 points: all of the August lot, 50 of the September one; it earns points too.
    const { priced, committed } = sell(ledger, dup, [{ sku: 'A', qty: 1, unitPrice: 100000 }], '2026-06-02T10:00:00.000Z', 150);
    expect(priced.redemption.fromLots.map((l) => l.points)).toEqual([100, 50]);
    // The merge moves what is left (the September lot's 250, the sale's earn and welcome lots) to the kept cardholder.
    mergeCardholders(ledger, admin, keep.cardholderId, dup.cardholderId, '2026-06-03T10:00:00.000Z');
    const merged = ledger.balance(keep.cardholderId);

    const returned = ledger.commitReturn({ originalReceiptId: committed.receiptId, lines: [{ lineNo: 1, qty: 1 }], now: '2026-06-04T10:00:00.000Z' });
    expect(returned.priced.totals).toMatchObject({ pointsRestored: 150 });
    const taken = returned.priced.totals.pointsTakenBack;
    expect(taken).toBeGreaterThan(0);
    expect(ledger.balance(keep.cardholderId)).toBe(merged - taken + 150);
    expect(ledger.balance(dup.cardholderId)).toBe(0);
    // Every lot of the kept cardholder holds points and keeps its expiry: 100 back in August, 300 in September.
    const lots = ledger.lots(keep.cardholderId);
    expect(lots.every((l) => l.points > 0 && l.expiresAt !== null)).toBe(true);
    const byExpiry = (at: string) => lots.filter((l) => l.expiresAt === at).reduce((s, l) => s + l.points, 0);
    expect([byExpiry('2026-08-01T00:00:00.000Z'), byExpiry('2026-09-01T00:00:00.000Z')]).toEqual([100, 300]);

    // After both dates, those 400 points are gone from the kept cardholder, and the duplicate owes nothing.
    expireLots(ledger, '2026-10-01T00:00:00.000Z');
    expect(ledger.balance(dup.cardholderId)).toBe(0);
    expect(ledger.balance(keep.cardholderId)).toBe(merged - taken + 150 - 400);
    expectVerified(ledger);
    ledger.close();
  });

  it('returns a sale of a cardholder HQ merged away: the points follow the lots HQ mirrored to the kept cardholder', () => {
    const ledger = tempLedger();
    const keep = enroll(ledger, '7789000000019', '+79161234567');
    const dup = enroll(ledger, '7789000000027', '+79031112233', 'Иванова-дубль');
    adjustPoints(ledger, admin, dup.cardholderId, 300, T0, '2026-09-01T00:00:00.000Z');
    const { committed } = sell(ledger, dup, [{ sku: 'A', qty: 1, unitPrice: 100000 }], '2026-06-02T10:00:00.000Z', 100);
    // HQ merges the duplicate: each of its entries comes down the feed as a pair, one taking it off
    // the duplicate, one putting it on the kept cardholder in lot "m+<lot>"; then the card moves.
    const own = ledger.sqlite.prepare('SELECT id, points, lot_id, activates_at, expires_at, created_at FROM point_entries WHERE cardholder_id = ? ORDER BY rowid').all(dup.cardholderId) as { id: string; points: number; lot_id: string; activates_at: string | null; expires_at: string | null; created_at: string }[];
    const feed = ledger.sqlite.prepare('INSERT INTO remote_entries (id, hq_seq, terminal_id, cardholder_id, kind, points, lot_id, activates_at, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    own.forEach((e, i) => {
      feed.run(`m-${e.id}`, 2 * i + 1, 'hq', dup.cardholderId, 'transfer', -e.points, e.lot_id, null, null, e.created_at);
      feed.run(`m+${e.id}`, 2 * i + 2, 'hq', keep.cardholderId, 'transfer', e.points, `m+${e.lot_id}`, e.activates_at, e.expires_at, e.created_at);
    });
    ledger.importCard({ cardholderId: keep.cardholderId, cardId: dup.cardId, number: dup.number, chipUid: null, status: 'active', holder: { surname: 'Иванова', firstName: 'Мария' }, enrolledAt: T0 });
    expect(ledger.balance(dup.cardholderId)).toBe(0);
    const merged = ledger.balance(keep.cardholderId);

    const returned = ledger.commitReturn({ originalReceiptId: committed.receiptId, lines: [{ lineNo: 1, qty: 1 }], now: '2026-06-04T10:00:00.000Z' });
    expect(returned.priced.totals.pointsRestored).toBe(100);
    expect(ledger.balance(keep.cardholderId)).toBe(merged - returned.priced.totals.pointsTakenBack + 100);
    expect(ledger.balance(dup.cardholderId)).toBe(0);
    const lots = ledger.lots(keep.cardholderId);
    expect(lots.every((l) => l.points > 0 && l.lotId.startsWith('m+'))).toBe(true);
    expect(lots.find((l) => l.expiresAt === '2026-09-01T00:00:00.000Z')?.points).toBe(300);
    expectVerified(ledger);

    // The lot was opened here, so this terminal expires its copy on the kept cardholder when its date
    // comes (no other terminal opened it, and HQ expires nothing).
    const afterReturn = ledger.balance(keep.cardholderId);
    const lotId = own.find((e) => e.expires_at === '2026-09-01T00:00:00.000Z')!.lot_id;
    expect(expireLots(ledger, '2026-09-02T00:00:00.000Z')).toMatchObject({ expiredLots: 1, expiredPoints: 300 });
    expect(ledger.balance(keep.cardholderId)).toBe(afterReturn - 300);
    const expired = ledger.sqlite.prepare("SELECT cardholder_id, points, lot_id FROM point_entries WHERE kind = 'expire'").all();
    expect(expired).toEqual([{ cardholder_id: keep.cardholderId, points: -300, lot_id: `m+${lotId}` }]);
    expect(expireLots(ledger, '2026-09-02T01:00:00.000Z').expiredLots).toBe(0);
    // Points given back on the copy later (a return at another terminal, mirrored by HQ) expire at the next run.
    feed.run(`m+restore-${lotId}`, 99, 'hq', keep.cardholderId, 'reverse', 40, `m+${lotId}`, null, null, '2026-09-03T00:00:00.000Z');
    expect(ledger.balance(keep.cardholderId)).toBe(afterReturn - 300 + 40);
    expect(expireLots(ledger, '2026-09-03T01:00:00.000Z')).toMatchObject({ expiredLots: 1, expiredPoints: 40 });
    expect(ledger.balance(keep.cardholderId)).toBe(afterReturn - 300);
    expect(ledger.balance(dup.cardholderId)).toBe(0);
    expectVerified(ledger);
    ledger.close();
  });

  it('adjusts a balance by hand (credit opens a lot, debit draws soonest-expiring first) and refuses below zero', () => {
    const ledger = tempLedger();
    const card = enroll(ledger, '7789000000019', '+79161234567');
    adjustPoints(ledger, admin, card.cardholderId, 100, T0, '2026-07-01T00:00:00.000Z');
    adjustPoints(ledger, admin, card.cardholderId, 50, T0, null);
    expect(adjustPoints(ledger, admin, card.cardholderId, -120, T0).balance).toBe(30);
    expect(ledger.lots(card.cardholderId).map((l) => [l.points, l.expiresAt])).toEqual([[30, null]]);
    expect(() => adjustPoints(ledger, admin, card.cardholderId, -31, T0)).toThrow(/Only 30/);
    expect(() => adjustPoints(ledger, admin, card.cardholderId, 1.5, T0)).toThrow(/whole/);
    expect(ledger.balance(card.cardholderId)).toBe(30);
    expectVerified(ledger);
    ledger.close();
  });

  it('anonymizes a cardholder: no name, phone or search tokens left, every sum unchanged', () => {
    const ledger = tempLedger();
    const card = enroll(ledger, '7789000000019', '+79161234567');
    sell(ledger, card, [{ sku: 'A', qty: 1, unitPrice: 100000 }], T0);
    const balance = ledger.balance(card.cardholderId);
    anonymize(ledger, admin, card.cardholderId, T0);
    expect(ledger.findCard({ phone: '+79161234567' })).toBeNull();
    expect(ledger.searchByName('Иванова')).toEqual([]);
    const after = ledger.findCard({ number: card.number })!;
    expect(after.holder).toEqual({});
    expect(ledger.balance(card.cardholderId)).toBe(balance);
    expect(() => anonymize(ledger, admin, card.cardholderId, T0)).toThrow(/Already/);
    expectVerified(ledger);
    ledger.close();
  });
});

describe('scheduled jobs', () => {
  it('expires lots past their date once, even when run twice or after an interrupted run', () => {
    const ledger = tempLedger();
    const cards = Array.from({ length: 3 }, (_, i) => enroll(ledger, `77890000001${i}0`, `+7916123450${i}`));
    for (const c of cards) sell(ledger, c, [{ sku: 'A', qty: 1, unitPrice: 100000 }], T0);
    const spent = ledger.lots(cards[0]!.cardholderId)[0]!;
    sell(ledger, cards[0]!, [{ sku: 'A', qty: 1, unitPrice: 100000 }], '2026-06-02T10:00:00.000Z', 100); // part of a lot spent
    const later = '2027-12-01T00:00:00.000Z'; // past the 180-day welcome and 365-day earn expiry
    // An interrupted run: the transaction throws half-way, nothing of it stays.
    const append = ledger.appendEntries.bind(ledger);
    ledger.appendEntries = () => {
      append([{ cardholderId: cards[0]!.cardholderId, kind: 'expire', points: -1, lotId: spent.lotId, reason: 'x' }], later);
      throw new Error('power cut');
    };
    expect(() => expireLots(ledger, later)).toThrow('power cut');
    ledger.appendEntries = append;
    expectVerified(ledger);

    const first = expireLots(ledger, later);
    expect(first.expiredLots).toBeGreaterThanOrEqual(6);
    for (const c of cards) expect(ledger.balance(c.cardholderId)).toBe(0);
    // The second run looks only at what changed since the first: nothing.
    expect(expireLots(ledger, later)).toEqual({ expiredLots: 0, expiredPoints: 0, lotsChecked: 0, expiryComplete: true });
    // A damaged mark costs a look at every lot again, never a lot missed or expired twice.
    ledger.sqlite.prepare("UPDATE settings SET value = 'not a mark' WHERE key = 'expiry_mark'").run();
    const full = expireLots(ledger, later);
    expect(full).toMatchObject({ expiredLots: 0, expiredPoints: 0 });
    expect(full.lotsChecked).toBe(first.lotsChecked);
    expectVerified(ledger);
    ledger.close();
  });

  it('an hourly run looks only at what changed since the last one, and still expires points given back to an expired lot, or written with a date already past', () => {
    const ledger = tempLedger();
    const card = enroll(ledger, '7789000000019', '+79161234567');
    const holder = card.cardholderId;
    adjustPoints(ledger, admin, holder, 300, T0, '2026-09-01T00:00:00.000Z');
    const lot = ledger.lots(holder)[0]!;
    const { priced, committed } = sell(ledger, card, [{ sku: 'A', qty: 1, unitPrice: 100000 }], '2026-06-02T10:00:00.000Z', 100);
    expect(priced.redemption.fromLots).toEqual([{ lotId: lot.lotId, points: 100 }]);

    const first = expireLots(ledger, '2026-10-01T00:00:00.000Z');
    expect(first).toEqual({ expiredLots: 1, expiredPoints: 200, lotsChecked: 1, expiryComplete: true });
    // Sales since then open lots that expire later: an hour on, nothing is due and nothing is checked.
    sell(ledger, card, [{ sku: 'B', qty: 1, unitPrice: 50000 }], '2026-10-01T00:30:00.000Z');
    expect(expireLots(ledger, '2026-10-01T01:00:00.000Z')).toEqual({ expiredLots: 0, expiredPoints: 0, lotsChecked: 0, expiryComplete: true });

    // The sale paid with the lot is returned after the lot expired: its 100 points go back to it...
    const balanceBefore = ledger.balance(holder);
    const returned = ledger.commitReturn({ originalReceiptId: committed.receiptId, lines: [{ lineNo: 1, qty: 1 }], now: '2026-10-01T02:00:00.000Z' });
    expect(returned.priced.totals.pointsRestored).toBe(100);
    expect(ledger.lots(holder).find((l) => l.lotId === lot.lotId)?.points).toBe(100);
    // ...and the next run expires them (it looks at the lots of the cardholders given points back).
    const afterReturn = expireLots(ledger, '2026-10-01T03:00:00.000Z');
    // It checked this cardholder's four lots (the adjustment, the first sale's welcome and earn lots, the second's earn lot).
    expect(afterReturn).toEqual({ expiredLots: 1, expiredPoints: 100, lotsChecked: 4, expiryComplete: true });
    expect(ledger.lots(holder).find((l) => l.lotId === lot.lotId)).toBeUndefined();

    // The same when the points come back through HQ (a return at another terminal, replicated here).
    ledger.sqlite
      .prepare("INSERT INTO remote_entries (id, hq_seq, terminal_id, cardholder_id, kind, points, lot_id, created_at) VALUES ('r-1', 1, 'other', ?, 'reverse', 30, ?, ?)")
      .run(holder, lot.lotId, '2026-10-01T03:10:00.000Z');
    expect(expireLots(ledger, '2026-10-01T03:20:00.000Z')).toEqual({ expiredLots: 1, expiredPoints: 30, lotsChecked: 4, expiryComplete: true });

    // A lot written after a run with an expiry before it (a backdated adjustment) expires at the next run.
    adjustPoints(ledger, admin, holder, 50, '2026-10-01T03:30:00.000Z', '2026-08-01T00:00:00.000Z');
    expect(expireLots(ledger, '2026-10-01T04:00:00.000Z')).toEqual({ expiredLots: 1, expiredPoints: 50, lotsChecked: 1, expiryComplete: true });
    // Of all the return gave and took, only the points it took back are still gone.
    expect(ledger.balance(holder)).toBe(balanceBefore - returned.priced.totals.pointsTakenBack);
    expectVerified(ledger);
    ledger.close();
  });

  it('a run under a clock set years forward does not stop lots written after it, once the clock is put right, from expiring', () => {
    const ledger = tempLedger();
    const card = enroll(ledger, '7789000000019', '+79161234567');
    expect(expireLots(ledger, '2030-01-01T00:00:00.000Z')).toMatchObject({ expiredLots: 0, expiryComplete: true });
    adjustPoints(ledger, admin, card.cardholderId, 70, '2026-10-01T03:25:00.000Z', '2026-10-01T03:50:00.000Z');
    expect(expireLots(ledger, '2026-10-01T03:40:00.000Z')).toMatchObject({ expiredLots: 0 });
    expect(expireLots(ledger, '2026-10-01T03:55:00.000Z')).toMatchObject({ expiredLots: 1, expiredPoints: 70 });
    expect(ledger.balance(card.cardholderId)).toBe(0);
    ledger.close();
  });

  it('under a time limit an expiry run starts with a transaction of 20 lots, whatever its batch; with no limit it takes the whole batch', () => {
    const ledger = tempLedger();
    const card = enroll(ledger, '7789000000019', '+79161234567');
    for (let i = 0; i < 25; i++) adjustPoints(ledger, admin, card.cardholderId, 1, T0, '2026-07-01T00:00:00.000Z');
    // On a big ledger 500 lots in one transaction held the till up to 90 ms; later ones are sized by the pace of the one before.
    expect(expireLots(ledger, '2026-08-01T00:00:00.000Z', { maxMs: 60_000, maxBatches: 1 })).toMatchObject({ expiredLots: 20, expiryComplete: false });
    expect(expireLots(ledger, '2026-08-01T00:00:00.000Z', { maxMs: 60_000 })).toMatchObject({ expiredLots: 5, expiryComplete: true });
    for (let i = 0; i < 25; i++) adjustPoints(ledger, admin, card.cardholderId, 1, T0, '2026-09-01T00:00:00.000Z');
    expect(expireLots(ledger, '2026-10-01T00:00:00.000Z', { maxBatches: 1 })).toMatchObject({ expiredLots: 25, expiryComplete: true });
    expect(ledger.balance(card.cardholderId)).toBe(0);
    ledger.close();
  });

  it('a run stopped at its limit goes on from there; the terminal runs the jobs in slices, giving the till its turn between them', async () => {
    const ledger = tempLedger();
    const card = enroll(ledger, '7789000000019', '+79161234567');
    for (let i = 1; i <= 5; i++) adjustPoints(ledger, admin, card.cardholderId, 10 * i, T0, `2026-07-0${i}T00:00:00.000Z`);
    const at = '2026-08-01T00:00:00.000Z';
    const limits = { batch: 2, maxBatches: 1 };
    expect(expireLots(ledger, at, limits)).toEqual({ expiredLots: 2, expiredPoints: 30, lotsChecked: 2, expiryComplete: false });
    // A time limit stops a run the same way, after its first transaction at the least.
    expect(expireLots(ledger, at, { batch: 2, maxMs: 0 })).toEqual({ expiredLots: 2, expiredPoints: 70, lotsChecked: 2, expiryComplete: false });
    expect(expireLots(ledger, at, limits)).toEqual({ expiredLots: 1, expiredPoints: 50, lotsChecked: 1, expiryComplete: true });
    expect(expireLots(ledger, at, limits)).toEqual({ expiredLots: 0, expiredPoints: 0, lotsChecked: 0, expiryComplete: true });
    expect(ledger.balance(card.cardholderId)).toBe(0);

    for (let i = 1; i <= 5; i++) adjustPoints(ledger, admin, card.cardholderId, 10 * i, at, `2026-09-0${i}T00:00:00.000Z`);
    const maintenance = new Maintenance(ledger, { dbPath: ':memory:', program: () => program, clock: () => new Date('2026-10-01T00:00:00.000Z'), onError: () => {}, jobSlice: limits });
    let turns = 0;
    let done = false;
    const till = () => {
      turns++;
      if (!done) setImmediate(till);
    };
    setImmediate(till);
    const running = maintenance.runJobs();
    expect(await maintenance.runJobs()).toBeNull(); // one run at a time
    const report = await running;
    done = true;
    expect(report).toMatchObject({ expiredLots: 5, expiredPoints: 150, expiryComplete: true });
    expect(turns).toBeGreaterThanOrEqual(2); // three slices: the till ran between them
    expect(ledger.balance(card.cardholderId)).toBe(0);
    expectVerified(ledger);
    ledger.close();
  });

  it('under a time limit an expiry transaction ends once it has run half of it, whatever the pace of the one before promised', () => {
    const ledger = tempLedger();
    const card = enroll(ledger, '7789000000019', '+79161234567');
    for (let i = 0; i < 600; i++) adjustPoints(ledger, admin, card.cardholderId, 1, T0, '2026-07-01T00:00:00.000Z');
    // The first transaction is quick (the clock moves 0.1 ms a reading), so the next is sized to the
    // whole batch; then each chunk of 20 lots takes 5 ms: that transaction must end after its third.
    let clock = 0;
    let reads = 0;
    const now = vi.spyOn(performance, 'now').mockImplementation(() => (clock += ++reads <= 6 ? 0.1 : 5));
    const taken: { lots: unknown[]; all: number }[] = [];
    const atomically = ledger.atomically.bind(ledger);
    ledger.atomically = ((fn: () => unknown) => {
      const r = atomically(fn);
      if (r && typeof r === 'object' && 'all' in r) taken.push(r as { lots: unknown[]; all: number });
      return r;
    }) as typeof ledger.atomically;
    const at = '2026-08-01T00:00:00.000Z';
    let limited;
    try {
      limited = expireLots(ledger, at, { maxMs: 25 });
    } finally {
      now.mockRestore();
    }
    expect(taken.map((t) => [t.lots.length, t.all])).toEqual([[20, 20], [60, 500]]);
    expect(limited).toMatchObject({ expiredLots: 80, expiryComplete: false });
    // The next run goes on after the last lot written off: each lot expires once.
    expect(expireLots(ledger, at)).toMatchObject({ expiredLots: 520, expiryComplete: true });
    expectEachLotExpiredOnce(ledger, card.cardholderId, 600);
    ledger.close();
  });

  it('a run out of time in its catch-up (what was written since the last run) keeps how far it got, and the next goes on from there', () => {
    const ledger = tempLedger();
    const card = enroll(ledger, '7789000000019', '+79161234567');
    expect(expireLots(ledger, '2026-06-15T00:00:00.000Z')).toMatchObject({ expiredLots: 0, expiryComplete: true });
    // Written after that run with an expiry already past: more than one window of the catch-up.
    ledger.atomically(() => {
      for (let i = 0; i < 2100; i++) adjustPoints(ledger, admin, card.cardholderId, 1, T0, '2026-06-10T00:00:00.000Z');
    });
    const at = '2026-06-20T00:00:00.000Z';
    expect(expireLots(ledger, at, { maxMs: 0 })).toMatchObject({ expiredLots: 2000, expiryComplete: false });
    expect(JSON.parse(ledger.setting('expiry_mark')!)).toMatchObject({ caught: [expect.any(Number), expect.any(Number)] });
    // The next runs go on from there (reading, too, the entries the runs before wrote) until done.
    const more: number[] = [];
    for (let r = null; !r?.expiryComplete; more.push(r.expiredLots)) r = expireLots(ledger, at, { maxMs: 0 });
    expect(more.reduce((a, b) => a + b, 0)).toBe(100);
    expect(more.length).toBeLessThanOrEqual(4);
    expectEachLotExpiredOnce(ledger, card.cardholderId, 2100);
    ledger.close();
  });

  it('burns the points of a cardholder inactive past the limit, once; an active one keeps them', () => {
    const ledger = tempLedger();
    const idle = enroll(ledger, '7789000000019', '+79161234567');
    const active = enroll(ledger, '7789000000027', '+79031112233');
    adjustPoints(ledger, admin, idle.cardholderId, 500, T0);
    sell(ledger, idle, [{ sku: 'A', qty: 1, unitPrice: 100000 }], T0);
    adjustPoints(ledger, admin, active.cardholderId, 500, T0);
    sell(ledger, active, [{ sku: 'A', qty: 1, unitPrice: 100000 }], '2026-11-01T10:00:00.000Z');
    const now = '2026-12-01T00:00:00.000Z';
    const burned = burnInactive(ledger, 90, now);
    expect(burned.burnedCardholders).toBe(1);
    expect(ledger.balance(idle.cardholderId)).toBe(0);
    expect(ledger.balance(active.cardholderId)).toBeGreaterThan(500);
    expect(burnInactive(ledger, 90, now)).toEqual({ burnedCardholders: 0, burnedPoints: 0, burnComplete: true });
    expectVerified(ledger);
    ledger.close();
  });

  it('burns the copies HQ made of lots opened here when the cardholder kept by a merge is inactive too', () => {
    const ledger = tempLedger();
    const idleKeep = enroll(ledger, '7789000000019', '+79161234567');
    const idleDup = enroll(ledger, '7789000000027', '+79031112233');
    const busyKeep = enroll(ledger, '7789000000035', '+79031112244');
    const busyDup = enroll(ledger, '7789000000043', '+79031112255');
    const feed = ledger.sqlite.prepare('INSERT INTO remote_entries (id, hq_seq, terminal_id, cardholder_id, kind, points, lot_id, activates_at, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    let seq = 0;
    for (const [keep, dup] of [[idleKeep, idleDup], [busyKeep, busyDup]] as const) {
      adjustPoints(ledger, admin, dup.cardholderId, 500, T0);
      const lot = ledger.lots(dup.cardholderId)[0]!;
      // HQ merged the duplicate: its lot comes down the feed taken off it and copied as "m+<lot>".
      feed.run(`m-${lot.lotId}`, ++seq, 'hq', dup.cardholderId, 'transfer', -500, lot.lotId, null, null, T0);
      feed.run(`m+${lot.lotId}`, ++seq, 'hq', keep.cardholderId, 'transfer', 500, `m+${lot.lotId}`, T0, null, T0);
    }
    // The second kept cardholder bought at another terminal last month.
    feed.run('r-earn', ++seq, 'other', busyKeep.cardholderId, 'earn', 30, 'r-earn', null, null, '2026-11-01T10:00:00.000Z');
    expect(ledger.balance(idleKeep.cardholderId)).toBe(500);
    const burned = burnInactive(ledger, 90, '2026-12-01T00:00:00.000Z');
    expect(burned).toEqual({ burnedCardholders: 1, burnedPoints: 500, burnComplete: true });
    expect(ledger.balance(idleKeep.cardholderId)).toBe(0);
    expect(ledger.balance(busyKeep.cardholderId)).toBe(530);
    expect(ledger.balance(idleDup.cardholderId)).toBe(0);
    expect(burnInactive(ledger, 90, '2026-12-01T00:00:00.000Z')).toEqual({ burnedCardholders: 0, burnedPoints: 0, burnComplete: true });
    expectVerified(ledger);
    ledger.close();
  });

  it('burns in slices, each going on after the cardholder where the last one stopped', () => {
    const ledger = tempLedger();
    const holders = ['7789000000019', '7789000000027', '7789000000035'].map((pan, i) => enroll(ledger, pan, `+7916123456${i}`));
    for (const h of holders) adjustPoints(ledger, admin, h.cardholderId, 200, T0);
    const now = '2026-12-01T00:00:00.000Z';
    // One balances row per window, one window per run: each run burns one cardholder.
    const runs = [0, 1, 2, 3].map(() => burnInactive(ledger, 90, now, { batch: 1, maxBatches: 1 }));
    expect(runs.map((r) => [r.burnedCardholders, r.burnComplete])).toEqual([[1, false], [1, false], [1, false], [0, true]]);
    expect(runs.reduce((s, r) => s + r.burnedPoints, 0)).toBe(600);
    for (const h of holders) expect(ledger.balance(h.cardholderId)).toBe(0);
    // A time limit of 0 stops after one window too; a run without limits finishes.
    for (const h of holders) adjustPoints(ledger, admin, h.cardholderId, 10, T0);
    expect(burnInactive(ledger, 90, now, { batch: 1, maxMs: 0 })).toEqual({ burnedCardholders: 1, burnedPoints: 10, burnComplete: false });
    expect(burnInactive(ledger, 90, now)).toEqual({ burnedCardholders: 2, burnedPoints: 20, burnComplete: true });
    // Past its time a window's transaction ends after a chunk of 20 cardholders; the next run goes on after the last it burned.
    const many = Array.from({ length: 45 }, (_, i) => enroll(ledger, seedCardNumber(100 + i), `+7926${String(1_000_000 + i)}`));
    for (const h of many) adjustPoints(ledger, admin, h.cardholderId, 5, T0);
    const cut = [0, 1, 2].map(() => burnInactive(ledger, 90, now, { maxMs: 0 }));
    expect(cut.map((r) => [r.burnedCardholders, r.burnComplete])).toEqual([[20, false], [20, false], [5, false]]);
    expect(burnInactive(ledger, 90, now, { maxMs: 0 })).toEqual({ burnedCardholders: 0, burnedPoints: 0, burnComplete: true });
    for (const h of many) expect(ledger.balance(h.cardholderId)).toBe(0);
    // As the terminal runs them: a slice whose expiry used up the time leaves burn to the next one.
    for (const h of holders) adjustPoints(ledger, admin, h.cardholderId, 10, T0);
    const slices = [...jobSlices(ledger, { expiry: { burnAfterInactiveDays: 90 } }, now, { maxMs: 0 })];
    // The third step moves the WAL the second one wrote into the database file; the last has the
    // drop of old purchases elsewhere to itself (nothing to drop).
    expect(slices.map((r) => [r.expiryComplete, r.burnedCardholders, r.burnComplete, r.pruneComplete])).toEqual([
      [true, 0, false, false],
      [true, 3, false, false],
      [true, 0, false, false],
      [true, 0, true, false],
      [true, 0, true, true],
    ]);
    expectVerified(ledger);
    ledger.close();
  });
});

describe('purchases on other terminals (HQ feed copies)', () => {
  it('drops them once no repeat-purchase discount looks back that far, with the returns noted for them alone; own receipts stay', () => {
    const ledger = tempLedger();
    const card = enroll(ledger, '7789000000019', '+79161234567');
    const own = sell(ledger, card, [{ sku: 'TEA', qty: 1, unitPrice: 10000 }], T0).committed;
    const elsewhere = (id: string, createdAt: string) =>
      ledger.countRemotePurchase({ cardholderId: card.cardholderId, kind: 'sale', spend: 5000, createdAt, sale: { id, lines: { 1: ['TEA', 1] } } });
    elsewhere('sale-jan', '2026-01-10T10:00:00.000Z');
    elsewhere('sale-feb', '2026-02-10T10:00:00.000Z');
    elsewhere('sale-may', '2026-05-20T10:00:00.000Z');
    elsewhere('sale-late', '2026-01-20T10:00:00.000Z'); // a January sale that reached this terminal after May's
    ledger.noteReturnElsewhere('sale-jan', { id: 'ret-jan', lines: { 1: 1 }, pointsTakenBack: 0 });
    ledger.noteReturnElsewhere(own.receiptId, { id: 'ret-own', lines: { 1: 1 }, pointsTakenBack: 0 });
    const bought = () => ledger.sqlite.prepare('SELECT sale_id FROM bought_elsewhere ORDER BY rowid').pluck().all();
    const returned = () => ledger.sqlite.prepare('SELECT id FROM returns_elsewhere ORDER BY rowid').pluck().all();
    const now = '2026-06-01T10:00:00.000Z';
    const repeat = (withinDays: number) => ({ ...program, discounts: [...program.discounts, { id: 'again', name: 'Снова', type: 'repeat' as const, withinDays, percent: 10 }] });

    // A program that looks back 200 days needs all of them.
    expect(pruneBoughtElsewhere(ledger, 200, now)).toEqual({ prunedSales: 0, pruneComplete: true });
    expect(runLedgerJobs(ledger, repeat(200), now)).toMatchObject({ prunedSales: 0, pruneComplete: true });
    // At least 90 days are kept: January's and February's go, in feed order up to May's; the late
    // January one waits behind it. One run at a time of one row: each drops one.
    const limits = { batch: 1, maxBatches: 1 };
    expect(pruneBoughtElsewhere(ledger, KEEP_BOUGHT_ELSEWHERE_DAYS, now, limits)).toEqual({ prunedSales: 1, pruneComplete: false });
    expect(returned()).toEqual(['ret-own']); // January's return went with it; the own sale's stays
    expect(runLedgerJobs(ledger, repeat(30), now)).toMatchObject({ prunedSales: 1, pruneComplete: true });
    expect(bought()).toEqual(['sale-may', 'sale-late']);
    expect(ledger.receipt(own.receiptId)).not.toBeNull();
    // May's still counts for a repeat purchase here; once it too is old, the late one goes with it.
    expect(ledger.cardState(ledger.findCard({ number: card.number })!, { todayFrom: null, bought: { since: '2026-05-01T00:00:00.000Z', skus: ['TEA'] } }).lastBought).toEqual({ TEA: '2026-05-20T10:00:00.000Z' });
    expect(runLedgerJobs(ledger, repeat(30), '2026-09-01T10:00:00.000Z')).toMatchObject({ prunedSales: 2, pruneComplete: true });
    expect(bought()).toEqual([]);
    expect(returned()).toEqual(['ret-own']);
    expectVerified(ledger);
    ledger.close();
  });
});

describe('users and shifts', () => {
  it('hashes PINs slowly, locks after five wrong ones (a restart keeps the lock), and closes a shift with a per-cashier Z-report', () => {
    let ledger = tempLedger();
    const anna = createUser(ledger, 'Анна', 'cashier', '1111', T0);
    createUser(ledger, 'Олег', 'admin', '9999', T0);
    expect(() => createUser(ledger, 'Ещё', 'cashier', '1111', T0)).toThrow(/PIN/);
    expect(() => createUser(ledger, 'Ещё', 'cashier', '12a4', T0)).toThrow(/4 to 8 digits/);
    expect(ledger.sqlite.prepare('SELECT pin_hash FROM users').pluck().all().join()).not.toContain('1111');
    expect(login(ledger, '1111', 0)).toEqual(anna);
    for (let i = 0; i < 5; i++) expect(() => login(ledger, '0000', 1000)).toThrow(/Wrong PIN/);
    expect(() => login(ledger, '1111', 2000)).toThrow(/try again in 5 min/);
    const path = ledger.sqlite.name;
    ledger.close();
    ledger = new Ledger({ path }); // the app restarted: still locked
    expect(() => login(ledger, '1111', 3000)).toThrow(/try again in 5 min/);
    expect(login(ledger, '1111', 1000 + 5 * 60_000 + 1).id).toBe(anna.id);

    enroll(ledger, '7789000000027', '+79031112233'); // the same minute, but before the shift opened
    const shift = openShift(ledger, anna.id, T0);
    expect(() => openShift(ledger, anna.id, T0)).toThrow(/already open/);
    const card = enroll(ledger, '7789000000019', '+79161234567');
    const priced = priceBasket(program, hash, ledger.cardState(card), { lines: [{ sku: 'A', name: 'A', category: 'grocery', qty: 2, unitPrice: 50000 }] }, { now: T0, redeemPoints: 0 });
    const sale = ledger.commitSale({ card, priced, now: T0, cashierId: anna.id, shiftId: shift.id });
    const ret = ledger.commitReturn({ originalReceiptId: sale.receiptId, lines: [{ lineNo: 1, qty: 1 }], now: T0, cashierId: anna.id, shiftId: shift.id });
    const report = closeShift(ledger, shift.id, '2026-06-01T18:00:00.000Z');
    expect(report.cashiers).toHaveLength(1);
    expect(report.totals).toMatchObject({ receipts: 1, returns: 1, gross: priced.totals.gross - ret.priced.totals.gross, toPay: priced.totals.toPay - ret.priced.totals.refund, enrollments: 1 });
    expect(report.cashiers[0]).toMatchObject({ name: 'Анна', receipts: 1, returns: 1 });
    // A shift opened before migration 0011 has no place noted: its report reads from the start, and
    // (by time alone) also counts the enrollment of the same minute made before it opened.
    ledger.sqlite.prepare('UPDATE shifts SET receipts_from = NULL, outbox_from = NULL WHERE id = ?').run(shift.id);
    expect(shiftReport(ledger, shift.id)).toEqual({ ...report, totals: { ...report.totals, enrollments: 2 } });
    expect(() => closeShift(ledger, shift.id, T0)).toThrow(/not open/);
    ledger.close();
  });
});
