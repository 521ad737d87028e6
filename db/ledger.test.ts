import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { FIND_CARD, Ledger } from './ledger';
import { adjustPoints } from './admin';
import { SyncStore } from '../sync/store';
import type { PricedBasket } from '../engine';

const dirs: string[] = [];
function tempDb() {
  const dir = mkdtempSync(join(tmpdir(), 'ledger-'));
  dirs.push(dir);
  return join(dir, 'ledger.db');
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const now = '2026-11-22T10:00:00.000Z';

/** A priced basket as the engine would return it: 1000 ₽, 100 ₽ off, 9 points earned. */
function priced(overrides: Partial<PricedBasket['totals']> = {}, fromLots: { lotId: string; points: number }[] = []): PricedBasket {
  const totals = { gross: 100000, discount: 10000, redeemKopecks: 0, toPay: 90000, pointsRedeemed: 0, pointsEarned: 9, ...overrides };
  return {
    program: { id: 'demo', version: 1, hash: 'h'.repeat(64) },
    lines: [{ sku: 'A', name: 'Кофе', category: 'grocery', qty: 1, unitPrice: 100000, gross: 100000, discount: 10000, redeem: totals.redeemKopecks, net: totals.toPay, pointsEarned: totals.pointsEarned, reasons: [] }],
    totals,
    redemption: { maxPoints: 0, fromLots },
    earnLots: totals.pointsEarned ? [{ points: totals.pointsEarned, activatesAt: now, expiresAt: null, reason: { code: 'earn', ru: 'Бонус 1%', en: 'Bonus 1%' } }] : [],
    reasons: [],
  } as unknown as PricedBasket;
}

function enrolled(ledger: Ledger, number = '7789000000019') {
  return ledger.enroll({ holder: { surname: 'Иванова', firstName: 'Мария', phone: '8 (916) 123-45-67', email: 'maria@example.ru' }, cardNumber: number, now, consentPd: true })!;
}

/** A ledger whose file another process had open first (the admin CLI): it cannot hold the file, so it shares it. */
function sharedLedger() {
  const path = tempDb();
  new Ledger({ path }).close();
  const elsewhere = new Database(path);
  elsewhere.prepare('SELECT count(*) FROM settings').get();
  return { path, ledger: new Ledger({ path }), elsewhere };
}

describe('ledger', () => {
  it('commits a sale as receipt + lines + entries + outbox row and keeps the balance equal to the entries', () => {
    const ledger = new Ledger({ path: tempDb() });
    const card = enrolled(ledger);
    const first = ledger.commitSale({ card, priced: priced(), now });
    expect(first.balance).toBe(9);
    const lot = ledger.lots(card.cardholderId)[0]!;
    const second = ledger.commitSale({ card, priced: priced({ redeemKopecks: 500, toPay: 89500, pointsRedeemed: 5, pointsEarned: 8 }, [{ lotId: lot.lotId, points: 5 }]), now });
    expect(second.balance).toBe(9 - 5 + 8);
    expect(second.outboxSeq).toBe(3); // 1 is the enrollment, 2 and 3 the sales
    expect(ledger.lots(card.cardholderId).map((l) => l.points).sort()).toEqual([4, 8]);
    const report = ledger.verify();
    expect(report).toMatchObject({ ok: true, receipts: 2, pointEntries: 3 });
    ledger.close();
  });

  it('keeps a cardholder\'s lots until an entry of theirs is written (here, by another process, from HQ\'s feed), never what a rolled-back transaction read', () => {
    const { path, ledger, elsewhere } = sharedLedger();
    const card = enrolled(ledger);
    const other = enrolled(ledger, '7789000000027');
    ledger.commitSale({ card, priced: priced(), now });
    const points = () => ledger.lots(card.cardholderId).map((l) => l.points).sort((a, b) => a - b);
    const first = ledger.lots(card.cardholderId);
    expect(ledger.lots(card.cardholderId)).toBe(first); // kept: no entry of theirs since
    expect(() => ((first[0] as { points: number }).points = 1000)).toThrow(TypeError); // and no caller can change it
    ledger.commitSale({ card: other, priced: priced(), now });
    expect(ledger.lots(card.cardholderId)).toBe(first); // another cardholder's sale changes nothing here
    // Sixteen cardholders' lots are kept; the one used longest ago makes room, not the one read first.
    const others = Array.from({ length: 15 }, (_, i) => ledger.lots(`someone-${i}`));
    expect(ledger.lots(card.cardholderId)).toBe(first);
    ledger.lots('someone-else');
    expect(ledger.lots(card.cardholderId)).toBe(first);
    expect(ledger.lots('someone-1')).toBe(others[1]);
    expect(ledger.lots('someone-0')).not.toBe(others[0]); // read afresh: it made room

    ledger.commitSale({ card, priced: priced({ pointsEarned: 4 }), now });
    expect(points()).toEqual([4, 9]);

    // A manual adjustment by another connection to the same file (the admin CLI beside the till).
    const admin = new Ledger({ path });
    adjustPoints(admin, { userId: 'admin', reason: 'goodwill' }, card.cardholderId, 50, now);
    admin.close();
    elsewhere.close();
    expect(points()).toEqual([4, 9, 50]);

    // Points another terminal gave, from HQ's feed.
    new SyncStore(ledger).applyPull({
      cursor: 1,
      more: false,
      cards: [],
      entries: [{ hqSeq: 1, id: 'remote-1', terminalId: 'other-terminal', cardholderId: card.cardholderId, kind: 'earn', points: 7, lotId: 'remote-1', activatesAt: now, expiresAt: null, createdAt: now }],
    });
    expect(points()).toEqual([4, 7, 9, 50]);

    // Read inside a transaction that is then rolled back: what it wrote is not kept.
    expect(() =>
      ledger.atomically(() => {
        ledger.appendEntries([{ cardholderId: card.cardholderId, kind: 'adjust', points: 100, reason: 'rolled back' }], now);
        expect(points()).toContain(100);
        throw new Error('roll back');
      }),
    ).toThrow('roll back');
    ledger.commitSale({ card, priced: priced({ pointsEarned: 3 }), now }); // takes the rolled-back entry's rowid
    expect(points()).toEqual([3, 4, 7, 9, 50]);
    expect(ledger.verify().problems).toEqual([]);
    ledger.close();
  });

  it('shares its file with a process that had it open first, and chains its rows after that process\'s', () => {
    const { path, ledger, elsewhere } = sharedLedger();
    const card = enrolled(ledger);
    ledger.commitSale({ card, priced: priced(), now });
    const admin = new Ledger({ path });
    adjustPoints(admin, { userId: 'admin', reason: 'goodwill' }, card.cardholderId, 50, now);
    admin.close();
    elsewhere.close();
    ledger.commitSale({ card, priced: priced(), now });
    expect(ledger.verify()).toMatchObject({ ok: true, problems: [], receipts: 2, pointEntries: 3 });
    ledger.close();
  });

  it('finds a card by number and by phone in any common spelling; names by prefix', () => {
    const ledger = new Ledger({ path: tempDb() });
    const card = enrolled(ledger);
    expect(ledger.findCard({ number: '7789000000019' })?.cardholderId).toBe(card.cardholderId);
    expect(ledger.findCard({ phone: '+7 916 123 45 67' })?.cardholderId).toBe(card.cardholderId);
    expect(ledger.findCard({ phone: '9161234567' })?.holder.firstName).toBe('Мария');
    expect(ledger.findCard({ phone: '9160000000' })).toBeNull();
    expect(ledger.searchByName('иван')).toEqual([card.cardholderId]);
    expect(ledger.searchByName('Мария Ив')).toEqual([card.cardholderId]);
    expect(ledger.searchByName('Петров')).toEqual([]);
    // Each lookup reads one B-tree: the card's row by its number, one covering index by phone,
    // already in the order the till wants (no sort).
    const plan = (where: string) =>
      ledger.sqlite.prepare(`EXPLAIN QUERY PLAN ${FIND_CARD} ${where}`).all('x').map((r) => (r as { detail: string }).detail);
    expect(plan('WHERE number = ?')).toEqual(['SEARCH cards USING PRIMARY KEY (number=?)']);
    expect(plan("WHERE holder_phone_index = ? ORDER BY status <> 'active', issued_at LIMIT 1")).toEqual(['SEARCH cards USING COVERING INDEX cards_phone (holder_phone_index=?)']);
    ledger.close();
  });

  it('keeps personal data out of the database file', () => {
    const path = tempDb();
    const ledger = new Ledger({ path });
    enrolled(ledger);
    ledger.sqlite.pragma('wal_checkpoint(TRUNCATE)');
    ledger.close();
    const bytes = readFileSync(path);
    for (const secret of ['Иванова', 'Мария', '9161234567', 'maria@example.ru']) {
      expect(bytes.includes(Buffer.from(secret, 'utf8'))).toBe(false);
    }
  });

  it('refuses to rewrite history and reports a tampered chain', () => {
    const path = tempDb();
    const ledger = new Ledger({ path });
    const card = enrolled(ledger);
    ledger.commitSale({ card, priced: priced(), now });
    ledger.commitSale({ card, priced: priced(), now });
    expect(() => ledger.sqlite.prepare('UPDATE point_entries SET points = 1000').run()).toThrow(/append-only/);
    expect(() => ledger.sqlite.prepare('DELETE FROM receipts').run()).toThrow(/append-only/);
    expect(() => ledger.sqlite.prepare('DELETE FROM outbox').run()).toThrow(/never deleted/);
    ledger.close();

    // Someone with the sqlite3 shell drops the trigger and edits an entry.
    const raw = new Database(path);
    raw.exec('DROP TRIGGER point_entries_no_update');
    const victim = raw.prepare('SELECT id FROM point_entries ORDER BY chain_seq LIMIT 1').pluck().get() as string;
    raw.prepare('UPDATE point_entries SET points = 900 WHERE id = ?').run(victim);
    raw.close();

    const reopened = new Ledger({ path });
    const report = reopened.verify();
    expect(report.ok).toBe(false);
    expect(report.firstBrokenLink).toMatchObject({ table: 'point_entries', id: victim });
    reopened.close();
  });

  it('rolls the whole sale back when any part fails', () => {
    const ledger = new Ledger({ path: tempDb() });
    const card = enrolled(ledger);
    ledger.sqlite.exec("CREATE TRIGGER fail_outbox BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'disk full'); END");
    expect(() => ledger.commitSale({ card, priced: priced(), now })).toThrow(/disk full/);
    ledger.sqlite.exec('DROP TRIGGER fail_outbox');
    expect(ledger.verify()).toMatchObject({ ok: true, receipts: 0, pointEntries: 0 });
    // What the failed sale took (its number, its place in the chain and in the outbox) is given again.
    const sale = ledger.commitSale({ card, priced: priced(), now });
    // (The outbox's first row is the enrollment's.)
    expect(sale).toMatchObject({ receiptNumber: expect.stringMatching(/-1$/), chainSeq: 1, outboxSeq: 2 });
    expect(ledger.sqlite.prepare('SELECT seq FROM outbox ORDER BY seq').pluck().all()).toEqual([1, 2]);
    expect(ledger.verify()).toMatchObject({ ok: true, receipts: 1 });
    ledger.close();
  });

  it('holds its file while it runs: another process that would write it is told so, and sales go on', async () => {
    const path = tempDb();
    const ledger = new Ledger({ path });
    const card = enrolled(ledger);
    // A second writer (`loyalty jobs run` beside the till, say) would link entries to the chain head
    // it loaded, and fork the chain: it is refused at once with a clear message.
    const other = spawnSync(process.execPath, ['--import', 'tsx', '-e', `import('./ledger.ts').then(({ Ledger }) => new Ledger({ path: process.argv[1] }))`, path], {
      cwd: import.meta.dirname,
      encoding: 'utf8',
    });
    expect(other.status).not.toBe(0);
    expect(other.stderr).toMatch(/in use: a running terminal holds it/);
    for (let i = 0; i < 50; i++) ledger.commitSale({ card, priced: priced(), now });
    expect(ledger.verify().ok).toBe(true);
    ledger.close();
    // Closed, the file is free again.
    const after = new Database(path, { readonly: true });
    expect(after.prepare('SELECT count(*) FROM receipts').pluck().get()).toBe(50);
    after.close();
  });
});
