// The core refuses the client base and the till's writes to anyone not logged in.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Terminal } from './terminal';
import { silentLogger } from './log';
import { SyncStore } from '../sync/store';

const dir = mkdtempSync(join(tmpdir(), 'till-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the till', () => {
  it('needs a PIN for the client base and an open shift for a sale; a profile lists receipts and entries, newest first', async () => {
    const t = await Terminal.start({ dataDir: dir, readers: [], demo: true, logger: silentLogger });
    const lines = [{ sku: 'BREAD-W', name: 'Хлеб', category: 'bakery', qty: 1, unitPrice: 5490 }];
    for (const [method, input] of [
      ['searchCardholders', { query: 'Иванова' }],
      ['findReceipt', { query: 'X-1' }],
      ['shiftReport', {}],
      ['checkout', { cardId: null, lines }],
    ] as const) {
      const r = await t.api.call(method, input as never);
      expect(r.ok ? 'ok' : r.error.code).toBe('login_required');
    }
    expect((await t.api.call('login', { pin: '1111' })).ok).toBe(true);
    const found = await t.api.call('searchCardholders', { query: 'Иванова' });
    expect(found.ok && found.value[0]?.displayName).toBe('Иванова Мария Петровна');
    const noShift = await t.api.call('checkout', { cardId: null, lines });
    expect(noShift.ok ? 'ok' : noShift.error.code).toBe('shift_required');
    expect((await t.api.call('openShift', {})).ok).toBe(true);
    expect((await t.api.call('checkout', { cardId: null, lines })).ok).toBe(true);

    // A cardholder's profile lists its receipts and point entries, newest first (read through
    // the holder's lists, not an index), and only its own.
    const holder = found.ok ? found.value[0]! : null;
    const cardId = holder!.cards[0]!.cardId;
    const sales = [];
    for (let i = 0; i < 3; i++) {
      const r = await t.api.call('checkout', { cardId, lines });
      expect(r.ok).toBe(true);
      if (r.ok) sales.push(r.value.receiptNumber);
    }
    const profile = await t.api.call('profile', { cardholderId: holder!.cardholderId });
    expect(profile.ok).toBe(true);
    if (profile.ok) {
      expect(profile.value.receipts.map((r) => r.number).slice(0, 3)).toEqual([...sales].reverse());
      expect(profile.value.receipts.every((r) => r.kind === 'sale')).toBe(true);
      expect(profile.value.entries.filter((e) => e.kind === 'earn').length).toBeGreaterThanOrEqual(3);
      expect(profile.value.entries.reduce((s, e) => s + e.points, 0)).toBe(profile.value.balance);
    }

    // HQ took the welcome bonus of the card's first sale back (another terminal had given it first):
    // the profile says why, beside another terminal's entry, which has its reasons there.
    const welcome = profile.ok ? profile.value.entries.find((e) => e.kind === 'welcome')! : null;
    const now = new Date().toISOString();
    const feed = (hqSeq: number, id: string, terminalId: string, kind: string, points: number) => ({ hqSeq, id, terminalId, cardholderId: holder!.cardholderId, kind, points, lotId: welcome!.id, activatesAt: null, expiresAt: null, createdAt: now });
    new SyncStore(t.ledger).applyPull({ cursor: 2, more: false, cards: [], entries: [feed(1, `w-${welcome!.id}`, 'hq', 'reverse', -welcome!.points), feed(2, 'r-1', 'other-terminal', 'redeem', -1)] });
    const after = await t.api.call('profile', { cardholderId: holder!.cardholderId });
    expect(after.ok).toBe(true);
    if (after.ok && profile.ok) {
      const reasons = Object.fromEntries(after.value.entries.map((e) => [e.id, e.reason]));
      expect(reasons[`w-${welcome!.id}`]).toMatch(/приветственный бонус уже начислен на другой кассе/);
      expect(reasons['r-1']).toBe('');
      expect(after.value.balance).toBe(profile.value.balance - welcome!.points - 1);
    }
    await t.close();
  });

  it('keeps the program\'s daily limits: points earned and paid with since the local day began, here and on other terminals', async () => {
    const program = JSON.parse(readFileSync('resources/demo-program.json', 'utf8'));
    program.earn.dailyLimit = 100;
    program.redeem.dailyLimit = 60;
    const home = join(dir, 'daily');
    mkdirSync(home);
    writeFileSync(join(home, 'program.json'), JSON.stringify(program));
    let now = new Date('2026-11-20T09:00:00.000Z'); // a Friday, 12:00 in the chain's UTC+3
    const t = await Terminal.start({ dataDir: home, programFile: join(home, 'program.json'), readers: [], demo: true, logger: silentLogger, clock: () => now });
    expect((await t.api.call('login', { pin: '1111' })).ok).toBe(true);
    expect((await t.api.call('openShift', {})).ok).toBe(true);
    const cardOf = async (query: string) => {
      const found = await t.api.call('searchCardholders', { query });
      return found.ok ? found.value[0]!.cards[0]!.cardId : '';
    };
    const lines = [{ sku: 'COFFEE-250', name: 'Кофе', category: 'grocery', qty: 10, unitPrice: 50000 }]; // 5% of it is far more than 100 points
    const sell = async (cardId: string, redeemPoints = 0) => {
      const r = await t.api.call('checkout', { cardId, lines, redeemPoints });
      if (!r.ok) throw new Error(r.error.message);
      const codes = [...r.value.priced.reasons, ...(r.value.priced.redeemRefused ? [r.value.priced.redeemRefused] : [])].map((x) => x.code);
      return { earned: r.value.priced.lines.reduce((s, l) => s + l.pointsEarned, 0), redeemed: r.value.priced.totals.pointsRedeemed, codes };
    };
    const ivanova = await cardOf('Иванова');
    const first = await sell(ivanova);
    expect(first).toMatchObject({ earned: 100 }); // the welcome bonus besides is not counted against the limit
    expect(first.codes).toContain('earn_daily_limit');
    expect(await sell(ivanova)).toMatchObject({ earned: 0 });
    expect(await sell(ivanova, 150)).toMatchObject({ earned: 0, redeemed: 60 });
    const refused = await sell(ivanova, 10);
    expect(refused).toMatchObject({ redeemed: 0 });
    expect(refused.codes).toContain('redeem_daily_limit');
    // 23:30 local, then 00:30: a new local day, less than a day later.
    now = new Date('2026-11-20T20:30:00.000Z');
    expect(await sell(ivanova)).toMatchObject({ earned: 0 });
    now = new Date('2026-11-20T21:30:00.000Z');
    expect(await sell(ivanova, 150)).toMatchObject({ earned: 100, redeemed: 60 });

    // Points another terminal gave the card today count too, once the feed has brought them.
    const kuznetsov = await cardOf('Кузнецов');
    const holder = t.ledger.findCard({ cardId: kuznetsov })!.cardholderId;
    const entry = (hqSeq: number, createdAt: string, points: number) => ({ hqSeq, id: `elsewhere-${hqSeq}`, terminalId: 'other-terminal', cardholderId: holder, kind: 'earn', points, lotId: `elsewhere-${hqSeq}`, activatesAt: createdAt, expiresAt: null, createdAt });
    new SyncStore(t.ledger).applyPull({ cursor: 2, more: false, cards: [], entries: [entry(1, '2026-11-20T20:00:00.000Z', 500), entry(2, '2026-11-20T21:10:00.000Z', 70)] });
    expect(await sell(kuznetsov)).toMatchObject({ earned: 30 }); // yesterday's 500 do not count; today's 70 do
    await t.close();
  });

  it('gives the repeat-purchase discount on an item bought here within the period, and not on one bought and returned, here or elsewhere', async () => {
    const program = JSON.parse(readFileSync('resources/demo-program.json', 'utf8'));
    program.discounts.push({ id: 'again', name: 'Снова', type: 'repeat', withinDays: 30, percent: 10 });
    const home = join(dir, 'repeat');
    mkdirSync(home);
    writeFileSync(join(home, 'program.json'), JSON.stringify(program));
    let now = new Date('2026-10-01T09:00:00.000Z');
    const t = await Terminal.start({ dataDir: home, programFile: join(home, 'program.json'), readers: [], demo: true, logger: silentLogger, clock: () => now });
    expect((await t.api.call('login', { pin: '1111' })).ok).toBe(true);
    expect((await t.api.call('openShift', {})).ok).toBe(true);
    const found = await t.api.call('searchCardholders', { query: 'Кузнецов' });
    const cardId = found.ok ? found.value[0]!.cards[0]!.cardId : '';
    const item = (sku: string) => ({ sku, name: sku, category: 'hardware', qty: 1, unitPrice: 100000 });
    const sell = async (...skus: string[]) => {
      const r = await t.api.call('checkout', { cardId, lines: skus.map(item) });
      if (!r.ok) throw new Error(r.error.message);
      return { receiptId: r.value.receiptId, again: r.value.priced.lines.filter((l) => l.reasons.some((x) => x.code === 'repeat')).map((l) => l.sku) };
    };
    expect((await sell('PAINT', 'BRUSH')).again).toEqual([]);
    now = new Date('2026-10-06T09:00:00.000Z');
    const second = await sell('PAINT', 'ROLLER');
    expect(second.again).toEqual(['PAINT']);
    expect((await t.api.call('commitReturn', { receiptId: second.receiptId, lines: [{ lineNo: 2, qty: 1 }] })).ok).toBe(true); // the roller comes back
    // 31 days after the brush and the first paint, 26 after the second paint and the returned roller.
    now = new Date('2026-11-01T09:00:00.000Z');
    expect((await sell('PAINT', 'ROLLER', 'BRUSH')).again).toEqual(['PAINT']);
    now = new Date('2026-11-20T09:00:00.000Z');
    expect((await sell('ROLLER')).again).toEqual(['ROLLER']); // bought on 1 November and kept
    // A ladder bought here and returned on another terminal (HQ's feed says so) was not bought.
    const ladder = await sell('LADDER');
    expect((await t.api.call('price', { cardId, lines: [item('LADDER')] })).ok).toBe(true); // the kept history now has it
    t.ledger.noteReturnElsewhere(ladder.receiptId, { id: 'return-elsewhere', lines: { 1: 1 }, pointsTakenBack: 0 });
    now = new Date('2026-11-25T09:00:00.000Z');
    expect((await sell('LADDER')).again).toEqual([]);
    await t.close();
  });
});

