// Properties that must hold for every basket, card and program variant: the kopecks always add
// up, caps always hold, no lot is overdrawn, and partial returns always equal one full return.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { allocate, priceBasket, priceReturn, validateProgram, type Basket, type CardState, type Program } from './index';
import { isoBefore } from './time';

const variants = [
  { stacking: 'additive', limits: { maxLineDiscountPercent: 30, maxReceiptDiscountPercent: 25 }, earn: { mode: 'percent', percent: 5 }, redeem: { minBalance: 10, maxSharePercent: 30 } },
  { stacking: 'best', earn: { mode: 'perAmount', per: 10000, points: 3 }, redeem: { maxSharePercent: 100 }, pointValue: 37 },
  { stacking: 'exclusive', limits: { maxLineDiscountPercent: 12.5 }, earn: { mode: 'percent', percent: 7.5, rounding: 'halfUp', earnOrBurn: true }, redeem: { maxSharePercent: 50, dailyLimit: 300 } },
].map((v) => {
  const c = validateProgram({
    id: 'prop', version: 1, name: 'prop', ...v,
    exclusions: [{ categories: ['tobacco'], from: ['discount', 'earn', 'redeem'] }],
    discounts: [
      { id: 'f', type: 'fixed', percent: 10 },
      { id: 'c', type: 'cumulative', measure: 'count', bands: [{ from: 1, to: 3, percent: 3 }, { from: 3, percent: 17.33 }] },
      { id: 'q', type: 'quantity', minQty: 3, percent: 15 },
      { id: 'b', type: 'bundle', items: [{ sku: 'S0' }, { sku: 'S1' }], percent: 20 },
    ],
  });
  if (!c.ok) throw new Error(JSON.stringify(c.errors));
  return { program: c.program as Program, hash: c.hash };
});

const basketArb: fc.Arbitrary<Basket> = fc.record({
  lines: fc.array(
    fc.record({ sku: fc.constantFrom('S0', 'S1', 'S2', 'S3'), name: fc.constant('x'), category: fc.constantFrom('grocery', 'tobacco', 'dairy'), qty: fc.integer({ min: 1, max: 60 }), unitPrice: fc.integer({ min: 0, max: 5_000_000 }) }),
    { minLength: 1, maxLength: 12 },
  ),
});
const cardArb: fc.Arbitrary<CardState> = fc.record({
  lots: fc.array(
    fc.record({ lotId: fc.uuid(), points: fc.integer({ min: -50, max: 5000 }), earnedAt: fc.constantFrom('2026-01-01T00:00:00Z', '2026-06-01T00:00:00Z'), activatesAt: fc.constantFrom('2026-01-01T00:00:00Z', '2026-12-30T00:00:00Z'), expiresAt: fc.constantFrom(null, '2026-10-01T00:00:00Z', '2027-10-01T00:00:00Z') }),
    { maxLength: 6 },
  ),
  lifetimeSpend: fc.integer({ min: 0, max: 100_000_000 }),
  purchaseCount: fc.integer({ min: 0, max: 50 }),
  holder: fc.constant({}),
  today: fc.record({ earned: fc.integer({ min: 0, max: 400 }), redeemed: fc.integer({ min: 0, max: 400 }) }),
});
const NOW = '2026-11-22T10:00:00Z';

