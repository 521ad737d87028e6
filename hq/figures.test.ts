// Every figure on a small hand-built chain whose answers were worked out by hand (written below),
// on the embedded database — and on real PostgreSQL when DATABASE_URL is set.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHq, type TestHq } from './testing';
import { sql } from './db';
import { beforeAfter, computeFigures, rebuildStoreDays, revenuePerParticipant, rfm } from './figures';

let hq: TestHq;
const JAN = { from: '2026-01-01T00:00:00Z', to: '2026-02-01T00:00:00Z' };

beforeAll(async () => {
  hq = await startTestHq();
  const q = hq.db;
  await q.rows(sql`INSERT INTO stores (id, name) VALUES ('s1', 'Магазин 1'), ('s2', 'Магазин 2')`);
  await q.rows(sql`INSERT INTO terminals (terminal_id, store_id, public_key) VALUES ('t1', 's1', 'k1'), ('t2', 's2', 'k2')`);
  const holders: [string, string, string, string | null][] = [
    ['A', '2025-06-01T00:00:00Z', 's1', null],
    ['B', '2025-12-01T00:00:00Z', 's1', null],
    ['C', '2026-01-10T00:00:00Z', 's2', null],
    ['D', '2025-01-01T00:00:00Z', 's1', null], // never bought anything
    ['E', '2025-07-01T00:00:00Z', 's1', 'A'], // a duplicate merged into A: not a participant
  ];
  for (const [id, at, store, merged] of holders) {
    await q.rows(sql`INSERT INTO cardholders (cardholder_id, holder, enrolled_at, store_id, merged_into) VALUES (${id}, '{}'::jsonb, ${at}, ${store}, ${merged})`);
  }
  // [terminal, store, cardholder, created_at, to_pay, redeem_offered, points_redeemed, kind]
  const receipts: [string, string, string | null, string, number, number, number, string][] = [
    ['t1', 's1', 'A', '2026-01-05T10:00:00Z', 10000, 50, 0, 'sale'],
    ['t1', 's1', 'A', '2026-01-20T10:00:00Z', 30000, 50, 20, 'sale'],
    ['t1', 's1', 'B', '2026-01-07T10:00:00Z', 5000, 0, 0, 'sale'],
    ['t2', 's2', 'C', '2026-01-15T10:00:00Z', 5000, 10, 0, 'sale'],
    ['t1', 's1', null, '2026-01-08T10:00:00Z', 4000, 0, 0, 'sale'],
    ['t2', 's2', null, '2026-01-09T10:00:00Z', 6000, 0, 0, 'sale'],
    ['t2', 's2', null, '2026-01-25T10:00:00Z', 2000, 0, 0, 'sale'],
    ['t1', 's1', 'B', '2025-12-15T10:00:00Z', 7000, 0, 0, 'sale'], // before the period
    ['t1', 's1', 'A', '2026-02-10T10:00:00Z', 9000, 0, 0, 'sale'], // after it
    ['t1', 's1', 'A', '2026-01-21T10:00:00Z', 1000, 0, 0, 'return'], // a return is not a sale
  ];
  let i = 0;
  for (const [t, store, holder, at, toPay, offered, redeemed, kind] of receipts) {
    i++;
    await q.rows(
      sql`INSERT INTO receipts (terminal_id, id, number, kind, store_id, card_id, cardholder_id, created_at, gross, discount, redeem_kopecks, to_pay, points_earned, points_redeemed, chain_seq, hash, redeem_offered)
          VALUES (${t}, ${'r' + i}, ${'N' + i}, ${kind}, ${store}, ${holder ? 'card-' + holder : null}, ${holder}, ${at}, ${toPay}, 0, 0, ${toPay}, 0, ${redeemed}, ${i}, 'h', ${offered})`,
    );
  }
  // [terminal, cardholder, kind, points, created_at]
  const entries: [string, string, string, number, string][] = [
    ['t1', 'A', 'earn', 100, '2026-01-05T10:00:00Z'],
    ['t1', 'A', 'earn', 300, '2026-01-20T10:00:00Z'],
    ['t1', 'A', 'redeem', -20, '2026-01-20T10:00:00Z'],
    ['t2', 'C', 'welcome', 200, '2026-01-15T10:00:00Z'],
    ['t1', 'B', 'expire', -30, '2026-01-31T10:00:00Z'],
    ['t1', 'A', 'burn', -10, '2026-01-25T10:00:00Z'],
    ['t1', 'B', 'earn', 70, '2025-12-15T10:00:00Z'], // before the period
    ['hq', 'A', 'transfer', 500, '2026-01-22T10:00:00Z'], // HQ's own transfer: not earned
  ];
  let j = 0;
  for (const [t, holder, kind, points, at] of entries) {
    await q.rows(sql`INSERT INTO point_entries (cardholder_id, id, terminal_id, kind, points, created_at) VALUES (${holder}, ${'e' + ++j}, ${t}, ${kind}, ${points}, ${at})`);
  }
  const nps: [string, number, string][] = [
    ['s1', 10, '2026-01-05T11:00:00Z'],
    ['s1', 9, '2026-01-06T11:00:00Z'],
    ['s1', 8, '2026-01-07T11:00:00Z'],
    ['s1', 6, '2026-01-08T11:00:00Z'],
    ['s1', 3, '2026-01-09T11:00:00Z'],
    ['s2', 10, '2026-01-10T11:00:00Z'],
    ['s2', 0, '2026-02-10T11:00:00Z'], // after the period
  ];
  let k = 0;
  for (const [store, score, at] of nps) await q.rows(sql`INSERT INTO nps (terminal_id, id, store_id, score, created_at) VALUES (${store === 's1' ? 't1' : 't2'}, ${'n' + ++k}, ${store}, ${score}, ${at})`);
  await rebuildStoreDays(q); // the rows went in by SQL, not by upload
});
afterAll(async () => {
  await hq.destroy();
});

