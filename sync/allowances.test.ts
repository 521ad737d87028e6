// Five terminals lose HQ together and redeem the same card concurrently and repeatedly, one of them
// with a clock days off. Each redeems only within the allowance HQ signed for it, and HQ never lets
// a card's allowances add up to more than its balance: after they come back, nothing is overdrawn.
// A forged allowance and one used past its life are refused and quarantined.
import { describe, expect, it } from 'vitest';
import { generateKeyPairSync, sign } from 'node:crypto';
import type { CardRecord } from '../db/ledger';
import { adjustPoints } from '../db/admin';
import { priceBasket } from '../engine';
import { sql } from '../hq/db';
import { allowanceSigningText } from '../protocol/sync';
import { demoProgram as program, syncTestbed, type TestTerminal } from './testkit';

const basket = { lines: [{ sku: 'KETTLE', name: 'Чайник', category: 'appliances', qty: 1, unitPrice: 349000 }] };
const bed = syncTestbed(async (hq) => {
  await hq.service.allowances.setPolicy({ perCardPoints: 400, lifetimeHours: 24, maxOfflineHours: 12 });
});
const terminal = (clockOffsetMs = 0) => bed.terminal({ clockOffsetMs });

/** One offline sale paying `points` with what this terminal's allowance lets it. */
function redeemOffline(t: TestTerminal, number: string, points: number) {
  const card = t.ledger.findCard({ number }) as CardRecord;
  const offline = t.agent.offlineRedemption(card.cardholderId);
  const now = t.clock().toISOString();
  const priced = priceBasket(program.program, program.hash, t.ledger.cardState(card), basket, { now, redeemPoints: points, redeemCap: offline.cap });
  t.ledger.commitSale({ card, priced, now, allowance: priced.totals.pointsRedeemed > 0 ? offline.allowance : null });
  return priced.totals.pointsRedeemed;
}

describe('offline redemption allowances', () => {
  it('five terminals offline on one card: total overdraft zero, even with a wrong clock', async () => {
    const home = await terminal();
    const card = home.ledger.enroll({ holder: { firstName: 'Инна', phone: '+79167770000' }, cardNumber: '7789000005018', now: home.clock().toISOString(), consentPd: true })!;
    adjustPoints(home.ledger, { userId: 'admin', reason: 'стартовый баланс' }, card.cardholderId, 1000, home.clock().toISOString());
    await home.agent.syncOnce();
    const others = [await terminal(), await terminal(), await terminal(5 * 86_400_000), await terminal(-3 * 86_400_000)];
    const all = [home, ...others];
    for (const t of all) {
      t.agent.want(card.cardholderId);
      await t.agent.syncOnce();
    }
    const [{ granted }] = (await bed.hq.db.rows<{ granted: string }>(sql`SELECT sum(points) AS granted FROM allowances WHERE cardholder_id = ${card.cardholderId} AND settled_at IS NULL`)) as [{ granted: string }];
    expect(Number(granted)).toBeLessThanOrEqual(1000); // never more than the balance, however many terminals ask

    await bed.hq.stop(); // everyone is offline now
    const redeemed = all.map(() => 0);
    for (let round = 0; round < 12; round++) {
      all.forEach((t, i) => {
        redeemed[i]! += redeemOffline(t, card.number, 90);
      });
    }
    const total = redeemed.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(0);
    expect(total).toBeLessThanOrEqual(Number(granted));

    await bed.hq.start();
    for (const t of all) await t.agent.syncOnce();
    expect(await bed.hq.service.allowances.report()).toEqual({ cardOverdrafts: [], terminalOverdrafts: [] });
    const balance = (await bed.hq.service.balances()).get(card.cardholderId)!;
    expect(balance).toBeGreaterThanOrEqual(0);
    const rejected = await bed.hq.db.rows(sql`SELECT reason FROM operations WHERE status = 'rejected' AND terminal_id = ANY(${sql.param(all.map((t) => t.ledger.terminalId))}::text[])`);
    expect(rejected).toEqual([]); // every offline sale was within policy and counted
    const [{ sum }] = (await bed.hq.db.rows<{ sum: string }>(sql`SELECT sum(points_redeemed) AS sum FROM receipts WHERE cardholder_id = ${card.cardholderId}`)) as [{ sum: string }];
    expect(Number(sum)).toBe(total);
    for (const t of all) t.ledger.close();
  });

  it('a forged allowance and one used past its life are refused, quarantined, and nothing of them applied', async () => {
    const t = await terminal();
    const card = t.ledger.enroll({ holder: { firstName: 'Олег', phone: '+79167770001' }, cardNumber: '7789000005026', now: t.clock().toISOString(), consentPd: true })!;
    adjustPoints(t.ledger, { userId: 'admin', reason: 'стартовый баланс' }, card.cardholderId, 1000, t.clock().toISOString());
    t.agent.want(card.cardholderId);
    await t.agent.syncOnce();
    const real = t.agent.offlineRedemption(card.cardholderId).allowance!;

    // Forged: the terminal signs an allowance of its own making.
    const forger = generateKeyPairSync('ed25519');
    const fake = { ...real.signed, id: 'forged-1', points: 900 };
    const forged = { ...fake, signature: sign(null, Buffer.from(allowanceSigningText(fake)), forger.privateKey).toString('base64') };
    const now = t.clock().toISOString();
    const priced = (pts: number) => priceBasket(program.program, program.hash, t.ledger.cardState(t.ledger.findCard({ number: card.number })!), basket, { now, redeemPoints: pts });
    t.ledger.commitSale({ card, priced: priced(300), now, allowance: { id: 'forged-1', signed: forged, ageMs: 1000 } });
    // Expired: the real allowance, but used a day and a half after it arrived.
    t.ledger.commitSale({ card, priced: priced(50), now, allowance: { ...real, ageMs: 36 * 3600_000 } });
    const before = await bed.hq.db.rows(sql`SELECT count(*) AS n FROM receipts WHERE terminal_id = ${t.ledger.terminalId}`);
    await t.agent.syncOnce();
    const after = await bed.hq.db.rows(sql`SELECT count(*) AS n FROM receipts WHERE terminal_id = ${t.ledger.terminalId}`);
    expect(after).toEqual(before);
    const report = (await bed.hq.service.integrityReport()).filter((r) => r.terminal_id === t.ledger.terminalId);
    expect(report.map((r) => r.reason).join('\n')).toMatch(/forged/);
    expect(report.map((r) => r.reason).join('\n')).toMatch(/expired/);
    t.ledger.close();
  });
});