describe('engine properties', () => {
  it('isoBefore: the order of the times, whether compared as text (toISOString\'s form) or parsed', () => {
    // Three spellings of one time: toISOString's, without milliseconds, at UTC+03:00.
    const forms = [
      (t: number) => new Date(t).toISOString(),
      (t: number) => new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      (t: number) => new Date(t + 3 * 3_600_000).toISOString().replace('Z', '+03:00'),
    ];
    const time = fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2090, 0, 1) }).map((t) => t - (t % 1000)); // whole seconds: every form can spell them
    fc.assert(
      fc.property(time, fc.oneof(time, fc.constant(Date.UTC(2026, 10, 22))), fc.nat(2), fc.nat(2), fc.boolean(), (a, b, fa, fb, orSame) => {
        expect(isoBefore(forms[fa]!(a), forms[fb]!(b), orSame)).toBe(orSame ? a <= b : a < b);
        expect(isoBefore(forms[fa]!(a), forms[fb]!(a), orSame)).toBe(orSame);
      }),
      { numRuns: 3000 },
    );
  });

  it('allocate: parts add up exactly, follow the weights within one unit, respect caps', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1_000_000 }), { minLength: 1, maxLength: 20 }), fc.nat(), (weights, seed) => {
        const sumW = weights.reduce((a, b) => a + b, 0);
        const total = sumW === 0 ? 0 : seed % (sumW + 1);
        const parts = allocate(total, weights, weights);
        expect(parts.reduce((a, b) => a + b, 0)).toBe(total);
        parts.forEach((p, i) => {
          expect(Number.isInteger(p)).toBe(true);
          expect(p).toBeGreaterThanOrEqual(0);
          expect(p).toBeLessThanOrEqual(weights[i]!);
          if (sumW > 0) expect(Math.abs(p - (total * weights[i]!) / sumW)).toBeLessThan(1);
        });
      }),
      { numRuns: 2000 },
    );
  });

  it('every priced basket adds up to the kopeck and keeps every cap', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: variants.length - 1 }), basketArb, fc.option(cardArb, { nil: null }), fc.integer({ min: 0, max: 100_000 }), (v, basket, card, redeem) => {
        const { program, hash } = variants[v]!;
        const p = priceBasket(program, hash, card, basket, { now: NOW, redeemPoints: redeem });
        let gross = 0;
        for (const l of p.lines) {
          for (const x of [l.gross, l.discount, l.redeem, l.net, l.pointsEarned, l.pointsRedeemed]) expect(Number.isInteger(x) && x >= 0).toBe(true);
          expect(l.net).toBe(l.gross - l.discount - l.redeem);
          expect(l.gross).toBe(l.qty * l.unitPrice);
          if (program.limits.maxLineDiscountPercent !== undefined) expect(l.discount * 10000).toBeLessThanOrEqual(l.gross * program.limits.maxLineDiscountPercent * 100);
          if (l.category === 'tobacco') expect(l.discount + l.redeem + l.pointsEarned).toBe(0);
          gross += l.gross;
        }
        expect(p.totals.gross).toBe(gross);
        expect(p.totals.toPay).toBe(p.totals.gross - p.totals.discount - p.totals.redeemKopecks);
        if (program.limits.maxReceiptDiscountPercent !== undefined) expect(p.totals.discount * 10000).toBeLessThanOrEqual(gross * program.limits.maxReceiptDiscountPercent * 100);
        expect(p.totals.redeemKopecks).toBe(p.totals.pointsRedeemed * program.pointValue);
        expect(p.totals.pointsRedeemed).toBeLessThanOrEqual(Math.min(redeem, p.redemption.maxPoints));
        const drawn = new Map<string, number>();
        for (const d of p.redemption.fromLots) drawn.set(d.lotId, (drawn.get(d.lotId) ?? 0) + d.points);
        expect([...drawn.values()].reduce((a, b) => a + b, 0)).toBe(p.totals.pointsRedeemed);
        for (const [lotId, pts] of drawn) expect(pts).toBeLessThanOrEqual(card!.lots.find((l) => l.lotId === lotId)!.points);
        if (!card) expect(p.totals.discount + p.totals.pointsEarned + p.totals.pointsRedeemed).toBe(0);
      }),
      { numRuns: 3000 },
    );
  });

  it('any sequence of partial returns covering the receipt equals one full return', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: variants.length - 1 }), basketArb, cardArb, fc.integer({ min: 0, max: 5000 }), fc.array(fc.nat(), { minLength: 1, maxLength: 30 }), (v, basket, card, redeem, cuts) => {
        const { program, hash } = variants[v]!;
        const sale = priceBasket(program, hash, card, basket, { now: NOW, redeemPoints: redeem });
        const all = sale.lines.map((l, i) => ({ lineNo: i + 1, qty: l.qty }));
        const full = priceReturn(sale, {}, all);
        if (!full.ok) throw new Error('full return refused');
        // Split every line's quantity into random steps.
        const remaining = sale.lines.map((l) => l.qty);
        const returned: Record<number, number> = {};
        const sum = { refund: 0, discount: 0, redeem: 0, taken: 0, restored: 0 };
        const restoredByLot = new Map<string, number>();
        let k = 0;
        while (remaining.some((r) => r > 0)) {
          const step: { lineNo: number; qty: number }[] = [];
          remaining.forEach((r, i) => {
            if (r === 0) return;
            const c = cuts[k++ % cuts.length]! % (r + 1);
            if (c > 0) step.push({ lineNo: i + 1, qty: c });
          });
          if (!step.length) {
            const i = remaining.findIndex((r) => r > 0);
            step.push({ lineNo: i + 1, qty: remaining[i]! });
          }
          const r = priceReturn(sale, returned, step);
          if (!r.ok) throw new Error(JSON.stringify(r.errors));
          for (const s of step) {
            remaining[s.lineNo - 1]! -= s.qty;
            returned[s.lineNo] = (returned[s.lineNo] ?? 0) + s.qty;
          }
          sum.refund += r.value.totals.refund;
          sum.discount += r.value.totals.discount;
          sum.redeem += r.value.totals.redeemKopecks;
          sum.taken += r.value.totals.pointsTakenBack;
          sum.restored += r.value.totals.pointsRestored;
          for (const l of r.value.restoreLots) restoredByLot.set(l.lotId, (restoredByLot.get(l.lotId) ?? 0) + l.points);
        }
        expect(sum).toEqual({ refund: full.value.totals.refund, discount: full.value.totals.discount, redeem: full.value.totals.redeemKopecks, taken: full.value.totals.pointsTakenBack, restored: full.value.totals.pointsRestored });
        expect(full.value.totals.refund).toBe(sale.totals.toPay);
        expect(full.value.totals.pointsRestored).toBe(sale.totals.pointsRedeemed);
        const fullByLot = new Map<string, number>();
        for (const l of full.value.restoreLots) fullByLot.set(l.lotId, (fullByLot.get(l.lotId) ?? 0) + l.points);
        expect(restoredByLot).toEqual(fullByLot);
        // One more unit than sold is refused.
        expect(priceReturn(sale, returned, [{ lineNo: 1, qty: 1 }]).ok).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });
});