describe('HQ figures on a hand-built chain', () => {
  it('chain-wide, January', async () => {
    const f = await computeFigures(hq.db, { ...JAN, churnDays: 90 });
    expect(f.buyers).toBe(3); // A, B, C
    expect(f.anonymousReceipts).toBe(3);
    expect(f.attractionRatio).toBe(0.5); // 3 / (3 + 3)
    expect(f.participants).toBe(4); // A, B, C, D (E merged)
    expect(f.activityRatio).toBe(0.75); // 3 / 4
    expect(f.churnRate).toBe(0.25); // D: enrolled 2025-01-01, nothing since, past 90 days
    expect(f.inactivity).toEqual([
      { bucket: '0-30', participants: 3 },
      { bucket: '31-90', participants: 0 },
      { bucket: '91-180', participants: 0 },
      { bucket: '181-365', participants: 0 },
      { bucket: '>365', participants: 0 },
      { bucket: 'never', participants: 1 },
    ]);
    expect(f.revenue).toBe(62000);
    expect(f.participantRevenue).toBe(50000);
    expect(f.participantRevenueShare).toBeCloseTo(50000 / 62000, 10);
    expect(f.top20RevenueShare).toBe(0.8); // top 20% of 3 buyers = 1 (A: 40000 of 50000)
    expect(f.refusalShare).toBeCloseTo(2 / 3, 10); // offered on 3 receipts, declined on 2
    expect(f.avgReceiptWithCard).toBe(12500); // 50000 / 4
    expect(f.avgReceiptWithoutCard).toBe(4000); // 12000 / 3
    expect([f.pointsEarned, f.pointsRedeemed, f.pointsBurned]).toEqual([600, 20, 40]);
    expect(f.redemptionRatio).toBeCloseTo(20 / 600, 10);
    expect(f.burnRatio).toBeCloseTo(40 / 600, 10);
    expect(f.nps).toEqual({ responses: 6, promoters: 3, critics: 2, score: 16.7 }); // (3 − 2) / 6
  });

  it('one store, January', async () => {
    const f = await computeFigures(hq.db, { ...JAN, storeId: 's1', churnDays: 90 });
    expect(f.attractionRatio).toBeCloseTo(2 / 3, 10); // A, B and one anonymous receipt
    expect(f.participants).toBe(3); // A, B, D enrolled at s1
    expect(f.activityRatio).toBeCloseTo(2 / 3, 10);
    expect(f.churnRate).toBeCloseTo(1 / 3, 10);
    expect(f.revenue).toBe(49000);
    expect(f.participantRevenueShare).toBeCloseTo(45000 / 49000, 10);
    expect(f.top20RevenueShare).toBeCloseTo(40000 / 45000, 10);
    expect(f.refusalShare).toBe(0.5);
    expect(f.avgReceiptWithCard).toBe(15000);
    expect([f.pointsEarned, f.pointsRedeemed, f.pointsBurned]).toEqual([400, 20, 40]);
    expect(f.nps.score).toBe(0); // 2 promoters, 2 critics of 5
  });

  it('a period that starts and ends mid-day: whole days from the day sums, the edges from the rows', async () => {
    const f = await computeFigures(hq.db, { from: '2026-01-05T12:00:00Z', to: '2026-01-20T12:00:00Z' });
    // In: A Jan 20 10:00 (30000, offered, 20 redeemed), B Jan 7 (5000), C Jan 15 (5000, offered,
    // declined), anonymous Jan 8 (4000) and Jan 9 (6000). Out: A Jan 5 10:00, anonymous Jan 25.
    expect([f.buyers, f.anonymousReceipts, f.revenue, f.participantRevenue]).toEqual([3, 2, 50000, 40000]);
    expect(f.attractionRatio).toBe(0.6);
    expect(f.refusalShare).toBe(0.5);
    expect(f.top20RevenueShare).toBe(0.75); // A: 30000 of 40000
    expect([f.avgReceiptWithCard, f.avgReceiptWithoutCard]).toEqual([13333, 5000]);
    // Earn 300 (Jan 20 10:00) and the welcome 200 (Jan 15); redeem 20; the expiry and burn are later.
    expect([f.pointsEarned, f.pointsRedeemed, f.pointsBurned]).toEqual([500, 20, 0]);
  });

  it('a period ending after every sale uses the last purchase HQ keeps per card: same answers', async () => {
    // What ingest keeps in balances (last sale per card: A Feb 10, B Jan 7, C Jan 15).
    for (const [h, at] of [['A', '2026-02-10T10:00:00Z'], ['B', '2026-01-07T10:00:00Z'], ['C', '2026-01-15T10:00:00Z']]) {
      await hq.db.rows(sql`INSERT INTO balances (cardholder_id, points, lifetime_spend, purchase_count, last_purchase_at) VALUES (${h}, 0, 0, 0, ${at}) ON CONFLICT (cardholder_id) DO UPDATE SET last_purchase_at = EXCLUDED.last_purchase_at`);
    }
    const f = await computeFigures(hq.db, { from: '2026-01-01T00:00:00Z', to: '2026-03-01T00:00:00Z', churnDays: 30 });
    // At Mar 1: A 19 days ago, B 53, C 45, D never (enrolled 2025): churned past 30 days: B, C, D.
    expect(f.inactivity.filter((b) => b.participants)).toEqual([
      { bucket: '0-30', participants: 1 },
      { bucket: '31-90', participants: 2 },
      { bucket: 'never', participants: 1 },
    ]);
    expect(f.churnRate).toBe(0.75);
    expect(f.buyers).toBe(3);
  });

  it('revenue per participant by month, before/after a change, and RFM', async () => {
    expect(await revenuePerParticipant(hq.db, { from: '2025-12-01T00:00:00Z', to: '2026-03-01T00:00:00Z' })).toEqual([
      { month: '2025-12', revenue: 7000, buyers: 1, perParticipant: 7000 },
      { month: '2026-01', revenue: 50000, buyers: 3, perParticipant: 16667 },
      { month: '2026-02', revenue: 9000, buyers: 1, perParticipant: 9000 },
    ]);
    // Over more than 63 months the buyers are counted month by month instead: the same answer.
    expect(await revenuePerParticipant(hq.db, { from: '2021-01-01T00:00:00Z', to: '2026-07-01T00:00:00Z' })).toEqual(
      await revenuePerParticipant(hq.db, { from: '2025-12-01T00:00:00Z', to: '2026-03-01T00:00:00Z' }),
    );
    const ba = await beforeAfter(hq.db, '2026-01-15T00:00:00Z', 14);
    // before: Jan 1–14: A 10000, B 5000 with a card; 4000 + 6000 without → avg 7500, share 15000/25000
    expect(ba.before).toMatchObject({ avgReceiptWithCard: 7500, participantRevenueShare: 0.6 });
    // after: Jan 15–28: C 5000, A 30000; 2000 without → avg 17500, share 35000/37000
    expect(ba.after.avgReceiptWithCard).toBe(17500);
    expect(ba.after.participantRevenueShare).toBeCloseTo(35000 / 37000, 10);
    const segments = await rfm(hq.db, JAN);
    expect(segments.reduce((s, x) => s + x.cardholders, 0)).toBe(3);
    expect(segments[0]).toMatchObject({ r: 3, cardholders: 1 }); // A bought last (Jan 20) and most
  });
});
