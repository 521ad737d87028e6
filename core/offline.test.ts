// While HQ is unreachable, a card pays with points on this terminal only within the allowance HQ
// granted it; beyond that the cashier sees why and the sale still goes ahead without points.
import { describe, expect, it } from 'vitest';
import { Terminal } from './terminal';
import { ok, tempDirs } from './testkit';
import { silentLogger } from './log';
import { startTestHq } from '../hq/testing';
import { sql } from '../hq/db';

const dirs = tempDirs('offline-');
const lines = [{ sku: 'CHEESE', name: 'Сыр', category: 'dairy', qty: 4, unitPrice: 32900 }];

describe('offline redemption', () => {
  it('is bounded by the card’s allowance from HQ, refused beyond it with the reason, and settled at HQ', async () => {
    const hq = await startTestHq();
    await hq.service.allowances.setPolicy({ perCardPoints: 150 });
    const dir = dirs.make();
    const t = await Terminal.start({ dataDir: dir, readers: [], demo: true, hqUrl: hq.url, hqCode: await hq.service.createRegistrationCode('store-1'), logger: silentLogger });
    try {
      ok(await t.api.call('login', { pin: '1111' }));
      ok(await t.api.call('openShift', {}));
      const card = ok(await t.api.call('identify', { query: '7789000000019' }));
      ok(await t.api.call('checkout', { cardId: card.cardId, lines })); // the welcome bonus lands
      await t.sync!.syncOnce(); // the sale goes up
      const holderId = t.ledger.findCard({ number: '7789000000019' })!.cardholderId;

      // Online: HQ answers what the card may pay with — its balance less what another till holds.
      const other = await hq.service.grantAllowances({ terminalId: 'till-2', storeId: 'store-1' }, [holderId]);
      const reserved = other.allowances[0]!.points;
      const balance = (await hq.service.balances()).get(holderId)!;
      const online = ok(await t.api.call('checkout', { cardId: card.cardId, lines, redeemPoints: 10_000 }));
      expect(online.priced.totals.pointsRedeemed).toBeGreaterThan(0);
      expect(online.priced.totals.pointsRedeemed).toBeLessThanOrEqual(balance - reserved);
      await t.sync!.syncOnce(); // uploads it and gets a fresh allowance for the card

      await hq.stop(); // HQ is gone
      await t.sync!.syncOnce().catch(() => undefined);
      expect(t.sync!.status().online).toBe(false);
      const allowance = t.sync!.offlineRedemption(holderId).cap;
      expect(allowance).toBeGreaterThan(0);
      expect(allowance).toBeLessThanOrEqual(150);
      const first = ok(await t.api.call('price', { cardId: card.cardId, lines, redeemPoints: 10_000 }));
      expect(first.maxRedeemPoints).toBe(allowance);
      ok(await t.api.call('checkout', { cardId: card.cardId, lines, redeemPoints: allowance - 10 }));
      expect(ok(await t.api.call('price', { cardId: card.cardId, lines, redeemPoints: 10_000 })).maxRedeemPoints).toBe(10);
      ok(await t.api.call('checkout', { cardId: card.cardId, lines, redeemPoints: 10 }));
      const spent = ok(await t.api.call('price', { cardId: card.cardId, lines, redeemPoints: 10 }));
      expect(spent.maxRedeemPoints).toBe(0);
      expect(spent.redeemRefused?.ru).toMatch(/исчерпано/);
      const sale = ok(await t.api.call('checkout', { cardId: card.cardId, lines, redeemPoints: 10 }));
      expect(sale.priced.totals.pointsRedeemed).toBe(0); // the sale still goes ahead

      await hq.start();
      await t.sync!.syncOnce();
      expect(await hq.service.allowances.report()).toEqual({ cardOverdrafts: [], terminalOverdrafts: [] });
      const [row] = await hq.db.rows<{ used: number; points: number }>(sql`SELECT used, points FROM allowances WHERE terminal_id = ${t.ledger.terminalId} AND used > 0`);
      expect(Number(row!.used)).toBe(allowance); // settled: all of it was used offline, no more
      expect((await hq.service.balances()).get(holderId)).toBeGreaterThanOrEqual(0);
    } finally {
      await t.close();
      await hq.destroy();
    }
  });
});
