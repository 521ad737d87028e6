// A sale returned on another terminal of the chain (SPEC §3): the till finds it through HQ, the
// return reverses exactly what the sale gave, and no unit or point comes back twice, whichever
// till the customer brings the goods to. What one till wrote off (expiry, burn) and what another
// did meanwhile without hearing of it end as if done in their true order. Two terminals and HQ over real HTTP (embedded PostgreSQL,
// or the real server with DATABASE_URL), driven through the terminal's API as the screens drive it.
import { describe, expect, it } from 'vitest';
import { Terminal } from './terminal';
import { ok, refused, tempDirs } from './testkit';
import { silentLogger } from './log';
import { createUser } from '../db/admin';
import { burnInactive, expireLots } from '../db/jobs';
import { startTestHq, type TestHq } from '../hq/testing';
import { sql } from '../hq/db';
import type { AllowancePolicy } from '../protocol/sync';

const dirs = tempDirs('elsewhere-');

const CARD = '7789000000019';
const cheese = { sku: 'CHEESE', name: 'Сыр', category: 'dairy', qty: 3, unitPrice: 32900 };
const milk = { sku: 'MILK-1L', name: 'Молоко', category: 'dairy', qty: 1, unitPrice: 8990 };

/** HQ and two tills of its chain (A has the demo cards), all closed afterwards. */
async function withTwoTills(run: (hq: TestHq, a: Terminal, b: Terminal) => Promise<void>, policy?: Partial<AllowancePolicy>) {
  const hq = await startTestHq();
  if (policy) await hq.service.allowances.setPolicy(policy);
  const a = await till(hq, true);
  const b = await till(hq, false);
  try {
    await run(hq, a, b);
  } finally {
    await a.close();
    await b.close();
    await hq.destroy();
  }
}

/** A cardholder's balance on each till and at HQ. */
async function balancesEverywhere(hq: TestHq, tills: Terminal[], holderId: string) {
  return [...tills.map((t) => t.ledger.balance(holderId)), (await hq.service.balances()).get(holderId)];
}

/** The lot a sale's points were earned into, and the points paid with out of a lot (a till's own entries). */
const earnLotOf = (t: Terminal, receiptId: string) => t.ledger.sqlite.prepare("SELECT id FROM point_entries WHERE receipt_id = ? AND kind = 'earn'").pluck().get(receiptId) as string;
const redeemedFrom = (t: Terminal, lot: string) => -(t.ledger.sqlite.prepare("SELECT sum(points) FROM point_entries WHERE lot_id = ? AND kind = 'redeem'").pluck().get(lot) as number);

/** A terminal of the chain; `demo` seeds the demo cards (one terminal only: they are enrolled there). */
async function till(hq: TestHq, demo: boolean): Promise<Terminal> {
  const dir = dirs.make();
  const t = await Terminal.start({ dataDir: dir, readers: [], demo, hqUrl: hq.url, hqCode: await hq.service.createRegistrationCode('store-1'), logger: silentLogger });
  if (!demo) createUser(t.ledger, 'Кассир Борис', 'cashier', '1111', new Date().toISOString());
  ok(await t.api.call('login', { pin: '1111' }));
  ok(await t.api.call('openShift', {}));
  return t;
}

