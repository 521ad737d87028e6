// Seed examples (../shared/seeds) priced by hand: each expectation below is worked out in the
// comment next to it, not read back from the engine.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { cardStateNeeds, priceBasket, priceReturn, validateProgram, type Basket, type CardState, type PointLot, type Program, type PricedBasket } from './index';

const NOW = '2026-11-23T09:00:00.000Z'; // Monday 23 Nov 2026, 12:00 Moscow time

function program(json: Record<string, unknown>): { program: Program; hash: string } {
  const c = validateProgram({ id: 'p', version: 1, name: 'Test', ...json });
  if (!c.ok) throw new Error(JSON.stringify(c.errors));
  return { program: c.program, hash: c.hash };
}
function card(over: Partial<CardState> = {}): CardState {
  return { lots: [], lifetimeSpend: 0, purchaseCount: 0, holder: {}, ...over };
}
function lot(lotId: string, points: number, earnedAt: string, over: Partial<PointLot> = {}): PointLot {
  return { lotId, points, earnedAt, activatesAt: earnedAt, expiresAt: null, ...over };
}
const line = (sku: string, unitPrice: number, qty = 1, category = 'grocery') => ({ sku, name: sku, category, qty, unitPrice });
function price(json: Record<string, unknown>, c: CardState | null, basket: Basket, redeemPoints = 0, now = NOW): PricedBasket {
  const p = program(json);
  return priceBasket(p.program, p.hash, c, basket, { now, redeemPoints });
}
function consistent(p: PricedBasket) {
  for (const l of p.lines) expect(l.net).toBe(l.gross - l.discount - l.redeem);
  expect(p.totals.toPay).toBe(p.totals.gross - p.totals.discount - p.totals.redeemKopecks);
  expect(p.lines.reduce((s, l) => s + l.pointsRedeemed, 0)).toBe(p.totals.pointsRedeemed);
  expect(p.redemption.fromLots.reduce((s, l) => s + l.points, 0)).toBe(p.totals.pointsRedeemed);
}

describe('program format', () => {
  it('names the path and says what is wrong', () => {
    const c = validateProgram({
      id: 'x', version: 1, name: 'x',
      discounts: [{ id: 'c', type: 'cumulative', measure: 'count', bands: [{ from: 1, to: 5, percent: 3 }, { from: 5, to: 10, percent: 5 }, { from: 4, percent: 7 }] }],
    });
    expect(c.ok).toBe(false);
    if (!c.ok) expect(c.errors).toContainEqual({ path: 'discounts[0].bands[2].from', message: 'must be greater than bands[1].from' });
  });
  it('refuses overlapping bands (the seed\'s "up to 5 / 5–10" overlap) unless one boundary is exclusive', () => {
    const bands = (upper: string) => [{ from: 1, to: 5, upper, percent: 3 }, { from: 5, to: 10, percent: 5 }];
    const bad = validateProgram({ id: 'x', version: 1, name: 'x', discounts: [{ id: 'c', type: 'cumulative', measure: 'count', bands: bands('inclusive') }] });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.errors[0]!.path).toBe('discounts[0].bands[1].from');
    expect(validateProgram({ id: 'x', version: 1, name: 'x', discounts: [{ id: 'c', type: 'cumulative', measure: 'count', bands: bands('exclusive') }] }).ok).toBe(true);
  });
  it('rejects floats in money and unknown fields', () => {
    const c = validateProgram({ id: 'x', version: 1, name: 'x', pointValue: 0.5, discounts: [{ id: 'f', type: 'fixed', percent: 10, extra: 1 }] });
    expect(c.ok).toBe(false);
    if (!c.ok) expect(c.errors.map((e) => e.path)).toEqual(expect.arrayContaining(['pointValue', 'discounts[0]']));
  });
  it('warns below 10% (seed 003 L128) and hashes stably', () => {
    const a = validateProgram({ id: 'x', version: 1, name: 'x', discounts: [{ id: 'f', type: 'fixed', percent: 5 }] });
    const b = validateProgram({ name: 'x', discounts: [{ percent: 5, type: 'fixed', id: 'f' }], version: 1, id: 'x' });
    expect(a.ok && b.ok).toBe(true);
    if (a.ok && b.ok) {
      expect(a.warnings).toEqual([expect.objectContaining({ path: 'discounts[0].percent' })]);
      expect(a.hash).toBe(b.hash);
      expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
    }
  });
  it('the demo program is valid and exercises a tier, earn, capped redemption and an exclusion', () => {
    const c = validateProgram(JSON.parse(readFileSync(new URL('../resources/demo-program.json', import.meta.url), 'utf8')));
    expect(c.ok).toBe(true);
    if (!c.ok) return;
    expect(c.program.discounts.some((d) => d.type === 'cumulative')).toBe(true);
    expect(c.program.earn).toBeDefined();
    expect(c.program.redeem?.maxSharePercent).toBeLessThan(100);
    expect(c.program.exclusions.length).toBeGreaterThan(0);
  });
});

