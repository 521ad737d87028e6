import { afterEach, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import Database from 'better-sqlite3';
import { holderChain, Ledger } from './ledger';
import { backupDir, listBackups, onlineBackup } from './open';
import { restoreBackup } from './maintenance';
import type { PricedBasket } from '../engine';

const dirs: string[] = [];
function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'migrate-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const now = '2026-11-22T10:00:00.000Z';
const priced = (points: number, fromLots: { lotId: string; points: number }[] = []) =>
  ({
    program: { id: 'demo', version: 1, hash: 'h'.repeat(64) },
    lines: [{ sku: 'A', name: 'Кофе', category: 'grocery', qty: 1, unitPrice: 100000, gross: 100000, discount: 0, redeem: 0, net: 100000, pointsEarned: points, pointsRedeemed: 0, reasons: [] }],
    totals: { gross: 100000, discount: 0, redeemKopecks: 0, toPay: 100000, pointsRedeemed: fromLots.reduce((s, l) => s + l.points, 0), pointsEarned: points },
    redemption: { maxPoints: 0, fromLots },
    earnLots: points ? [{ points, activatesAt: now, expiresAt: '2027-11-22T10:00:00.000Z', reason: { code: 'earn', ru: 'Бонус', en: 'Bonus' } }] : [],
    reasons: [],
  }) as unknown as PricedBasket;

/** A copy of a ledger the release before migration 0008 wrote (db/fixtures: 3 cardholders with
 *  cards, sales with and without a card, a redemption, an adjustment and a return). */
function ledger0007(): string {
  const path = join(tempDir(), 'ledger.db');
  copyFileSync(join(import.meta.dirname, 'fixtures', 'ledger-0007.db'), path);
  copyFileSync(join(import.meta.dirname, 'fixtures', 'ledger-0007.db.key'), `${path}.key`);
  return path;
}

/** The migrations' journal, in the order they are applied. */
const journal = () => (JSON.parse(readFileSync(join(import.meta.dirname, 'migrations', 'meta', '_journal.json'), 'utf8')) as { entries: { tag: string; when: number }[] }).entries;

it('dates each migration after the one before: drizzle applies to a ledger only those dated after the newest it has', () => {
  const entries = journal();
  const late = entries.filter((e, i) => i > 0 && e.when <= entries[i - 1]!.when).map((e) => e.tag);
  expect(late).toEqual([]);
});

describe('migrations 0008 and 0009 (clustered cards and cardholders, cardholder lists, lean indexes, a card carrying its holder)', () => {
  it('keeps every card, cardholder, entry and receipt of an older ledger, and finds them as before', () => {
    const path = ledger0007();
    const raw = new Database(path, { readonly: true });
    const before = {
      entries: raw.prepare('SELECT rowid, * FROM point_entries ORDER BY rowid').all() as Record<string, unknown>[],
      receipts: raw.prepare('SELECT rowid, id, number, cardholder_id FROM receipts ORDER BY rowid').all() as { id: string; number: string; cardholder_id: string | null }[],
      cards: raw.prepare('SELECT * FROM cards ORDER BY number').all() as { id: string; number: string; chip_uid: string; cardholder_id: string }[],
      holders: raw.prepare('SELECT * FROM cardholders ORDER BY id').all(),
      balances: raw.prepare('SELECT cardholder_id, points FROM balances ORDER BY cardholder_id').all() as { cardholder_id: string; points: number }[],
    };
    raw.close();
    expect(before.entries).toHaveLength(7);

    const ledger = new Ledger({ path });
    const tables = ledger.sqlite.prepare("SELECT name, sql FROM sqlite_master WHERE name IN ('cards', 'cardholders') ORDER BY name").all() as { name: string; sql: string }[];
    expect(tables.map((t) => /WITHOUT ROWID/.test(t.sql))).toEqual([true, true]);
    const indexes = ledger.sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('receipts', 'point_entries', 'remote_entries') ORDER BY name").pluck().all();
    // 0011: a shift notes where the receipts and the outbox stood when it opened.
    expect(ledger.sqlite.prepare("SELECT name FROM pragma_table_info('shifts')").pluck().all()).toEqual(['id', 'cashier_id', 'opened_at', 'closed_at', 'receipts_from', 'outbox_from']);
    // 0010: HQ's replicated entries are found by lot as well as by cardholder; 0012: and by their place in their terminal's chain.
    expect(indexes).toEqual(['point_entries_draws', 'point_entries_expiry', 'receipts_number_elsewhere', 'receipts_original', 'remote_entries_cardholder', 'remote_entries_chain', 'remote_entries_lot', 'sqlite_autoindex_receipts_1', 'sqlite_autoindex_remote_entries_1']);
    expect(ledger.sqlite.prepare("SELECT name FROM pragma_table_info('remote_entries')").pluck().all()).toContain('chain_seq');
    // 0015: that chain index holds a merge's transfers alone. Every migration of the journal was
    // applied to this older ledger, not only to a new one (drizzle skips one dated before the newest applied).
    expect(ledger.sqlite.prepare("SELECT sql FROM sqlite_master WHERE name = 'remote_entries_chain'").pluck().get()).toMatch(/WHERE kind = 'transfer'$/);
    expect(ledger.sqlite.prepare('SELECT count(*) FROM __drizzle_migrations').pluck().get()).toBe(journal().length);
    // The same entries with the same rowids (chain order), each linked to its holder's previous one.
    const lastOf = new Map<unknown, number>();
    const linked = before.entries.map((e) => {
      const holderPrev = lastOf.get(e.cardholder_id) ?? null;
      lastOf.set(e.cardholder_id, e.rowid as number);
      return { ...e, holder_prev: holderPrev };
    });
    expect(ledger.sqlite.prepare('SELECT rowid, * FROM point_entries ORDER BY rowid').all()).toEqual(linked);
    // 0009: each card carries copies of its holder's sealed profile, enrolment date and phone index.
    const holderOf = new Map((before.holders as Record<string, unknown>[]).map((h) => [h.id, h]));
    const withCopies = before.cards.map((c) => {
      const h = holderOf.get(c.cardholder_id)!;
      return { ...c, holder_pii: h.pii, holder_enrolled_at: h.enrolled_at, holder_phone_index: h.status === 'active' ? h.phone_index : null };
    });
    expect(withCopies.every((c) => c.holder_pii && c.holder_phone_index)).toBe(true);
    expect(ledger.sqlite.prepare('SELECT * FROM cards ORDER BY number').all()).toEqual(withCopies);
    expect(ledger.sqlite.prepare('SELECT * FROM cardholders ORDER BY id').all()).toEqual(before.holders);
    expect(ledger.verify()).toMatchObject({ ok: true, receipts: 7, pointEntries: 7, problems: [] });

    for (const c of before.cards) {
      const card = ledger.findCard({ number: c.number })!;
      expect(card).toMatchObject({ cardId: c.id, cardholderId: c.cardholder_id, chipUid: c.chip_uid, status: 'active' });
      expect(ledger.findCard({ chipUid: c.chip_uid })).toEqual(card);
      expect(ledger.findCard({ phone: card.holder.phone as string })).toEqual(card);
      expect(ledger.findCard({ cardId: c.id })).toEqual(card);
      // The holder's entries through its list are the ones it had, and still sum to its balance.
      const mine = before.entries.filter((e) => e.cardholder_id === c.cardholder_id).map((e) => e.id);
      expect(ledger.lots(c.cardholder_id).length).toBeGreaterThan(0);
      expect(ledger.sqlite.prepare(`${holderChain('point_entries')} SELECT e.id FROM chain JOIN point_entries e ON e.rowid = chain.r ORDER BY e.rowid`).pluck().all(c.cardholder_id)).toEqual(mine);
      const theirs = before.receipts.filter((r) => r.cardholder_id === c.cardholder_id).map((r) => r.id);
      expect(ledger.sqlite.prepare(`${holderChain('receipts')} SELECT r.id FROM chain JOIN receipts r ON r.rowid = chain.r ORDER BY r.rowid`).pluck().all(c.cardholder_id)).toEqual(theirs);
      expect(ledger.balance(c.cardholder_id)).toBe(before.balances.find((b) => b.cardholder_id === c.cardholder_id)!.points);
    }
    for (const r of before.receipts) {
      expect(ledger.receipt(r.number)?.id).toBe(r.id);
      expect(ledger.receipt(r.id)?.number).toBe(r.number);
    }
    // Sales, a return and an adjustment after it extend the same lists and chain.
    const card = ledger.findCard({ number: before.cards[1]!.number })!;
    const sale = ledger.commitSale({ card, priced: priced(6), now });
    ledger.commitReturn({ originalReceiptId: sale.receiptNumber, lines: [{ lineNo: 1, qty: 1 }], now });
    ledger.atomically(() => ledger.appendEntries([{ cardholderId: card.cardholderId, kind: 'adjust', points: 3, reason: 'Корректировка' }], now));
    expect(ledger.verify()).toMatchObject({ ok: true, receipts: 9, pointEntries: 10, problems: [] });
    expect(ledger.receipt(sale.receiptNumber)?.returnIds).toHaveLength(1);
    // New receipts sit where their numbers say: the number index stays empty.
    expect(ledger.sqlite.prepare("SELECT count(*) FROM receipts INDEXED BY receipts_number_elsewhere WHERE rowid <> CAST(substr(number, instr(number, '-') + 1) AS INTEGER)").pluck().get()).toBe(0);
    ledger.close();
  });

  it('reports a cardholder list that was tampered with', () => {
    const path = ledger0007();
    new Ledger({ path }).close();
    const raw = new Database(path);
    raw.exec('DROP TRIGGER point_entries_no_update');
    raw.exec('UPDATE point_entries SET holder_prev = NULL WHERE rowid = (SELECT max(rowid) FROM point_entries WHERE holder_prev IS NOT NULL)');
    raw.close();
    const ledger = new Ledger({ path });
    const report = ledger.verify();
    expect(report.ok).toBe(false);
    expect(report.problems).toContain("1 links of the cardholders' entry lists are wrong");
    ledger.close();
  });

  it('finds a receipt by number even when its row is not where the number says', () => {
    const path = join(tempDir(), 'ledger.db');
    const ledger = new Ledger({ path });
    const card = ledger.enroll({ holder: { surname: 'Петров' }, cardNumber: '7789000000019', now, consentPd: true })!;
    const sale = ledger.commitSale({ card, priced: priced(5), now });
    const row = ledger.sqlite.prepare('SELECT * FROM receipts WHERE id = ?').get(sale.receiptId) as Record<string, unknown>;
    ledger.close();
    // A receipt restored by hand at another rowid (the sqlite3 shell): the partial index holds it.
    const raw = new Database(path);
    const moved = { ...row, id: 'moved', number: `${ledger.terminalCode}-77` };
    raw.prepare(`INSERT INTO receipts (rowid, ${Object.keys(moved).join(', ')}) VALUES (1000, ${Object.keys(moved).map(() => '?').join(', ')})`).run(...Object.values(moved));
    expect(() => raw.prepare(`INSERT INTO receipts (rowid, ${Object.keys(moved).join(', ')}) VALUES (1001, ${Object.keys(moved).map(() => '?').join(', ')})`).run(...Object.values({ ...moved, id: 'twice' }))).toThrow(/UNIQUE/);
    raw.close();
    const reopened = new Ledger({ path });
    expect(reopened.receipt(`${ledger.terminalCode}-77`)?.id).toBe('moved');
    expect(reopened.receipt(sale.receiptNumber)?.id).toBe(sale.receiptId);
    reopened.close();
  });
});

describe('backups', () => {
  /** An older release wrote a setting and freed some pages (a dropped table), then died (SIGKILL)
   *  before moving its WAL into the file. A copy keeps the free pages; VACUUM INTO leaves none. */
  function withSaleInWal(path: string) {
    const script = `const D = require('better-sqlite3'); const db = new D(${JSON.stringify(path)}); db.pragma('wal_autocheckpoint = 0');
      db.exec("CREATE TABLE scratch (x); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50) INSERT INTO scratch SELECT randomblob(1000) FROM n; DROP TABLE scratch");
      db.prepare("INSERT INTO settings (key, value) VALUES ('left_in_wal', 'yes')").run(); process.kill(process.pid, 'SIGKILL');`;
    const child = spawnSync(process.execPath, ['-e', script], { cwd: process.cwd(), encoding: 'utf8' });
    expect([child.signal, child.stderr]).toEqual(['SIGKILL', '']);
    expect(readFileSync(`${path}-wal`).length).toBeGreaterThan(32);
  }
  const settingIn = (file: string) => {
    const db = new Database(file, { readonly: true });
    try {
      return {
        value: db.prepare("SELECT value FROM settings WHERE key = 'left_in_wal'").pluck().get(),
        migrations: db.prepare('SELECT count(*) FROM __drizzle_migrations').pluck().get(),
        freePages: db.pragma('freelist_count', { simple: true }),
        check: db.pragma('quick_check', { simple: true }),
      };
    } finally {
      db.close();
    }
  };

  it('copies the whole ledger, its WAL included, before the first migration, and the copy restores', () => {
    const path = ledger0007();
    withSaleInWal(path);
    const before = settingIn(path);
    const ledger = new Ledger({ path });
    const migrated = ledger.sqlite.prepare('SELECT count(*) FROM __drizzle_migrations').pluck().get();
    ledger.close();
    const [backup, ...more] = listBackups(path);
    expect(more).toEqual([]);
    expect(backup).toMatch(/-pre-migration\.db$/);
    // Migrated: the next start has nothing to apply, and copies nothing.
    new Ledger({ path }).close();
    expect(listBackups(path)).toEqual([backup]);
    expect(settingIn(backup!)).toEqual({ ...before, value: 'yes', check: 'ok' });
    expect(before.migrations).toBeLessThan(migrated as number);
    expect(before.freePages).toBeGreaterThan(0); // copied, not rebuilt
    // A file of its own, like VACUUM INTO's: a rollback journal, nothing beside it.
    expect([...readFileSync(backup!).subarray(18, 20)]).toEqual([1, 1]);
    expect(existsSync(`${backup}-wal`) || existsSync(`${backup}-shm`)).toBe(false);
    restoreBackup(path, backup);
    expect(settingIn(path)).toEqual({ ...before, value: 'yes', check: 'ok' });
  });

  it('backs up with VACUUM INTO when another process has the file open', () => {
    const path = ledger0007();
    const other = new Database(path);
    other.prepare("INSERT INTO settings (key, value) VALUES ('left_in_wal', 'also')").run();
    const ledger = new Ledger({ path });
    ledger.close();
    other.close();
    const [backup] = listBackups(path);
    expect(settingIn(backup!)).toMatchObject({ value: 'also', freePages: 0, check: 'ok' });
  });

  it('takes an online backup while the till works: the till has its turns between its steps, and a sale committed meanwhile is in it; only older backups of its kind make way', async () => {
    const path = join(tempDir(), 'ledger.db');
    const ledger = new Ledger({ path });
    const card = ledger.enroll({ holder: { surname: 'Петров' }, cardNumber: '7789000000019', now, consentPd: true })!;
    for (let i = 0; i < 20; i++) ledger.commitSale({ card, priced: priced(5), now });
    let turns = 0;
    let meanwhile: string | null = null;
    let done = false;
    const till = () => {
      if (++turns === 5) meanwhile = ledger.commitSale({ card, priced: priced(7), now }).receiptId;
      if (!done) setImmediate(till);
    };
    setImmediate(till);
    // Older backups: three scheduled and one before a migration; and what a backup cut short by a
    // crash left behind. Keeping 3, the oldest scheduled one goes, and the cut-short one.
    const dir = backupDir(path);
    mkdirSync(dir, { recursive: true });
    const older = ['2026-10-01T00-00-00-000Z-pre-migration', '2026-10-02T00-00-00-000Z-scheduled', '2026-10-03T00-00-00-000Z-scheduled', '2026-10-04T00-00-00-000Z-scheduled'];
    older.forEach((name, i) => {
      writeFileSync(join(dir, `ledger-${name}.db`), 'older');
      utimesSync(join(dir, `ledger-${name}.db`), 1_790_000_000 + i, 1_790_000_000 + i);
    });
    writeFileSync(join(dir, 'ledger-2026-11-01T00-00-00-000Z-scheduled.db.partial'), 'cut short');
    writeFileSync(join(dir, 'ledger-2-2026-11-02T00-00-00-000Z-scheduled.db.partial'), 'another ledger in the folder, backing up');
    const file = await onlineBackup(ledger.sqlite, path, 'scheduled', 3, 1); // a page a step
    done = true;
    expect(turns).toBeGreaterThan(5);
    expect(meanwhile).not.toBeNull();
    ledger.close();
    const copy = new Database(file, { readonly: true });
    expect(copy.pragma('quick_check', { simple: true })).toBe('ok');
    expect(copy.prepare('SELECT count(*) FROM receipts').pluck().get()).toBe(21);
    expect(copy.prepare('SELECT count(*) FROM receipts WHERE id = ?').pluck().get(meanwhile)).toBe(1);
    copy.close();
    expect([...readFileSync(file).subarray(18, 20)]).toEqual([1, 1]);
    expect(readdirSync(dir).sort()).toEqual(
      [...older.slice(0, 1), ...older.slice(2)].map((n) => `ledger-${n}.db`).concat(basename(file), 'ledger-2-2026-11-02T00-00-00-000Z-scheduled.db.partial').sort(),
    );
  });
});