describe('a return on another terminal', () => {
  it('finds the sale through HQ, reverses exactly what it gave, and never returns a unit or a point twice', () =>
    withTwoTills(async (hq, a, b) => {
      const card = ok(await a.api.call('identify', { query: CARD }));
      ok(await a.api.call('checkout', { cardId: card.cardId, lines: [milk] })); // the welcome bonus: points to pay with
      await a.sync!.syncOnce(); // HQ answers what the card may pay with
      const before = ok(await a.api.call('identify', { query: CARD })).balance;
      const sale = ok(await a.api.call('checkout', { cardId: card.cardId, lines: [cheese, milk], redeemPoints: 60 }));
      const { pointsEarned, pointsRedeemed } = sale.priced.totals;
      expect(pointsEarned).toBeGreaterThan(0);
      expect(pointsRedeemed).toBe(60);
      const cardless = ok(await a.api.call('checkout', { cardId: null, lines: [milk] }));
      await a.sync!.syncOnce();
      await b.sync!.syncOnce();
      const holderId = a.ledger.findCard({ number: CARD })!.cardholderId;

      // Terminal B has never seen the sale: HQ gives it, as it was priced on A.
      const found = ok(await b.api.call('findReceipt', { query: sale.receiptNumber }));
      expect(found).toMatchObject({ id: sale.receiptId, number: sale.receiptNumber, madeElsewhere: true, totals: { pointsEarned, pointsRedeemed } });
      expect(found.lines.map((l) => [l.name, l.qty, l.returned, l.unitPrice])).toEqual([['Сыр', 3, 0, 32900], ['Молоко', 1, 0, 8990]]);
      expect(found.customer?.maskedNumber).toMatch(/0019$/);

      // One cheese back on B: the same figures A's own return would give.
      const preview = ok(await b.api.call('previewReturn', { receiptId: found.id, lines: [{ lineNo: 1, qty: 1 }] }));
      const first = ok(await b.api.call('commitReturn', { receiptId: found.id, lines: [{ lineNo: 1, qty: 1 }] }));
      expect(first.priced).toEqual(preview);
      expect(first.priced.totals.pointsTakenBack).toBeGreaterThan(0);
      expect(first.priced.totals.pointsRestored).toBeGreaterThan(0);
      expect(ok(await b.api.call('findReceipt', { query: sale.receiptNumber })).lines[0]!.returned).toBe(1);
      expect(refused(await b.api.call('previewReturn', { receiptId: found.id, lines: [{ lineNo: 1, qty: 3 }] })).messageRu).toMatch(/уже возвращено 1/);

      // A hears of it through HQ's feed: it refuses the unit B took back, and returns the rest.
      await b.sync!.syncOnce();
      await a.sync!.syncOnce();
      const onA = ok(await a.api.call('findReceipt', { query: sale.receiptNumber }));
      expect(onA.madeElsewhere).toBe(false);
      expect(onA.lines.map((l) => l.returned)).toEqual([1, 0]);
      expect(refused(await a.api.call('commitReturn', { receiptId: sale.receiptId, lines: [{ lineNo: 1, qty: 3 }] })).messageRu).toMatch(/продано 3, уже возвращено 1/);
      const rest = ok(await a.api.call('commitReturn', { receiptId: sale.receiptId, lines: [{ lineNo: 1, qty: 2 }, { lineNo: 2, qty: 1 }] }));
      expect(rest.priced.complete).toBe(true);
      // Two returns on two terminals took back exactly what the sale gave, to the point.
      expect(first.priced.totals.pointsTakenBack + rest.priced.totals.pointsTakenBack).toBe(pointsEarned);
      expect(first.priced.totals.pointsRestored + rest.priced.totals.pointsRestored).toBe(pointsRedeemed);

      // Everywhere, the card is back where it was before the sale.
      await a.sync!.syncOnce();
      await b.sync!.syncOnce();
      expect((await hq.service.balances()).get(holderId)).toBe(before);
      expect(a.ledger.balance(holderId)).toBe(before);
      expect(b.ledger.balance(holderId)).toBe(before);
      expect(ok(await b.api.call('identify', { query: CARD })).balance).toBe(before);
      const rejected = await hq.db.rows(sql`SELECT reason FROM operations WHERE status = 'rejected'`);
      expect(rejected).toEqual([]);
      expect(await hq.service.overReturns()).toEqual([]); // every unit came back once
      // And B, told by the feed of A's return, has nothing left to return.
      expect(ok(await b.api.call('findReceipt', { query: sale.receiptNumber })).lines.map((l) => l.returned)).toEqual([3, 1]);
      expect(refused(await b.api.call('commitReturn', { receiptId: found.id, lines: [{ lineNo: 2, qty: 1 }] })).messageRu).toMatch(/уже возвращено 1/);
      expect(b.ledger.verify().ok).toBe(true);

      // A sale whose entries HQ's feed has not yet brought here waits for them.
      const unfed = { ...(await hq.service.saleForReturn({ terminalId: b.ledger.terminalId, storeId: 'store-1' }, sale.receiptNumber)), id: 'unfed', number: 'UNFED-1', returns: [], feedThrough: 1e12 };
      b.ledger.keepSaleElsewhere(unfed, new Date().toISOString());
      expect(refused(await b.api.call('commitReturn', { receiptId: 'unfed', lines: [{ lineNo: 2, qty: 1 }] })).messageRu).toMatch(/ещё не пришли на кассу/);

      // What B cannot return, and why.
      expect(refused(await b.api.call('findReceipt', { query: 'NOSUCH-1' }))).toMatchObject({ code: 'receipt_not_found', messageRu: expect.stringMatching(/ни на одной кассе/) });
      expect(refused(await b.api.call('findReceipt', { query: cardless.receiptNumber }))).toMatchObject({ code: 'receipt_elsewhere', messageRu: expect.stringMatching(/без карты/) });
      const later = ok(await a.api.call('checkout', { cardId: card.cardId, lines: [milk] }));
      await a.sync!.syncOnce();
      await hq.stop();
      expect(refused(await b.api.call('findReceipt', { query: later.receiptNumber }))).toMatchObject({ code: 'hq_unreachable', messageRu: expect.stringMatching(/связи с центром нет/) });
      // A sale B has fetched before stays returnable offline.
      expect(ok(await b.api.call('findReceipt', { query: sale.receiptNumber })).madeElsewhere).toBe(true);
    }),
  );

  it('points that expired on the terminal of the sale are not taken back a second time by a return on another', () =>
    withTwoTills(async (hq, a, b) => {
      const card = ok(await a.api.call('identify', { query: CARD }));
      const sale = ok(await a.api.call('checkout', { cardId: card.cardId, lines: [cheese] }));
      const earned = sale.priced.totals.pointsEarned;
      await a.sync!.syncOnce();
      // A's expiry job, run past every lot's date, writes the card's points off; B hears of it.
      expect(expireLots(a.ledger, '2099-01-01T00:00:00.000Z').expiredPoints).toBeGreaterThan(0);
      await a.sync!.syncOnce();
      await b.sync!.syncOnce();
      const holderId = a.ledger.findCard({ number: CARD })!.cardholderId;
      expect(b.ledger.balance(holderId)).toBe(0);

      // The cheese back on B, after the expiry: no earned points left to take.
      const found = ok(await b.api.call('findReceipt', { query: sale.receiptNumber }));
      const preview = ok(await b.api.call('previewReturn', { receiptId: found.id, lines: [{ lineNo: 1, qty: 3 }] }));
      expect(preview.totals.pointsTakenBack).toBe(0);
      expect(preview.reasons.map((r) => r.code)).toContain('earn_gone');
      expect(preview.reasons.find((r) => r.code === 'earn_gone')!.ru).toMatch(/Уже сгорели и повторно не списываются: \d+/);
      ok(await b.api.call('commitReturn', { receiptId: found.id, lines: [{ lineNo: 1, qty: 3 }] }));
      await b.sync!.syncOnce();
      await a.sync!.syncOnce();
      expect(earned).toBeGreaterThan(0);
      expect(await balancesEverywhere(hq, [a, b], holderId)).toEqual([0, 0, 0]);
      expect(b.ledger.verify().ok).toBe(true);
    }),
  );

  it('a return and the expiry of its points on two tills before either hears of the other: HQ gives back what they took twice', () =>
    withTwoTills(async (hq, a, b) => {
      const card = ok(await a.api.call('identify', { query: CARD }));
      const sale = ok(await a.api.call('checkout', { cardId: card.cardId, lines: [cheese, milk] }));
      await a.sync!.syncOnce();
      ok(await b.api.call('findReceipt', { query: sale.receiptNumber }));
      const holderId = a.ledger.findCard({ number: CARD })!.cardholderId;
      await hq.stop(); // both tills offline from here
      // A's expiry job writes the card's points off; B, not knowing, takes back what the cheese earned.
      expect(expireLots(a.ledger, '2099-01-01T00:00:00.000Z').expiredPoints).toBeGreaterThan(0);
      const taken = ok(await b.api.call('commitReturn', { receiptId: sale.receiptId, lines: [{ lineNo: 1, qty: 3 }] })).priced.totals.pointsTakenBack;
      expect(taken).toBeGreaterThan(0);
      await hq.start();
      for (const t of [a, b, a, b]) await t.sync!.syncOnce();
      // Had either come first, the balance would be 0 (nothing of the lot was spent): so it is, everywhere.
      expect(await balancesEverywhere(hq, [a, b], holderId)).toEqual([0, 0, 0]);
      const given = await hq.db.rows<{ kind: string; points: number }>(sql`SELECT kind, points FROM point_entries WHERE terminal_id = 'hq' AND id LIKE 'x-%'`);
      expect(given).toEqual([{ kind: 'expire', points: taken }]);
      const history = ok(await b.api.call('profile', { cardholderId: holderId })).entries.filter((e) => e.id.startsWith('x-'));
      expect(history.map((e) => [e.points, e.reason])).toEqual([[taken, expect.stringMatching(/^HQ: списание по сроку пересчитано/)]]);
      // The milk back on B as well, now that both know everything: nothing more to take, nothing more given.
      ok(await b.api.call('commitReturn', { receiptId: sale.receiptId, lines: [{ lineNo: 2, qty: 1 }] }));
      for (const t of [b, a, b]) await t.sync!.syncOnce();
      expect(await balancesEverywhere(hq, [a, b], holderId)).toEqual([0, 0, 0]);
      expect(await hq.db.rows(sql`SELECT 1 FROM point_entries WHERE terminal_id = 'hq' AND id LIKE 'x-%'`)).toHaveLength(1);
      for (const t of [a, b]) expect(t.ledger.verify().ok).toBe(true);
    }),
  );

  it('… and what was spent of the points returned is still owed: HQ gives back only what the two took twice', () =>
    withTwoTills(async (hq, a, b) => {
      const card = ok(await a.api.call('identify', { query: CARD })); // a new card: the welcome bonus comes with its first purchase
      const sale = ok(await a.api.call('checkout', { cardId: card.cardId, lines: [cheese] }));
      const holderId = a.ledger.findCard({ number: CARD })!.cardholderId;
      const lot = earnLotOf(a, sale.receiptId);
      await a.sync!.syncOnce(); // HQ, asked what the card may pay with, knows its points
      // The next purchase pays with 20 points, of the cheese's lot: the rest of it is left to expire.
      expect(ok(await a.api.call('checkout', { cardId: card.cardId, lines: [milk], redeemPoints: 20 })).priced.totals.pointsRedeemed).toBe(20);
      const spent = redeemedFrom(a, lot);
      expect(spent).toBe(20);
      await a.sync!.syncOnce();
      ok(await b.api.call('findReceipt', { query: sale.receiptNumber }));
      await hq.stop();
      expect(expireLots(a.ledger, '2099-01-01T00:00:00.000Z').expiredPoints).toBeGreaterThan(0); // what is left of each lot
      ok(await b.api.call('commitReturn', { receiptId: sale.receiptId, lines: [{ lineNo: 1, qty: 3 }] })); // all the cheese earned, as B sees it
      await hq.start();
      for (const t of [a, b, a, b]) await t.sync!.syncOnce();
      // In either order the return takes back what was spent of its points and no more: the customer owes that.
      expect(await balancesEverywhere(hq, [a, b], holderId)).toEqual([-spent, -spent, -spent]);
      for (const t of [a, b]) expect(t.ledger.verify().ok).toBe(true);
    }),
  );

  it('a spend on one till that the expiry on another did not know of keeps what it paid with; the rest of the lot expires', () =>
    withTwoTills(async (hq, a, b) => {
      // HQ lets no till hold a card's points back for paying offline (the policy below): B may pay with them.
      const card = ok(await a.api.call('identify', { query: CARD }));
      const sale = ok(await a.api.call('checkout', { cardId: card.cardId, lines: [cheese] }));
      await a.sync!.syncOnce();
      await b.sync!.syncOnce();
      const holderId = a.ledger.findCard({ number: CARD })!.cardholderId;
      const lot = earnLotOf(a, sale.receiptId);
      // A's expiry job writes every lot off and has not told HQ yet; B, online, pays with 20 points of the cheese's lot.
      expect(expireLots(a.ledger, '2099-01-01T00:00:00.000Z').expiredPoints).toBeGreaterThan(0);
      const bought = ok(await b.api.call('checkout', { cardId: b.ledger.findCard({ number: CARD })!.cardId, lines: [milk], redeemPoints: 20 }));
      expect(bought.priced.redeemRefused).toBeNull();
      expect(bought.priced.totals.pointsRedeemed).toBe(20);
      expect(redeemedFrom(b, lot)).toBe(20);
      for (const t of [a, b, a, b]) await t.sync!.syncOnce();
      // As if the purchase came first: the expiry took what was left of the lot, and only the points B's sale earned remain.
      const earned = bought.priced.totals.pointsEarned;
      expect(await balancesEverywhere(hq, [a, b], holderId)).toEqual([earned, earned, earned]);
      for (const t of [a, b]) expect(t.ledger.verify().ok).toBe(true);
    }, { perCardPoints: 0 }),
  );

  it('two tills that each return the same unit before hearing of the other: both returns stand, and HQ reports the sale', () =>
    withTwoTills(async (hq, a, b) => {
      const card = ok(await a.api.call('identify', { query: CARD }));
      const sale = ok(await a.api.call('checkout', { cardId: card.cardId, lines: [cheese, milk] }));
      await a.sync!.syncOnce();
      ok(await b.api.call('findReceipt', { query: sale.receiptNumber }));
      await hq.stop(); // both tills offline from here
      ok(await b.api.call('commitReturn', { receiptId: sale.receiptId, lines: [{ lineNo: 1, qty: 2 }] }));
      ok(await a.api.call('commitReturn', { receiptId: sale.receiptId, lines: [{ lineNo: 1, qty: 3 }, { lineNo: 2, qty: 1 }] }));
      await hq.start();
      await a.sync!.syncOnce();
      await b.sync!.syncOnce();
      expect(await hq.db.rows(sql`SELECT reason FROM operations WHERE status = 'rejected'`)).toEqual([]);
      expect(await hq.service.overReturns()).toEqual([{ terminal_id: a.ledger.terminalId, number: sale.receiptNumber, line_no: 1, sold: 3, returned: 5 }]);
    }),
  );
});