describe('discounts', () => {
  it('fixed discount card: 10% of 459,00 ₽ = 45,90 ₽', () => {
    const p = price({ discounts: [{ id: 'f', type: 'fixed', percent: 10 }] }, card(), { lines: [line('A', 45900)] });
    expect(p.lines[0]!.discount).toBe(4590);
    expect(p.lines[0]!.reasons[0]!.ru).toBe('Скидка по карте 10%');
  });
  it('no card, no loyalty', () => {
    const p = price({ discounts: [{ id: 'f', type: 'fixed', percent: 10 }], earn: { mode: 'percent', percent: 5 } }, null, { lines: [line('A', 45900)] });
    expect(p.totals).toMatchObject({ discount: 0, pointsEarned: 0, toPay: 45900 });
  });
  it('cumulative by purchase count, seed 001 L49 with explicit bounds', () => {
    const json = {
      discounts: [{ id: 'c', type: 'cumulative', measure: 'count', bands: [
        { from: 1, to: 5, upper: 'exclusive', percent: 3 },
        { from: 5, to: 10, upper: 'inclusive', percent: 5 },
        { from: 11, to: 20, upper: 'inclusive', percent: 7 },
      ] }],
    };
    const at = (earlier: number) => price(json, card({ purchaseCount: earlier }), { lines: [line('A', 100000)] }).lines[0]!.discount;
    expect(at(0)).toBe(3000); // 1st purchase: 3%
    expect(at(3)).toBe(3000); // 4th
    expect(at(4)).toBe(5000); // 5th: the boundary belongs to the 5–10 band
    expect(at(9)).toBe(5000); // 10th: inclusive upper bound
    expect(at(10)).toBe(7000); // 11th
    expect(at(20)).toBe(0); // 21st: beyond the last band
    const p = price(json, card({ purchaseCount: 6 }), { lines: [line('A', 100000)] });
    expect(p.lines[0]!.reasons[0]!.ru).toBe('Накопительная скидка 5%: 7-я покупка');
  });
  it('cumulative by spend, M.Video style 3%…15% (seed 001 L106)', () => {
    const json = { discounts: [{ id: 's', type: 'cumulative', measure: 'spend', bands: [
      { from: 0, to: 5_000_000, percent: 3 }, { from: 5_000_000, to: 15_000_000, percent: 7 }, { from: 15_000_000, percent: 15 },
    ] }] };
    expect(price(json, card({ lifetimeSpend: 4_999_999 }), { lines: [line('A', 10000)] }).totals.discount).toBe(300);
    expect(price(json, card({ lifetimeSpend: 5_000_000 }), { lines: [line('A', 10000)] }).totals.discount).toBe(700);
    expect(price(json, card({ lifetimeSpend: 20_000_000 }), { lines: [line('A', 10000)] }).totals.discount).toBe(1500);
  });
  it('quantity: 50 units or more of one item → 10% (seed 004 L91)', () => {
    const json = { discounts: [{ id: 'q', type: 'quantity', minQty: 50, percent: 10 }] };
    expect(price(json, card(), { lines: [line('BOLT', 1000, 49)] }).totals.discount).toBe(0);
    expect(price(json, card(), { lines: [line('BOLT', 1000, 50)] }).totals.discount).toBe(5000);
  });
  it('bundles: product + installation 5%, a door set 20% only when complete (seed 004 L91/L100)', () => {
    const json = { discounts: [
      { id: 'k', type: 'bundle', items: [{ sku: 'KETTLE' }, { sku: 'SETUP' }], percent: 5 },
      { id: 'd', type: 'bundle', name: 'Дверь в сборе', items: [{ sku: 'LEAF' }, { sku: 'FRAME' }, { category: 'fittings', qty: 2 }], percent: 20 },
    ] };
    expect(price(json, card(), { lines: [line('KETTLE', 249000)] }).totals.discount).toBe(0);
    expect(price(json, card(), { lines: [line('KETTLE', 249000), line('SETUP', 50000), line('MILK', 8990)] }).lines.map((l) => l.discount)).toEqual([12450, 2500, 0]);
    const door = [line('LEAF', 890000), line('FRAME', 310000), line('HANDLE', 150000, 1, 'fittings')];
    expect(price(json, card(), { lines: door }).totals.discount).toBe(0);
    const full = price(json, card(), { lines: [...door, line('HINGE', 50000, 1, 'fittings')] });
    expect(full.totals.discount).toBe(178000 + 62000 + 30000 + 10000);
    expect(full.lines[0]!.reasons[0]!.ru).toBe('Комплект «Дверь в сборе»: 20%');
  });
  it('repeat purchase within a year: 10% (seed 004 L101)', () => {
    const json = { discounts: [{ id: 'r', type: 'repeat', withinDays: 365, percent: 10 }] };
    const c = card({ lastBought: { PAINT: '2026-02-01T10:00:00Z', OLD: '2025-10-01T10:00:00Z' } });
    expect(price(json, c, { lines: [line('PAINT', 100000), line('OLD', 100000), line('NEW', 100000)] }).lines.map((l) => l.discount)).toEqual([10000, 0, 0]);
    // The ledger is asked when the basket's items were last bought, as far back as the longest such rule.
    expect(cardStateNeeds(program(json).program, NOW, { lines: [line('PAINT', 1), line('NEW', 1), line('PAINT', 2)] }).bought).toEqual({ since: new Date(Date.parse(NOW) - 365 * 86_400_000).toISOString(), skus: ['PAINT', 'NEW'] });
    expect(cardStateNeeds(program({}).program, NOW, { lines: [line('PAINT', 1)] }).bought).toBeNull();
  });
  it('segment offers: pensioners on Mon–Wed, women 60+, only after a year (seed 001 L69, L73)', () => {
    const json = { discounts: [
      { id: 'soc', type: 'offer', name: 'Социальные дни', when: { weekdays: [1, 2, 3], socialCategories: ['pensioner'] }, percent: 10 },
      { id: 'w60', type: 'offer', when: { sex: 'female', ageMin: 60 }, percent: 15 },
      { id: 'loyal', type: 'offer', when: { tenureDaysMin: 365 }, percent: 12 },
    ], stacking: 'best' };
    const basket = { lines: [line('A', 100000)] };
    expect(price(json, card({ holder: { socialCategory: 'pensioner' } }), basket).totals.discount).toBe(10000); // Monday
    expect(price(json, card({ holder: { socialCategory: 'pensioner' } }), basket, 0, '2026-11-26T09:00:00Z').totals.discount).toBe(0); // Thursday
    expect(price(json, card({ holder: { sex: 'female', birthDate: '1966-11-24' } }), basket).totals.discount).toBe(0); // 59 until tomorrow
    expect(price(json, card({ holder: { sex: 'female', birthDate: '1966-11-23' } }), basket).totals.discount).toBe(15000); // 60 today
    expect(price(json, card({ holder: { enrolledAt: '2025-11-24T00:00:00Z' } }), basket).totals.discount).toBe(0);
    expect(price(json, card({ holder: { enrolledAt: '2025-11-23T00:00:00Z' } }), basket).totals.discount).toBe(12000);
  });
  it('time-boxed offer and holiday calendar', () => {
    const json = { discounts: [
      { id: 'nov', type: 'offer', when: { from: '2026-11-01T00:00:00+03:00', to: '2026-12-01T00:00:00+03:00' }, percent: 10 },
      { id: 'h', type: 'holiday', name: '8 Марта', dates: ['03-08'], percent: 20 },
    ], stacking: 'best' };
    const basket = { lines: [line('A', 100000)] };
    expect(price(json, card(), basket).totals.discount).toBe(10000);
    expect(price(json, card(), basket, 0, '2026-11-30T20:59:59Z').totals.discount).toBe(10000);
    expect(price(json, card(), basket, 0, '2026-11-30T21:00:00Z').totals.discount).toBe(0);
    expect(price(json, card(), basket, 0, '2027-03-07T21:30:00Z').totals.discount).toBe(20000); // 00:30 on 8 March in Moscow
  });
  it('birthday discount within ±3 days, across the year end', () => {
    const json = { discounts: [{ id: 'b', type: 'birthday', daysBefore: 3, daysAfter: 3, percent: 10 }] };
    const basket = { lines: [line('A', 100000)] };
    expect(price(json, card({ holder: { birthDate: '1990-11-26' } }), basket).totals.discount).toBe(10000);
    expect(price(json, card({ holder: { birthDate: '1990-11-27' } }), basket).totals.discount).toBe(0);
    expect(price(json, card({ holder: { birthDate: '1990-01-01' } }), basket, 0, '2026-12-30T09:00:00Z').totals.discount).toBe(10000);
  });
  it('stacking: additive, best-of, exclusive', () => {
    const discounts = [{ id: 'f', type: 'fixed', percent: 5 }, { id: 'q', type: 'quantity', minQty: 2, percent: 10 }];
    const basket = { lines: [line('A', 10000, 2)] };
    expect(price({ discounts, stacking: 'additive' }, card(), basket).totals.discount).toBe(3000);
    expect(price({ discounts, stacking: 'best' }, card(), basket).totals.discount).toBe(2000);
    expect(price({ discounts, stacking: 'exclusive' }, card(), basket).totals.discount).toBe(1000);
  });
  it('exclusions: tobacco gets no discount and no points', () => {
    const json = { discounts: [{ id: 'f', type: 'fixed', percent: 10 }], earn: { mode: 'percent', percent: 10 }, exclusions: [{ categories: ['tobacco'], from: ['discount', 'earn'] }] };
    const p = price(json, card(), { lines: [line('CIG', 22000, 1, 'tobacco'), line('A', 10000)] });
    expect(p.lines.map((l) => [l.discount, l.pointsEarned])).toEqual([[0, 0], [1000, 9]]);
  });
  it('per-line and per-receipt caps (seed 000 L157)', () => {
    const json = { discounts: [{ id: 'f', type: 'fixed', percent: 20 }, { id: 'q', type: 'quantity', minQty: 2, percent: 20 }], stacking: 'additive', limits: { maxLineDiscountPercent: 30, maxReceiptDiscountPercent: 25 } };
    const p = price(json, card(), { lines: [line('A', 10000, 2), line('B', 10000)] });
    // A: 40% capped to 30% = 6000; B: 20% = 2000; receipt: 8000 > 25% of 30000 = 7500 → 7500 split 6:2 → 5625 + 1875
    expect(p.lines.map((l) => l.discount)).toEqual([5625, 1875]);
    expect(p.totals.discount).toBe(7500);
    expect(p.lines[0]!.reasons.reduce((s, r) => s + (r.kopecks ?? 0), 0)).toBe(5625);
  });
});

describe('points', () => {
  const bonus = { earn: { mode: 'percent', percent: 5 }, redeem: { minBalance: 100, maxSharePercent: 30 } };
  it('earn 5% of what is paid, rounded down; 1 point per 100 ₽ (seed 001 L41)', () => {
    expect(price(bonus, card(), { lines: [line('A', 99999)] }).totals.pointsEarned).toBe(49); // 49.9995
    expect(price({ earn: { mode: 'perAmount', per: 10000, points: 1 } }, card(), { lines: [line('A', 99999)] }).totals.pointsEarned).toBe(9);
  });
  it('redemption: minimum balance, share cap, FIFO over lots, expired and pending lots skipped', () => {
    const lots = [
      lot('old', 50, '2026-01-01T00:00:00Z'),
      lot('expired', 500, '2025-01-01T00:00:00Z', { expiresAt: '2026-01-01T00:00:00Z' }),
      lot('newer', 300, '2026-06-01T00:00:00Z'),
      lot('pending', 400, '2026-11-20T00:00:00Z', { activatesAt: '2026-12-04T00:00:00Z' }),
    ];
    expect(price(bonus, card({ lots: [lot('a', 99, '2026-01-01T00:00:00Z')] }), { lines: [line('A', 100000)] }, 50).redemption.refusedReason?.code).toBe('redeem_min_balance');
    const p = price(bonus, card({ lots }), { lines: [line('A', 60000), line('B', 40000)] }, 10_000);
    expect(p.redemption.maxPoints).toBe(300); // 30% of 1000 ₽ = 300 points (350 usable)
    expect(p.redemption.fromLots).toEqual([{ lotId: 'old', points: 50 }, { lotId: 'newer', points: 250 }]);
    expect(p.lines.map((l) => l.redeem)).toEqual([18000, 12000]);
    expect(p.totals.toPay).toBe(70000);
    expect(p.totals.pointsEarned).toBe(35); // 5% of 700 ₽ paid
    consistent(p);
  });
  it('earn-or-burn: no earning on a receipt that redeems', () => {
    const json = { ...bonus, earn: { mode: 'percent', percent: 5, earnOrBurn: true } };
    const p = price(json, card({ lots: [lot('a', 200, '2026-01-01T00:00:00Z')] }), { lines: [line('A', 100000)] }, 100);
    expect(p.totals).toMatchObject({ pointsRedeemed: 100, pointsEarned: 0 });
    expect(p.reasons.map((r) => r.code)).toContain('earn_or_burn');
  });
  it('daily limits on earning and redeeming', () => {
    const json = { earn: { mode: 'percent', percent: 10, dailyLimit: 100 }, redeem: { dailyLimit: 50 } };
    const c = card({ lots: [lot('a', 500, '2026-01-01T00:00:00Z')], today: { earned: 80, redeemed: 30 } });
    const p = price(json, c, { lines: [line('A', 100000)] }, 500);
    expect(p.totals.pointsRedeemed).toBe(20);
    expect(p.totals.pointsEarned).toBe(20);
    // The points of the day count from the chain's local midnight (UTC+3: 21:00 UTC the day before),
    // and the ledger is asked for them only when the program has a daily limit.
    const from = (over: Record<string, unknown>, now: string) => cardStateNeeds(program(over).program, now, { lines: [line('A', 100)] }).todayFrom;
    expect(from({ ...json, utcOffsetMinutes: 180 }, '2026-11-20T21:30:00.000Z')).toBe('2026-11-20T21:00:00.000Z');
    expect(from({ ...json, utcOffsetMinutes: 180 }, '2026-11-20T20:59:59.999Z')).toBe('2026-11-19T21:00:00.000Z');
    expect(from({ ...json, utcOffsetMinutes: -300 }, '2026-11-20T03:00:00.000Z')).toBe('2026-11-19T05:00:00.000Z');
    expect(from({ earn: { mode: 'percent', percent: 10 } }, '2026-11-20T21:30:00.000Z')).toBeNull();
  });
  it('birthday-week rate, holiday rate and welcome bonus; activation delay and expiry per lot', () => {
    const json = { earn: { mode: 'percent', percent: 5, activationDays: 14, expiryDays: 365, birthday: { percent: 10, daysBefore: 7, daysAfter: 7 } }, welcome: { points: 200 } };
    const p = price(json, card({ firstPurchase: true, holder: { birthDate: '1980-11-28' } }), { lines: [line('A', 100000)] });
    expect(p.earnLots).toEqual([
      expect.objectContaining({ points: 100, source: 'purchase', activatesAt: '2026-12-07T09:00:00.000Z', expiresAt: '2027-12-07T09:00:00.000Z' }),
      expect.objectContaining({ points: 200, source: 'welcome', activatesAt: NOW.replace('.000Z', '.000Z') }),
    ]);
    expect(p.lines[0]!.reasons.at(-1)!.ru).toBe('Бонус ко дню рождения 10%: +100 баллов');
  });
});