describe('a burn after inactivity on one till and a purchase on another that it had not heard of', () => {
  const DAY = 86_400_000;
  /** A sells to the new card (its welcome bonus and earned points are on A's lots), both tills hear of it; a moment later B sells to it, paying with 20 of those points. */
  async function purchaseOnB(hq: TestHq, a: Terminal, b: Terminal) {
    const card = ok(await a.api.call('identify', { query: CARD }));
    ok(await a.api.call('checkout', { cardId: card.cardId, lines: [cheese] }));
    for (const t of [a, b]) await t.sync!.syncOnce();
    const holderId = a.ledger.findCard({ number: CARD })!.cardholderId;
    const onA = a.ledger.balance(holderId);
    await new Promise((r) => setTimeout(r, 5));
    const bought = ok(await b.api.call('checkout', { cardId: b.ledger.findCard({ number: CARD })!.cardId, lines: [milk], redeemPoints: 20 }));
    expect(bought.priced.totals.pointsRedeemed).toBe(20);
    const soldAt = Date.parse(b.ledger.receipt(bought.receiptId)!.createdAt);
    const given = async () => (await hq.db.rows<{ points: number | null }>(sql`SELECT sum(points)::int AS points FROM point_entries WHERE terminal_id = 'hq' AND kind = 'burn'`))[0]!.points ?? 0;
    // HQ's figures: points burned, as ingest keeps them per store and day, and as the rows give them.
    const burnedAtHq = async () =>
      (await hq.db.rows<{ kept: number; facts: number }>(
        sql`SELECT (SELECT sum(burned)::int FROM store_days) AS kept, (SELECT sum(burned)::int FROM store_day_facts('-infinity', 'infinity')) AS facts`,
      ))[0];
    return { holderId, onA, earnedOnB: bought.priced.totals.pointsEarned, soldAt, given, burnedAtHq };
  }

  for (const first of ['the burn', 'the purchase'] as const)
    it(`the purchase shows there was no inactivity: HQ gives back all the burn took (${first} reaching HQ first), and the points burn when the card is idle again`, () =>
      withTwoTills(async (hq, a, b) => {
        const { holderId, onA, earnedOnB, soldAt, given, burnedAtHq } = await purchaseOnB(hq, a, b);
        // A's limit is a day with no purchase, its burn a day after a moment before B's sale: A sees the card idle since before it.
        const burned = burnInactive(a.ledger, 1, new Date(soldAt - 1 + DAY).toISOString());
        expect(burned.burnedPoints).toBe(onA);
        for (const t of first === 'the burn' ? [a, b, a, b] : [b, a, b, a]) await t.sync!.syncOnce();
        // As if A had not burned: what A's sale gave, less the 20 B's sale paid with, and what it earned.
        const expected = onA - 20 + earnedOnB;
        expect(await balancesEverywhere(hq, [a, b], holderId)).toEqual([expected, expected, expected]);
        expect(await given()).toBe(onA);
        expect(await burnedAtHq()).toEqual({ kept: 0, facts: 0 }); // a burn given back is no burn
        // The cardholder's history on A says why the points came back.
        const history = ok(await a.api.call('profile', { cardholderId: holderId })).entries.filter((e) => e.id.startsWith('x-'));
        expect(history.map((e) => [e.kind, e.reason])).toEqual(history.map(() => ['burn', expect.stringMatching(/^HQ: сгорание пересчитано/)]));
        expect(history.reduce((s, e) => s + e.points, 0)).toBe(onA);
        // A day after B's sale with none since, the card is idle: A burns what is left of its lots (its own points now read 0: HQ gave them back).
        expect(burnInactive(a.ledger, 1, new Date(soldAt + 1 + DAY).toISOString()).burnedPoints).toBe(onA - 20);
        for (const t of [a, b, a]) await t.sync!.syncOnce();
        expect(await balancesEverywhere(hq, [a, b], holderId)).toEqual([earnedOnB, earnedOnB, earnedOnB]);
        expect(await given()).toBe(onA);
        expect(await burnedAtHq()).toEqual({ kept: onA - 20, facts: onA - 20 });
        for (const t of [a, b]) expect(t.ledger.verify().ok).toBe(true);
      }, { perCardPoints: 0 }),
    );

  it('a burn whose inactivity began after the purchase stands: HQ gives back only what the purchase paid with', () =>
    withTwoTills(async (hq, a, b) => {
      const { holderId, onA, earnedOnB, soldAt, given, burnedAtHq } = await purchaseOnB(hq, a, b);
      expect(burnInactive(a.ledger, 1, new Date(soldAt + 1 + DAY).toISOString()).burnedPoints).toBe(onA);
      for (const t of [a, b, a, b]) await t.sync!.syncOnce();
      // The purchase first, then the burn of what was left: only what B's sale earned remains.
      expect(await balancesEverywhere(hq, [a, b], holderId)).toEqual([earnedOnB, earnedOnB, earnedOnB]);
      expect(await given()).toBe(20);
      expect(await burnedAtHq()).toEqual({ kept: onA - 20, facts: onA - 20 });
    }, { perCardPoints: 0 }),
  );
});