describe('returns', () => {
  const json = { discounts: [{ id: 'f', type: 'fixed', percent: 10 }], earn: { mode: 'percent', percent: 5 }, redeem: { maxSharePercent: 50 } };
  const sale = () => price(json, card({ lots: [lot('L1', 70, '2026-01-01T00:00:00Z'), lot('L2', 100, '2026-02-01T00:00:00Z', { expiresAt: '2027-02-01T00:00:00Z' })] }), { lines: [line('A', 3333, 3), line('B', 10001, 1), line('C', 777, 7)] }, 150);

  it('partial returns in any split add up to one full return', () => {
    const s = sale();
    const full = priceReturn(s, {}, [{ lineNo: 1, qty: 3 }, { lineNo: 2, qty: 1 }, { lineNo: 3, qty: 7 }]);
    expect(full.ok).toBe(true);
    if (!full.ok) return;
    expect(full.value.totals).toEqual({ gross: s.totals.gross, discount: s.totals.discount, redeemKopecks: s.totals.redeemKopecks, refund: s.totals.toPay, pointsTakenBack: s.totals.pointsEarned, pointsRestored: s.totals.pointsRedeemed });
    expect(full.value.restoreLots).toEqual(s.redemption.fromLots);
    const returned: Record<number, number> = {};
    const acc = { refund: 0, discount: 0, taken: 0, restored: new Map<string, number>() };
    for (const step of [[{ lineNo: 3, qty: 2 }], [{ lineNo: 1, qty: 1 }, { lineNo: 3, qty: 1 }], [{ lineNo: 1, qty: 2 }], [{ lineNo: 3, qty: 4 }, { lineNo: 2, qty: 1 }]]) {
      const r = priceReturn(s, returned, step);
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      acc.refund += r.value.totals.refund;
      acc.discount += r.value.totals.discount;
      acc.taken += r.value.totals.pointsTakenBack;
      for (const l of r.value.restoreLots) acc.restored.set(l.lotId, (acc.restored.get(l.lotId) ?? 0) + l.points);
      for (const x of step) returned[x.lineNo] = (returned[x.lineNo] ?? 0) + x.qty;
      expect(r.value.complete).toBe(Object.values(returned).reduce((a, b) => a + b, 0) === 11);
    }
    expect(acc.refund).toBe(full.value.totals.refund);
    expect(acc.discount).toBe(full.value.totals.discount);
    expect(acc.taken).toBe(full.value.totals.pointsTakenBack);
    expect([...acc.restored.entries()]).toEqual(full.value.restoreLots.map((l) => [l.lotId, l.points]));
  });
  it('refuses returning more than was sold, with a clear message', () => {
    const r = priceReturn(sale(), { 2: 1 }, [{ lineNo: 2, qty: 1 }]);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]!.message).toBe('"B": 1 to return, but 1 sold and 1 already returned');
    const r2 = priceReturn(sale(), {}, [{ lineNo: 9, qty: 1 }]);
    expect(r2.ok).toBe(false);
  });
});
