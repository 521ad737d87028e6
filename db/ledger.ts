// The terminal's ledger: card lookup, the card state the engine prices against, and the one
// synchronous transaction that commits a sale (receipt + lines + point entries + outbox row).
import type Database from 'better-sqlite3';
import { hash } from 'node:crypto';
import { uuidv7 } from './ids';
import { GENESIS_HASH, chainHash, compactEntry } from '../protocol/chain';
import { normalizePhone } from '../protocol/phone';
import { loadOrCreateKeyFile, nameSearchTokens, nameToken, normalizeNameWords, piiKeys, type PiiKeys } from './crypto';
import { holdExclusively, openDatabase, type LedgerDb } from './open';
import { quickCheckInBackground, type IntegrityState } from './integrity';
import { priceReturn, type CardState, type CardStateNeeds, type PointLot, type PricedBasket, type PricedReturn, type Program, type ReturnRequest, type ReturnableSale } from '../engine';
import type { RemotePurchase, ReturnElsewhere, SaleElsewhere } from '../protocol/sync';

/** The newest of HQ's program versions that was put in force here, or that a file put in force here replaced. */
const PROGRAM_HQ_SEQ = "coalesce((SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'program_hq_seq'), 0)";

/** Where the active program came from: a file given at start-up, the demo shipped with the terminal, or HQ. */
export type ProgramSource = 'file' | 'demo' | 'hq';

export interface LedgerOptions {
  path: string;
  /** Where the personal-data key lives; defaults to `<db>.key` beside the database. */
  keyFile?: string;
  storeId?: string;
}

export interface Holder {
  surname?: string;
  firstName?: string;
  patronymic?: string;
  birthDate?: string;
  sex?: 'male' | 'female';
  phone?: string;
  email?: string;
  socialCategory?: string;
  [field: string]: unknown;
}

export interface EnrollInput {
  holder: Holder;
  cardNumber?: string;
  chipUid?: string;
  now: string;
  consentPd: boolean;
  consentMarketing?: boolean;
}

export interface CardRecord {
  cardId: string;
  number: string;
  chipUid: string | null;
  status: string;
  cardholderId: string;
  holder: Holder;
  enrolledAt: string;
}

export interface SaleInput {
  card: CardRecord | null;
  priced: PricedBasket;
  now: string;
  cashierId?: string | null;
  shiftId?: string | null;
  /** Points paid offline under an HQ allowance: it is drawn down in the same transaction and named to HQ. */
  allowance?: { id: string; signed: unknown; ageMs: number } | null;
}

export interface CommittedSale {
  receiptId: string;
  receiptNumber: string;
  chainSeq: number;
  balance: number | null;
  outboxSeq: number;
}

export interface VerifyReport {
  ok: boolean;
  integrity: string;
  receipts: number;
  pointEntries: number;
  accounts: number;
  problems: string[];
  firstBrokenLink?: { table: string; id: string; chainSeq: number };
}

type Row = Record<string, unknown>;

/** What a return does to the card's points beyond what the engine priced. */
export interface ReturnPoints {
  /** The share of earned points it takes back, as draws on the sale's earn lots. */
  takenBack: { lotId: string; points: number }[];
  /** What of that share expiry or burn had written off before the return: not taken again. */
  alreadyGone: number;
  /** Points paid with that go back to lots already past their expiry (SPEC §3: they keep it), so
   *  the next expiry run writes them off. */
  restoredPastExpiry: number;
}

export interface StoredReceipt {
  id: string;
  number: string;
  kind: 'sale' | 'return';
  createdAt: string;
  cardId: string | null;
  cardholderId: string | null;
  /** The sale as priced (a receipt of this terminal: its whole priced basket). */
  priced: ReturnableSale;
  /** Units of each line (1-based) already returned, here and (as HQ's feed has told) elsewhere. */
  returned: Record<number, number>;
  returnIds: string[];
  /** Earned points its returns have taken back so far. */
  pointsTakenBack: number;
  /** A sale made on another terminal (HQ gave it: sales_elsewhere): where, the lots it earned, and
   *  how far HQ's feed must have come for this terminal to know them. Null for its own receipts. */
  elsewhere: { terminalId: string; earnLots: { lotId: string; points: number }[]; feedThrough: number } | null;
}

/** A return the rules refuse (more than is left, no such line); nothing was written. */
export class ReturnRefused extends Error {
  constructor(readonly errors: { path: string; message: string; messageRu: string }[]) {
    super(errors.map((e) => e.message).join('; '));
  }
}

export interface EntryInput {
  cardholderId: string;
  cardId?: string | null;
  kind: 'adjust' | 'transfer' | 'expire' | 'burn' | 'welcome';
  points: number;
  lotId?: string | null;
  activatesAt?: string | null;
  expiresAt?: string | null;
  reason: string;
}

/** A cardholder's points replicated from HQ (other terminals' entries, HQ's own), the cardholder bound. */
const REPLICATED_POINTS = 'coalesce((SELECT sum(points) FROM remote_entries WHERE cardholder_id = ?), 0)';

/** The balance-row column naming the newest row of each cardholder list. */
const LIST_HEAD = { receipts: 'last_receipt', point_entries: 'last_entry' } as const;
/** A program version HQ published, as `programs` keeps it here. */
type HqVersion = { id: string; version: number; hq_seq: number };
type ChainTip = { seq: number; hash: string; receipt: number };

/**
 * SQL opening a query with `chain(r)`: the rowids of one cardholder's receipts or point entries,
 * newest first, at most `limit` (binds the cardholder id). Each row names the holder's previous
 * one (holder_prev) and the balance row names the newest, so a sale adds no index entries keyed by
 * cardholder: those are pages at random places in a big file, written and fsynced with every sale.
 * A link must point back (holder_prev < rowid), so even a damaged list ends.
 */
export function holderChain(table: keyof typeof LIST_HEAD, limit?: number): string {
  const head = LIST_HEAD[table];
  return `WITH RECURSIVE chain(r) AS (
    SELECT ${head} FROM balances WHERE cardholder_id = ? AND ${head} IS NOT NULL
    UNION ALL SELECT t.holder_prev FROM ${table} t JOIN chain ON t.rowid = chain.r WHERE t.holder_prev < chain.r${limit ? ` LIMIT ${limit}` : ''}
  )`;
}

/** A point entry as lots() reads it (own entries and HQ's replicated ones alike). */
type LotEntry = [id: string, lotId: string | null, points: number, createdAt: string, activatesAt: string | null, expiresAt: string | null];

/** Where a chain of moves (merges) ends: `next` until it has none, at most ten hops. */
function follow(id: string, next: (id: string) => string | null | undefined): string {
  for (let hops = 0; hops < 10; hops++) {
    const to = next(id);
    if (!to) return id;
    id = to;
  }
  return id;
}

/** The n of receipt number `CODE-n`, which is also its row (NaN for text that is not a number). */
const receiptRow = (number: string) => Number(number.slice(number.lastIndexOf('-') + 1));

/** How many cardholders' lots a ledger keeps read (a till prices one customer at a time). */
const LOTS_KEPT = 16;

/** What was read for the last few cardholders, in order of use: one read or found again goes to
 *  the end, and the one used longest ago makes room. */
class KeptByUse<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly size: number) {}

  /** The value kept for `key` while `fresh` says it still holds; else `read()`, kept. */
  get(key: string, fresh: (kept: V) => boolean, read: () => V): V {
    const kept = this.map.get(key);
    this.map.delete(key);
    const value = kept !== undefined && fresh(kept) ? kept : read();
    if (this.map.size >= this.size) this.map.delete(this.map.keys().next().value!);
    this.map.set(key, value);
    return value;
  }
}

/** @internal A card with what the till needs of its holder, in CardRecord's field order, from the
 *  card's row alone: it carries copies of its holder's sealed profile, enrolment date and phone
 *  index (migration 0009). */
export const FIND_CARD = 'SELECT id, number, chip_uid, status, cardholder_id, holder_pii, holder_enrolled_at FROM cards';

export class Ledger {
  readonly sqlite: Database.Database;
  readonly orm: LedgerDb;
  readonly terminalId: string;
  readonly terminalCode: string;
  readonly storeId: string;
  /** @internal The personal-data keys (sealing and blind indexes); db/ modules only. */
  readonly keys: PiiKeys;
  /** quick_check's verdict ('checking' while a big file is checked in the background). */
  integrity: IntegrityState = { status: 'ok' };
  readonly integrityChecked: Promise<void> = Promise.resolve();
  /** The newest link of this terminal's chain, and the place of its newest receipt in their
   *  numbering (CODE-n): read at start, kept here after (and read again at each transaction while
   *  another process may write the file). */
  private chain: ChainTip;
  private readonly stmts;
  /** One transaction wrapper for every write (building one per sale costs more than a B-tree insert). */
  private readonly inTransaction: Database.Transaction<(fn: () => unknown) => unknown>;
  /** Whether this connection holds its file alone: else another process (a `loyalty` command
   *  that had it open first) may write it between our transactions. */
  private holdsFile = false;
  private readonly settingValue: Database.Statement;
  /** The lots of the cardholders read lately, with the heads of their entries they were read at. */
  private readonly lotsRead = new KeptByUse<{ lastEntry: number | null; remoteMark: number | null; lots: readonly PointLot[] }>(LOTS_KEPT);
  /** When the items on their receipts were last bought, for the cardholders read lately: since when, and at which head of their receipts. */
  private readonly boughtRead = new KeptByUse<{ lastReceipt: number | null; elsewhereMark: string; since: string; bought: Map<string, string> }>(LOTS_KEPT);

  constructor(opts: LedgerOptions) {
    const { sqlite, orm, integrityDeferred } = openDatabase({ path: opts.path });
    this.sqlite = sqlite;
    this.orm = orm;
    if (integrityDeferred) {
      this.integrity = { status: 'checking' };
      this.integrityChecked = quickCheckInBackground(opts.path).then((result) => {
        this.integrity = result === 'ok' ? { status: 'ok' } : { status: 'failed', message: `The ledger failed its integrity check (${result}). Restore the latest backup (see README).` };
        if (result === 'ok' && sqlite.open) this.holdsFile = holdExclusively(sqlite);
      });
    } else this.holdsFile = opts.path === ':memory:' || holdExclusively(sqlite);
    const keyFile = opts.keyFile ?? (opts.path === ':memory:' ? undefined : `${opts.path}.key`);
    this.keys = piiKeys(keyFile ? loadOrCreateKeyFile(keyFile) : Buffer.alloc(32, 7));
    this.settingValue = sqlite.prepare('SELECT value FROM settings WHERE key = ?').pluck();
    const put = sqlite.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING');
    // A terminal's identity is born with its ledger: ids it mints are prefixed/ordered by it.
    const id = uuidv7();
    put.run('terminal_id', id);
    put.run('terminal_code', id.replace(/-/g, '').slice(-6).toUpperCase());
    put.run('store_id', opts.storeId ?? 'store-1');
    this.terminalId = this.setting('terminal_id')!;
    this.terminalCode = this.setting('terminal_code')!;
    this.storeId = this.setting('store_id')!;
    this.stmts = {
      cardByNumber: sqlite.prepare('SELECT * FROM cards WHERE number = ?'),
      holderById: sqlite.prepare('SELECT * FROM cardholders WHERE id = ?'),
      mergedInto: sqlite.prepare('SELECT merged_into FROM cardholders WHERE id = ?').pluck(),
      // A lookup at the till is one statement reading one B-tree: each statement outside a
      // transaction opens and closes a read transaction of its own, and each B-tree costs a leaf read.
      findByNumber: sqlite.prepare(`${FIND_CARD} WHERE number = ?`).raw(),
      findByChip: sqlite.prepare(`${FIND_CARD} WHERE chip_uid = ?`).raw(),
      findById: sqlite.prepare(`${FIND_CARD} WHERE id = ?`).raw(),
      // By phone (the copy is set while the holder is active): its active card, else its first
      // card; the covering index cards_phone is in this order.
      findByPhone: sqlite.prepare(`${FIND_CARD} WHERE holder_phone_index = ? ORDER BY status <> 'active', issued_at LIMIT 1`).raw(),
      // A cardholder's entries, own then HQ's, with only what lots() reads (as arrays: a frequent
      // customer has thousands).
      ownLotEntries: sqlite
        .prepare(`${holderChain('point_entries')} SELECT e.id, e.lot_id, e.points, e.created_at, e.activates_at, e.expires_at FROM chain JOIN point_entries e ON e.rowid = chain.r ORDER BY e.chain_seq`)
        .raw(),
      remoteLotEntries: sqlite.prepare('SELECT id, lot_id, points, created_at, activates_at, expires_at FROM remote_entries WHERE cardholder_id = ? ORDER BY hq_seq').raw(),
      remoteLot: sqlite.prepare('SELECT id, lot_id, points, created_at, activates_at, expires_at FROM remote_entries WHERE id = ?').raw(),
      // The draws on a lot, here and (as the feed has brought them) elsewhere: all but a merge's
      // transfer, those that took earned points back, and those of expiry and burn.
      lotDraws: sqlite
        .prepare(
          `SELECT coalesce(sum(points) FILTER (WHERE kind <> 'transfer'), 0), coalesce(-sum(points) FILTER (WHERE kind = 'reverse' AND points < 0), 0),
             coalesce(-sum(points) FILTER (WHERE kind IN ('expire', 'burn')), 0)
           FROM (SELECT kind, points FROM point_entries WHERE lot_id = @lot AND lot_id <> id UNION ALL SELECT kind, points FROM remote_entries WHERE lot_id = @lot AND id <> @lot)`,
        )
        .raw(),
      // The lots a sale of the cardholder's earned into, in the order earned.
      saleEarnLots: sqlite.prepare(`${holderChain('point_entries')} SELECT e.id AS lotId, e.points FROM chain JOIN point_entries e ON e.rowid = chain.r WHERE e.receipt_id = ? AND e.kind = 'earn' ORDER BY e.chain_seq`),
      // A merge's transfer pair: the draw closing a lot, then the copy opened on the kept cardholder.
      movedLot: sqlite
        .prepare(
          `SELECT c.id FROM point_entries t JOIN point_entries c ON c.rowid = t.rowid + 1
           WHERE t.lot_id = ? AND t.lot_id <> t.id AND t.kind = 'transfer' AND t.points < 0
             AND c.kind = 'transfer' AND c.lot_id = c.id AND c.points = -t.points AND c.cardholder_id <> t.cardholder_id
           ORDER BY t.rowid DESC LIMIT 1`,
        )
        .pluck(),
      // The same pair written by another terminal's merge: the copy is next in that terminal's chain.
      remoteMovedLot: sqlite
        .prepare(
          `SELECT c.id FROM remote_entries t JOIN remote_entries c ON c.terminal_id = t.terminal_id AND c.chain_seq = t.chain_seq + 1
           WHERE t.lot_id = ? AND t.lot_id <> t.id AND t.kind = 'transfer' AND t.points < 0
             AND c.kind = 'transfer' AND c.lot_id = c.id AND c.points = -t.points AND c.cardholder_id <> t.cardholder_id
           ORDER BY t.hq_seq DESC LIMIT 1`,
        )
        .pluck(),
      lastEntry: sqlite.prepare('SELECT last_entry FROM balances WHERE cardholder_id = ?').pluck(),
      importHolder: sqlite.prepare(
        `INSERT INTO cardholders (id, enrollment_no, pii, phone_index, consent_pd_at, enrolled_at, store_id, terminal_id, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertSearch: sqlite.prepare('INSERT INTO cardholder_search (tokens, cardholder_id) VALUES (?, ?)'),
      noteReturnElsewhere: sqlite.prepare(
        `INSERT OR IGNORE INTO returns_elsewhere (id, original_receipt_id, lines, points_taken_back) SELECT ?, ?, ?, ?
         WHERE EXISTS (SELECT 1 FROM receipts WHERE id = ?) OR EXISTS (SELECT 1 FROM sales_elsewhere WHERE id = ?) OR EXISTS (SELECT 1 FROM bought_elsewhere WHERE sale_id = ?)`,
      ),
      noteBoughtElsewhere: sqlite.prepare('INSERT OR IGNORE INTO bought_elsewhere (sale_id, cardholder_id, created_at, lines) VALUES (?, ?, ?, ?)'),
      syncCursor: sqlite.prepare("SELECT value FROM sync_state WHERE key = 'hq_cursor'").pluck(),
      elsewhereMark: sqlite.prepare("SELECT (SELECT coalesce(max(rowid), 0) FROM returns_elsewhere) || '/' || (SELECT coalesce(max(rowid), 0) FROM bought_elsewhere)").pluck(),
      // (cardholder, cardholder) → the balance as HQ knows it: the own points and those replicated from HQ.
      hqBalance: sqlite.prepare(`SELECT coalesce((SELECT points FROM balances WHERE cardholder_id = ?), 0) + ${REPLICATED_POINTS}`).pluck(),
      remoteMark: sqlite.prepare('SELECT max(rowid) FROM remote_entries WHERE cardholder_id = ?').pluck(),
      balance: sqlite.prepare('SELECT * FROM balances WHERE cardholder_id = ?'),
      // Points earned and paid since an instant: the holder's own entries newest first, as far back
      // as the instant, and those replicated from HQ (other terminals').
      pointsSince: sqlite
        .prepare(
          `WITH RECURSIVE chain(r) AS (
             SELECT last_entry FROM balances WHERE cardholder_id = @holder AND last_entry IS NOT NULL
             UNION ALL SELECT t.holder_prev FROM point_entries t JOIN chain ON t.rowid = chain.r WHERE t.holder_prev < chain.r AND t.created_at >= @since
           ), today(kind, points) AS (
             SELECT e.kind, e.points FROM chain JOIN point_entries e ON e.rowid = chain.r WHERE e.created_at >= @since
             UNION ALL SELECT kind, points FROM remote_entries WHERE cardholder_id = @holder AND created_at >= @since
           )
           SELECT coalesce(sum(points) FILTER (WHERE kind = 'earn'), 0) AS earned, coalesce(-sum(points) FILTER (WHERE kind = 'redeem'), 0) AS redeemed FROM today`,
        ),
      // When each item was last bought (and not all of it returned, here or elsewhere) since an
      // instant: the holder's receipts newest first, as far back as the instant, their lines in the
      // priced basket; and the lines of their sales on other terminals (HQ's feed).
      lastBought: sqlite
        .prepare(
          `WITH RECURSIVE chain(r) AS (
             SELECT last_receipt FROM balances WHERE cardholder_id = @holder AND last_receipt IS NOT NULL
             UNION ALL SELECT t.holder_prev FROM receipts t JOIN chain ON t.rowid = chain.r WHERE t.holder_prev < chain.r AND t.created_at >= @since
           ), sold(id, at, line_no, sku, qty) AS (
             SELECT r.id, r.created_at, l.key + 1, json_extract(l.value, '$.sku'), json_extract(l.value, '$.qty')
             FROM chain JOIN receipts r ON r.rowid = chain.r, json_each(r.priced, '$.lines') l
             WHERE r.kind = 'sale' AND r.created_at >= @since
             UNION ALL
             SELECT b.sale_id, b.created_at, CAST(l.key AS INTEGER), json_extract(l.value, '$[0]'), json_extract(l.value, '$[1]')
             FROM bought_elsewhere b, json_each(b.lines) l WHERE b.cardholder_id = @holder AND b.created_at >= @since
           )
           SELECT sku, max(at) AS at FROM sold s
           WHERE qty > (
               SELECT coalesce(sum(json_extract(b.value, '$.qty')), 0) FROM receipts x, json_each(x.priced, '$.lines') b
               WHERE x.original_receipt_id = s.id AND x.kind = 'return' AND json_extract(b.value, '$.lineNo') = s.line_no) + (
               SELECT coalesce(sum(json_extract(e.lines, '$."' || s.line_no || '"')), 0) FROM returns_elsewhere e WHERE e.original_receipt_id = s.id)
           GROUP BY 1`,
        )
        .raw(),
      // The sale's writes bind positional parameters: binding by name looks every name up on the
      // object through V8's slow path, which cost a sale about as much as the inserts themselves.
      // A receipt and a sale's first entry link after their cardholder's newest (the heads the balance
      // row keeps; the cardholder bound again, last) in the insert itself, not through a read of the
      // heads first: a statement fewer.
      insertReceipt: sqlite.prepare(
        `INSERT INTO receipts (id, number, terminal_id, kind, original_receipt_id, card_id, cardholder_id, shift_id, cashier_id, created_at,
          gross, discount, redeem_kopecks, to_pay, points_earned, points_redeemed, program_id, program_version, program_hash, priced, chain_seq, prev_hash, hash, holder_prev)
         VALUES (${'?, '.repeat(23)}(SELECT last_receipt FROM balances WHERE cardholder_id = ?))`,
      ),
      insertEntry: sqlite.prepare(
        `INSERT INTO point_entries (id, terminal_id, cardholder_id, card_id, receipt_id, kind, points, lot_id, activates_at, expires_at, reason, created_at, chain_seq, prev_hash, hash, holder_prev)
         VALUES (${'?, '.repeat(15)}coalesce(?, (SELECT last_entry FROM balances WHERE cardholder_id = ?)))`,
      ),
      // (cardholder, points, spend, count, last purchase at, last receipt, last entry; the cardholder
      // again): added to the row, which answers with the balance as HQ knows it (the entries
      // replicated from HQ added: a statement fewer than asking for those apart)
      upsertBalance: sqlite.prepare(
        `INSERT INTO balances (cardholder_id, points, lifetime_spend, purchase_count, last_purchase_at, last_receipt, last_entry)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(cardholder_id) DO UPDATE SET points = points + excluded.points, lifetime_spend = lifetime_spend + excluded.lifetime_spend,
           purchase_count = purchase_count + excluded.purchase_count, last_purchase_at = coalesce(excluded.last_purchase_at, last_purchase_at),
           last_receipt = coalesce(excluded.last_receipt, last_receipt), last_entry = coalesce(excluded.last_entry, last_entry)
         RETURNING points + ${REPLICATED_POINTS}`,
      ).pluck(),
      // Purchase history counted from elsewhere (another terminal's sale, a merged duplicate's):
      // the last purchase only ever moves forward.
      addHistory: sqlite.prepare(
        `INSERT INTO balances (cardholder_id, points, lifetime_spend, purchase_count, last_purchase_at) VALUES (?, 0, ?, ?, ?)
         ON CONFLICT(cardholder_id) DO UPDATE SET lifetime_spend = lifetime_spend + excluded.lifetime_spend, purchase_count = purchase_count + excluded.purchase_count,
           last_purchase_at = CASE WHEN excluded.last_purchase_at > coalesce(last_purchase_at, '') THEN excluded.last_purchase_at ELSE last_purchase_at END`,
      ),
      useAllowance: sqlite.prepare('UPDATE allowances SET used = used + ? WHERE id = ?'),
      // The rows named by a page of outbox rows (a JSON array of rowids).
      receiptsAt: sqlite.prepare(`SELECT rowid, ${RECEIPT_LINK} FROM receipts WHERE rowid IN (SELECT value FROM json_each(?))`).raw(),
      entriesAt: sqlite.prepare(`SELECT rowid, ${ENTRY_LINK} FROM point_entries WHERE rowid IN (SELECT value FROM json_each(?))`).raw(),
      // seq is the rowid: one more than the largest (rows are never deleted), so 1, 2, 3 … without gaps.
      insertOutbox: sqlite.prepare('INSERT INTO outbox (op_id, kind, payload, created_at) VALUES (?, ?, ?, ?)'),
      // Both tables are append-only and written in chain order, so each one's last row by rowid
      // is its newest link (no chain_seq index to keep up on every sale).
      chainHead: sqlite.prepare(
        `SELECT chain_seq AS seq, hash FROM (
           SELECT * FROM (SELECT chain_seq, hash FROM receipts ORDER BY rowid DESC LIMIT 1)
           UNION ALL SELECT * FROM (SELECT chain_seq, hash FROM point_entries ORDER BY rowid DESC LIMIT 1)
         ) ORDER BY chain_seq DESC LIMIT 1`,
      ),
      lastReceiptNumber: sqlite.prepare('SELECT number FROM receipts ORDER BY rowid DESC LIMIT 1').pluck(),
      activeProgram: sqlite.prepare('SELECT hash, json FROM programs WHERE active = 1'),
      activeProgramHash: sqlite.prepare('SELECT hash FROM programs WHERE active = 1').pluck(),
      programVersion: sqlite.prepare('SELECT hash, active FROM programs WHERE id = ? AND version = ?'),
      deactivatePrograms: sqlite.prepare('UPDATE programs SET active = 0 WHERE active = 1'),
      putProgram: sqlite.prepare(
        `INSERT INTO programs (id, version, hash, json, received_at, active) VALUES (?, ?, ?, ?, ?, 1)
         ON CONFLICT(id, version) DO UPDATE SET hash = excluded.hash, json = excluded.json, received_at = excluded.received_at, active = 1, hq_seq = NULL, active_from = NULL`,
      ),
      putHqProgram: sqlite.prepare(
        `INSERT INTO programs (id, version, hash, json, received_at, active, hq_seq, active_from) VALUES (?, ?, ?, ?, ?, 0, ?, ?)
         ON CONFLICT(id, version) DO UPDATE SET hash = excluded.hash, json = excluded.json, received_at = excluded.received_at, hq_seq = excluded.hq_seq, active_from = excluded.active_from`,
      ),
      // Of HQ's versions not yet put in force here (published after the newest that was, or that a
      // file replaced), the newest published whose moment has come, and the next to come.
      dueProgram: sqlite.prepare(`SELECT id, version, hq_seq FROM programs WHERE hq_seq > ${PROGRAM_HQ_SEQ} AND active_from <= ? ORDER BY hq_seq DESC LIMIT 1`),
      nextProgram: sqlite.prepare(
        `SELECT id, version, json_extract(json, '$.name') AS name, active_from AS activeFrom FROM programs WHERE hq_seq > ${PROGRAM_HQ_SEQ} AND active_from > ? ORDER BY active_from, hq_seq DESC LIMIT 1`,
      ),
      heldHqSeq: sqlite.prepare('SELECT coalesce(max(hq_seq), 0) FROM programs WHERE active_from <= ?').pluck(),
      activateVersion: sqlite.prepare('UPDATE programs SET active = 1 WHERE id = ? AND version = ?'),
      counter: sqlite.prepare("INSERT INTO settings (key, value) VALUES (?, '1') ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1 RETURNING value").pluck(),
    };
    this.chain = this.loadChainTip();
    this.inTransaction = sqlite.transaction((fn: () => unknown) => {
      // Sharing the file, the chain may have grown elsewhere since: link after its newest row.
      if (!this.holdsFile) this.chain = this.loadChainTip();
      return fn();
    });
  }

  close() {
    this.sqlite.close();
  }

  /** Moves WAL pages into the main file without waiting for readers (a till never stalls on it). */
  checkpoint() {
    return this.sqlite.pragma('wal_checkpoint(PASSIVE)');
  }

  /** A per-terminal counter in settings (receipt and enrollment numbers): O(1), inside the caller's transaction. */
  private nextCounter(key: string): number {
    return Number(this.stmts.counter.get(key));
  }

  /** The next receipt number (`CODE-n`): one more than the newest receipt's. The receipts carry the
   *  count themselves, so a sale writes no counter row (one page fewer in its commit). */
  private nextReceiptNumber(): string {
    return `${this.terminalCode}-${this.chain.receipt + 1}`;
  }

  private loadChainTip(): ChainTip {
    const head = (this.stmts.chainHead.get() as { seq: number; hash: string } | undefined) ?? { seq: 0, hash: GENESIS_HASH };
    const last = this.stmts.lastReceiptNumber.get() as string | undefined;
    return { ...head, receipt: last ? receiptRow(last) : 0 };
  }

  /** Links a row built for it into the terminal's chain: gives it its chainSeq, prevHash and hash
   *  (in place: a copy per row costs V8 a new hidden class); the caller inserts it in the same transaction. */
  private link<T extends Row>(row: T): T & { chainSeq: number; prevHash: string; hash: string } {
    const linked = row as T & { chainSeq: number; prevHash: string; hash: string };
    linked.chainSeq = this.chain.seq + 1;
    const prevHash = this.chain.hash;
    const hash = chainHash(prevHash, linked, sha256Node);
    linked.prevHash = prevHash;
    linked.hash = hash;
    this.chain = { seq: linked.chainSeq, hash, receipt: this.chain.receipt };
    return linked;
  }

  // ---- cardholders and cards --------------------------------------------------------------

  /** Enrolls a cardholder (and binds a card if given); returns the card as looked up after. */
  enroll(input: EnrollInput): CardRecord | null {
    this.enrollHolder(input);
    return input.cardNumber ? this.findCard({ number: input.cardNumber }) : null;
  }

  /** Enrolls a cardholder in one transaction with its outbox row; returns the new cardholder's id. */
  enrollHolder(input: EnrollInput): string {
    const phone = input.holder.phone ? normalizePhone(input.holder.phone) : null;
    if (phone && !phone.ok) throw new Error(phone.error);
    const holder: Holder = { ...input.holder, ...(phone?.ok ? { phone: phone.e164 } : {}) };
    const id = uuidv7();
    const tx = this.sqlite.transaction(() => {
      const n = this.nextCounter('enrollment_seq');
      this.sqlite
        .prepare(
          `INSERT INTO cardholders (id, enrollment_no, pii, phone_index, consent_pd_at, consent_marketing_at, enrolled_at, store_id, terminal_id, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          id,
          `${this.terminalCode}-${String(n).padStart(7, '0')}`,
          this.keys.seal(holder),
          phone?.ok ? this.keys.blindIndex('phone', phone.e164) : null,
          input.consentPd ? input.now : null,
          input.consentMarketing ? input.now : null,
          input.now,
          this.storeId,
          this.terminalId,
          input.now,
        );
      const tokens = nameSearchTokens(this.keys, holder.surname, holder.firstName, holder.patronymic);
      if (tokens.length) this.sqlite.prepare('INSERT INTO cardholder_search (tokens, cardholder_id) VALUES (?, ?)').run(tokens.join(' '), id);
      const cardId = input.cardNumber ? this.issueCardRow(id, input.cardNumber, input.chipUid ?? null, input.now) : null;
      // The holder travels to HQ sealed in the outbox (no personal data in clear in the file).
      this.appendOutbox('enroll', id, input.now, {
        cardholderId: id,
        enrolledAt: input.now,
        sealedHolder: this.keys.seal(holder).toString('base64'),
        card: cardId ? { cardId, number: input.cardNumber, chipUid: input.chipUid ?? null } : null,
      });
    });
    tx.immediate();
    return id;
  }

  private issueCardRow(cardholderId: string, number: string, chipUid: string | null, now: string, id: string = uuidv7()): string {
    this.sqlite
      .prepare('INSERT INTO cards (id, number, chip_uid, status, cardholder_id, issued_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(id, number, chipUid, 'active', cardholderId, now, now);
    return id;
  }

  /** @internal A value kept in `settings` (the jobs' places, the PIN lock), if any. */
  setting(key: string): string | undefined {
    return this.settingValue.get(key) as string | undefined;
  }

  /** @internal Keeps a value in `settings`, or removes it (null). */
  saveSetting(key: string, value: string | null) {
    if (value === null) this.sqlite.prepare('DELETE FROM settings WHERE key = ?').run(key);
    else this.sqlite.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  // ---- programs ---------------------------------------------------------------------------

  /**
   * Makes a program version from a file (or the demo) the one the tills price with, kept in
   * `programs` in place of whatever this ledger held under the same id and version. HQ's versions
   * whose moment has come stay replaced; one still to come will come into force at its moment.
   */
  activateProgram(program: Program, hash: string, source: Exclude<ProgramSource, 'hq'>, now: string) {
    this.sqlite.transaction(() => {
      this.stmts.deactivatePrograms.run();
      this.stmts.putProgram.run(program.id, program.version, hash, JSON.stringify(program), now);
      this.saveSetting('program_source', source);
      this.saveSetting('program_hq_seq', String(this.stmts.heldHqSeq.get(now)));
    })();
  }

  /**
   * Keeps a program version HQ published (in the caller's transaction: a page of the feed), in
   * place of whatever this ledger held under the same id and version. It comes into force at its
   * `activeFrom` (activateDueProgram), with or without a network.
   */
  keepHqProgram(p: { program: Program; hash: string; hqSeq: number; activeFrom: string }, now: string) {
    this.stmts.putHqProgram.run(p.program.id, p.program.version, p.hash, JSON.stringify(p.program), now, p.hqSeq, p.activeFrom);
  }

  /**
   * Drops a version HQ withdrew before its moment (in the caller's transaction: a page of the
   * feed), so it never comes into force here. If this terminal's clock ran ahead and put it in
   * force, the newest other version HQ published whose moment has come takes its place again.
   * A version of the same id and number given here from a file is not HQ's, and stays.
   */
  dropHqProgram(id: string, version: number, now: string) {
    const held = this.sqlite.prepare('SELECT active FROM programs WHERE id = ? AND version = ? AND hq_seq IS NOT NULL').pluck().get(id, version) as number | undefined;
    if (held === undefined) return;
    if (held === 1) {
      const back = this.sqlite
        .prepare('SELECT id, version, hq_seq FROM programs WHERE hq_seq IS NOT NULL AND NOT (id = ? AND version = ?) AND active_from <= ? ORDER BY hq_seq DESC LIMIT 1')
        .get(id, version, now) as HqVersion | undefined;
      if (!back) return; // nothing of HQ's to go back to: the tills keep pricing with it
      this.putHqVersionInForce(back);
    }
    this.sqlite.prepare('DELETE FROM programs WHERE id = ? AND version = ? AND hq_seq IS NOT NULL').run(id, version);
  }

  /**
   * Puts in force the newest version HQ published whose moment has come, if it is not yet: so a
   * version published for midnight prices the first sale after midnight, even offline. A version
   * published after another comes before it, whatever their moments.
   */
  activateDueProgram(now: string) {
    const due = this.stmts.dueProgram.get(now) as HqVersion | undefined;
    if (due) this.sqlite.transaction(() => this.putHqVersionInForce(due))();
  }

  /** Makes a version HQ published the one the tills price with, in the caller's transaction. */
  private putHqVersionInForce(v: HqVersion) {
    this.stmts.deactivatePrograms.run();
    this.stmts.activateVersion.run(v.id, v.version);
    this.saveSetting('program_source', 'hq');
    this.saveSetting('program_hq_seq', String(v.hq_seq));
  }

  /** The version HQ published that comes into force next, if one is to come. */
  nextProgram(now: string): { id: string; version: number; name: string; activeFrom: string } | null {
    return (this.stmts.nextProgram.get(now) as { id: string; version: number; name: string; activeFrom: string } | undefined) ?? null;
  }

  /** The program version the tills price with (its hash and JSON, as stored), and where it came from. */
  activeProgram(): { hash: string; json: string; source: ProgramSource | null } | null {
    const row = this.stmts.activeProgram.get() as { hash: string; json: string } | undefined;
    return row ? { ...row, source: (this.setting('program_source') as ProgramSource | undefined) ?? null } : null;
  }

  /** The hash of the version in force at `now`, once a version whose moment has come is put in
   *  force (activateDueProgram): two statements on a tiny table, read before each pricing. */
  programInForce(now: string): string | null {
    this.activateDueProgram(now);
    return (this.stmts.activeProgramHash.get() as string | undefined) ?? null;
  }

  /** A program version this ledger holds (active or replaced since), by its id and version number. */
  programVersion(id: string, version: number): { hash: string; active: boolean } | null {
    const row = this.stmts.programVersion.get(id, version) as { hash: string; active: number } | undefined;
    return row ? { hash: row.hash, active: row.active === 1 } : null;
  }

  /** @internal The next outbox row (seq 1, 2, 3 … without gaps), inside the caller's transaction.
   *  The payload is kept as plain JSON; the upload writes its non-ASCII characters as escapes
   *  (SyncStore.pending), out of the sale's commit. */
  appendOutbox(kind: string, opId: string, now: string, payload: unknown): number {
    return Number(this.stmts.insertOutbox.run(opId, kind, JSON.stringify(payload), now).lastInsertRowid);
  }

  /**
   * Outbox payloads as HQ gets them. A sale's row names the receipt and point entries it wrote (by
   * rowid): the receipt as chained, its lines from its priced basket and its entries without what
   * they share with it are read from those rows, which are append-only like the row itself. The
   * sale's commit so writes no second copy of them. The rows of a whole page are read in one
   * statement per table. Any other payload is sent as it was written.
   */
  uploadPayloads(stored: Record<string, unknown>[]): Record<string, unknown>[] {
    const named = stored.map((s) => s.rows as { receipt: number; entries: number[] } | undefined);
    if (!named.some(Boolean)) return stored;
    const byRowid = (stmt: Database.Statement, rowids: number[]) => new Map((stmt.all(JSON.stringify(rowids)) as unknown[][]).map((a) => [a[0] as number, a.slice(1)]));
    const receipts = byRowid(this.stmts.receiptsAt, named.flatMap((n) => (n ? [n.receipt] : [])));
    const entries = byRowid(this.stmts.entriesAt, named.flatMap((n) => n?.entries ?? []));
    const found = (rows: Map<number, unknown[]>, rowid: number, what: string) => {
      const row = rows.get(rowid);
      if (!row) throw new Error(`An outbox row names ${what} row ${rowid}, which is not in the ledger`);
      return row;
    };
    return stored.map((s, i) => {
      const n = named[i];
      if (!n) return s;
      const { rows: _, ...rest } = s;
      const receipt = receiptLink(found(receipts, n.receipt, 'receipt'));
      const compact = n.entries.map((rowid) => compactEntry(asLinked(entryLink(found(entries, rowid, 'point entry')))));
      return { receipt: asLinked(receipt), lines: saleLines(JSON.parse(receipt.priced) as PricedBasket), entries: compact, ...rest };
    });
  }

  /** A card HQ knows (provisioning, or enrolled on another terminal), or a card's new state from
   *  HQ (blocked, replaced, moved by a merge): kept as HQ sent it, sealed here with this terminal's
   *  key. Idempotent. A cardholder HQ sends with no data left was anonymized: so here too. */
  importCard(c: { cardholderId: string; cardId: string; number: string; chipUid: string | null; status: string; holder: Holder; enrolledAt: string }) {
    const phone = c.holder.phone ? normalizePhone(String(c.holder.phone)) : null;
    const holderRow = this.stmts.holderById.get(c.cardholderId) as Row | undefined;
    if (!holderRow) {
      this.stmts.importHolder.run(c.cardholderId, `HQ-${c.cardholderId}`, this.keys.seal(c.holder), phone?.ok ? this.keys.blindIndex('phone', phone.e164) : null, c.enrolledAt, c.enrolledAt, this.storeId, 'hq', c.enrolledAt);
      const tokens = nameSearchTokens(this.keys, c.holder.surname, c.holder.firstName, c.holder.patronymic);
      if (tokens.length) this.stmts.insertSearch.run(tokens.join(' '), c.cardholderId);
    } else if (Object.keys(c.holder).length === 0 && holderRow.status !== 'anonymized') {
      this.eraseHolder(c.cardholderId, c.enrolledAt);
    } else if (Array.isArray(c.holder.segments) && holderRow.pii) {
      // Segments are HQ's to assign (RFM): take them; the rest of the profile stays as it is here.
      const local = this.keys.open<Holder>(holderRow.pii as Buffer);
      if (JSON.stringify(local.segments ?? []) !== JSON.stringify(c.holder.segments)) {
        this.sqlite.prepare('UPDATE cardholders SET pii = ? WHERE id = ?').run(this.keys.seal({ ...local, segments: c.holder.segments }), c.cardholderId);
      }
    }
    const existing = this.stmts.cardByNumber.get(c.number) as Row | undefined;
    if (!existing) {
      this.sqlite
        .prepare('INSERT INTO cards (id, number, chip_uid, status, cardholder_id, issued_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(c.cardId, c.number, c.chipUid, c.status, c.cardholderId, c.enrolledAt, c.enrolledAt);
    } else if (existing.id === c.cardId && (existing.status !== c.status || existing.cardholder_id !== c.cardholderId || existing.chip_uid !== c.chipUid)) {
      this.sqlite.prepare('UPDATE cards SET status = ?, cardholder_id = ?, chip_uid = ? WHERE id = ?').run(c.status, c.cardholderId, c.chipUid, c.cardId);
      // HQ merged the card's cardholder into another: the one left without cards is that duplicate,
      // and its purchase history counts for the one kept (as it does at HQ).
      const merged = this.sqlite
        .prepare("UPDATE cardholders SET status = 'merged', merged_into = ? WHERE id = ? AND status = 'active' AND NOT EXISTS (SELECT 1 FROM cards WHERE cardholder_id = ?)")
        .run(c.cardholderId, existing.cardholder_id, existing.cardholder_id);
      if (merged.changes) this.moveHistory(existing.cardholder_id as string, c.cardholderId);
    }
  }

  /** @internal Removes a cardholder's personal data (questionnaire, phone index, name tokens);
   *  cards, receipts and point entries stay, so every sum is unchanged. */
  eraseHolder(cardholderId: string, now: string) {
    this.sqlite.prepare("UPDATE cardholders SET pii = NULL, phone_index = NULL, status = 'anonymized', consent_marketing_at = NULL, updated_at = ? WHERE id = ?").run(now, cardholderId);
    this.sqlite.prepare('DELETE FROM cardholder_search WHERE cardholder_id = ?').run(cardholderId);
  }

  /** Opens a holder sealed into an outbox payload (for the upload to HQ). */
  openSealedHolder(b64: string): Holder {
    return this.keys.open<Holder>(Buffer.from(b64, 'base64'));
  }

  findCard(query: { number?: string; chipUid?: string; phone?: string; cardId?: string }): CardRecord | null {
    let row: unknown[] | undefined;
    if (query.number) row = this.stmts.findByNumber.get(query.number) as unknown[] | undefined;
    else if (query.cardId) row = this.stmts.findById.get(query.cardId) as unknown[] | undefined;
    else if (query.chipUid) row = this.stmts.findByChip.get(query.chipUid) as unknown[] | undefined;
    else if (query.phone) {
      const phone = normalizePhone(query.phone);
      if (phone.ok) row = this.stmts.findByPhone.get(this.keys.blindIndex('phone', phone.e164)) as unknown[] | undefined;
    }
    if (!row) return null;
    const [cardId, number, chipUid, status, cardholderId, pii, enrolledAt] = row as [string, string, string | null, string, string, Buffer | null, string];
    return { cardId, number, chipUid, status, cardholderId, holder: pii ? this.keys.open<Holder>(pii) : {}, enrolledAt };
  }

  /** Name search over blind-indexed prefixes: "Иван Пет" finds Иванов Пётр. */
  searchByName(text: string, limit = 20): string[] {
    const words = normalizeNameWords(text);
    if (!words.length) return [];
    const match = words.map((w) => nameToken(this.keys, w.slice(0, 24))).join(' AND ');
    return this.sqlite.prepare('SELECT cardholder_id FROM cardholder_search WHERE tokens MATCH ? LIMIT ?').pluck().all(match, limit) as string[];
  }

  // ---- balances ---------------------------------------------------------------------------

  /**
   * Lots with what is left of them: a lot is a credit entry; draws and restores name its id.
   * The terminal's own entries and those replicated from HQ (other terminals') both count.
   *
   * A swipe reads them, and so does every pricing after it: each basket change and the checkout
   * just before the commit. Both tables are append-only, so the lots are the same until the
   * cardholder's newest own entry (its list's head) or newest replicated one changes: the last
   * few cardholders' lots are kept with those two marks and read again only when one moves.
   * Inside a transaction they are always read afresh (what it wrote may yet be rolled back).
   */
  lots(cardholderId: string): readonly PointLot[] {
    return this.keptLots(cardholderId, this.lastEntry(cardholderId));
  }

  /** The lots, given the head of the cardholder's own entries (a caller that read their balance row has it). */
  private keptLots(cardholderId: string, lastEntry: number | null): readonly PointLot[] {
    if (this.sqlite.inTransaction) return this.readLots(cardholderId);
    const remoteMark = (this.stmts.remoteMark.get(cardholderId) as number | null) ?? null;
    return this.lotsRead.get(
      cardholderId,
      (kept) => kept.lastEntry === lastEntry && kept.remoteMark === remoteMark,
      () => {
        const lots = this.readLots(cardholderId);
        for (const l of lots) Object.freeze(l);
        return { lastEntry, remoteMark, lots: Object.freeze(lots) };
      },
    ).lots;
  }

  /**
   * When each of `skus` was last bought by the cardholder since `since` (not all of it returned), on
   * this terminal or on another as far as HQ's feed has brought it. Every item of their receipts in
   * the period is read at once (a frequent customer's year of receipts: 27 ms for 970 of them on the
   * test VM) and kept, like their lots, until a receipt of theirs is written: each later pricing of
   * the basket finds it.
   */
  private lastBought(cardholderId: string, lastReceipt: number | null, since: string, skus: readonly string[]): Record<string, string> {
    // A sale or return of theirs on another terminal (HQ's feed) changes it too: the newest ones noted are a mark.
    const elsewhereMark = this.stmts.elsewhereMark.get() as string;
    const read = () => ({ lastReceipt, elsewhereMark, since, bought: new Map(this.stmts.lastBought.all({ holder: cardholderId, since }) as [string, string][]) });
    const { bought } = this.sqlite.inTransaction
      ? read()
      : this.boughtRead.get(cardholderId, (kept) => kept.lastReceipt === lastReceipt && kept.elsewhereMark === elsewhereMark && kept.since <= since, read);
    const out: Record<string, string> = {};
    for (const sku of skus) {
      const at = bought.get(sku);
      if (at !== undefined && at >= since) out[sku] = at;
    }
    return out;
  }

  private readLots(cardholderId: string): PointLot[] {
    const entries = [...(this.stmts.ownLotEntries.all(cardholderId) as LotEntry[]), ...(this.stmts.remoteLotEntries.all(cardholderId) as LotEntry[])];
    const lots = new Map<string, PointLot>();
    const asLot = ([id, , points, createdAt, activatesAt, expiresAt]: LotEntry): PointLot => ({ lotId: id, points, earnedAt: createdAt, activatesAt: activatesAt ?? createdAt, expiresAt });
    const draws: LotEntry[] = [];
    for (const e of entries) {
      if ((e[1] ?? e[0]) === e[0]) lots.set(e[0], asLot(e));
      else draws.push(e);
    }
    for (const e of draws) {
      const lot = lots.get(e[1]!);
      if (lot) lot.points += e[2];
      else lots.set(e[0], asLot(e)); // a draw on a lot not known here still counts
    }
    return [...lots.values()].filter((l) => l.points !== 0);
  }

  /** HQ's balance as this terminal knows it: its own entries plus those replicated from HQ. */
  balance(cardholderId: string): number {
    return this.stmts.hqBalance.get(cardholderId, cardholderId) as number;
  }

  /**
   * What pricing needs of a card. What the program needs beyond that (`cardStateNeeds` in the
   * engine) is read only when asked: the points earned and paid with since the start of the local
   * day, here and on other terminals as far as the feed has brought them (daily limits); when the
   * basket's items were last bought, here or on other terminals as far as the feed has brought
   * them (repeat-purchase discounts).
   */
  cardState(card: CardRecord, needs: CardStateNeeds | null = null): CardState {
    const b = this.stmts.balance.get(card.cardholderId) as Row | undefined;
    const h = card.holder;
    const holder = card.cardholderId;
    return {
      ...(needs?.todayFrom ? { today: this.stmts.pointsSince.get({ holder, since: needs.todayFrom }) as { earned: number; redeemed: number } } : {}),
      ...(needs?.bought ? { lastBought: this.lastBought(holder, (b?.last_receipt as number | null | undefined) ?? null, needs.bought.since, needs.bought.skus) } : {}),
      lots: this.keptLots(holder, (b?.last_entry as number | null | undefined) ?? null),
      lifetimeSpend: (b?.lifetime_spend as number | undefined) ?? 0,
      purchaseCount: (b?.purchase_count as number | undefined) ?? 0,
      firstPurchase: !b || (b.purchase_count as number) === 0,
      holder: {
        birthDate: h.birthDate,
        sex: h.sex,
        socialCategory: h.socialCategory,
        enrolledAt: card.enrolledAt,
        segments: Array.isArray(h.segments) ? (h.segments as string[]) : [],
      },
    };
  }

  /**
   * @internal Runs `fn` in one transaction; if it throws, nothing is written and the in-memory
   * chain head is put back (the rows that advanced it were rolled back). BEGIN IMMEDIATE: the
   * write lock is taken (waiting up to busy_timeout) before `fn` reads anything, so a read that
   * opens the transaction can never meet another connection's newer commit when it then writes.
   */
  atomically<T>(fn: () => T): T {
    const chainBefore = this.chain;
    try {
      return this.inTransaction.immediate(fn) as T;
    } catch (e) {
      this.chain = chainBefore;
      throw e;
    }
  }

  /** The rowid of a cardholder's newest point entry: the head of its list. */
  private lastEntry(cardholderId: string): number | null {
    return (this.stmts.lastEntry.get(cardholderId) as number | null | undefined) ?? null;
  }

  /** Inserts a linked point entry after its cardholder's previous one (null: after the newest
   *  the balance row names); returns its rowid. */
  private insertEntry(e: Row, holderPrev: number | null): number {
    const { lastInsertRowid } = this.stmts.insertEntry.run(
      e.id, e.terminalId, e.cardholderId, e.cardId, e.receiptId, e.kind, e.points, e.lotId, e.activatesAt, e.expiresAt, e.reason, e.createdAt, e.chainSeq, e.prevHash, e.hash, holderPrev, e.cardholderId,
    );
    return Number(lastInsertRowid);
  }

  /**
   * @internal Appends chained point entries that are not part of a sale (adjustments, transfers,
   * expiry) and moves the balance cache; inside the caller's transaction. A credit entry
   * (points > 0, no lotId) opens its own lot.
   */
  appendEntries(entries: EntryInput[], now: string): Row[] {
    const linked = entries.map((e) => {
      const id = uuidv7();
      return this.link({
        id,
        terminalId: this.terminalId,
        cardholderId: e.cardholderId,
        cardId: e.cardId ?? null,
        receiptId: null,
        kind: e.kind,
        points: e.points,
        lotId: e.lotId ?? (e.points > 0 ? id : null),
        activatesAt: e.activatesAt ?? null,
        expiresAt: e.expiresAt ?? null,
        reason: e.reason,
        createdAt: now,
      });
    });
    const moved = new Map<string, { points: number; lastEntry: number | null }>();
    for (const e of linked) {
      const holder = moved.get(e.cardholderId) ?? { points: 0, lastEntry: null as number | null };
      holder.lastEntry = this.insertEntry(e, holder.lastEntry);
      holder.points += e.points;
      moved.set(e.cardholderId, holder);
    }
    for (const [cardholderId, { points, lastEntry }] of moved) this.stmts.upsertBalance.run(cardholderId, points, 0, 0, null, null, lastEntry, cardholderId);
    return linked;
  }

  /** @internal Moves the purchase history counters of the balance cache (merging cardholders). */
  moveHistory(from: string, to: string) {
    const b = this.stmts.balance.get(from) as Row | undefined;
    if (!b) return;
    const spend = b.lifetime_spend as number;
    const count = b.purchase_count as number;
    this.stmts.addHistory.run(to, spend, count, b.last_purchase_at ?? null);
    this.stmts.addHistory.run(from, -spend, -count, null);
  }

  /** @internal A sale or return with a card made on another terminal (HQ's feed): it counts in the
   *  cardholder's history here (cumulative tiers, a first purchase, inactivity), or in the history
   *  of the one it was merged into; what a sale sold counts for repeat-purchase discounts. */
  countRemotePurchase(p: Pick<RemotePurchase, 'cardholderId' | 'kind' | 'spend' | 'createdAt' | 'sale'>) {
    const holder = this.currentHolderId(p.cardholderId);
    this.stmts.addHistory.run(holder, p.spend, p.kind === 'sale' ? 1 : 0, p.kind === 'sale' ? p.createdAt : null);
    if (p.sale) this.stmts.noteBoughtElsewhere.run(p.sale.id, holder, p.createdAt, JSON.stringify(p.sale.lines));
  }

  // ---- the sale ---------------------------------------------------------------------------

  /** One synchronous transaction: receipt, lines, point entries, balance cache and outbox row —
   *  or nothing. better-sqlite3 runs it to COMMIT (fsync'd under synchronous=FULL) before returning. */
  commitSale(input: SaleInput): CommittedSale {
    if (this.integrity.status === 'failed') throw new Error(this.integrity.message);
    const { priced, card } = input;
    return this.atomically(() => {
      const receiptNumber = this.nextReceiptNumber();
      return this.writeReceipt({
        kind: 'sale',
        number: receiptNumber,
        originalReceiptId: null,
        card: card ? { cardId: card.cardId, cardholderId: card.cardholderId } : null,
        input,
        totals: {
          gross: priced.totals.gross,
          discount: priced.totals.discount,
          redeemKopecks: priced.totals.redeemKopecks,
          toPay: priced.totals.toPay,
          pointsEarned: card ? priced.totals.pointsEarned : 0,
          pointsRedeemed: card ? priced.totals.pointsRedeemed : 0,
        },
        program: priced.program,
        pricedJson: JSON.stringify(priced),
        entries: card
          ? [
              ...priced.redemption.fromLots.map((d) => ({ kind: 'redeem', points: -d.points, lotId: d.lotId, activatesAt: null, expiresAt: null, reason: `Оплата баллами, чек ${receiptNumber}` })),
              ...priced.earnLots.map((lot) => ({ kind: lot.source === 'welcome' ? 'welcome' : 'earn', points: lot.points, lotId: null, activatesAt: lot.activatesAt, expiresAt: lot.expiresAt, reason: lot.reason.ru })),
            ]
          : [],
        spend: priced.totals.toPay + priced.totals.redeemKopecks,
        count: 1,
        ...(input.allowance && card && priced.totals.pointsRedeemed > 0 ? { allowance: input.allowance } : {}),
        // What the till offered (for HQ's refusal share): the points the card could have paid with.
        facts: card ? { redeemOffered: priced.redemption.maxPoints } : {},
      });
    });
  }

  /** An NPS answer after a sale (0–10), uploaded to HQ like any operation. */
  recordNps(input: { receiptId: string | null; score: number; comment: string | null; now: string }): string {
    const id = uuidv7();
    this.appendOutbox('nps', id, input.now, { id, receiptId: input.receiptId, score: input.score, comment: input.comment, createdAt: input.now });
    return id;
  }

  /** A committed receipt with its priced basket, its lines and what has been returned of it. */
  receipt(idOrNumber: string): StoredReceipt | null {
    // By id, else by number: receipt CODE-n is row n (a row written elsewhere is in receipts_number_elsewhere).
    const n = receiptRow(idOrNumber);
    const r = (this.sqlite.prepare('SELECT * FROM receipts WHERE id = ?').get(idOrNumber) ??
      (Number.isSafeInteger(n) ? this.sqlite.prepare('SELECT * FROM receipts WHERE rowid = ? AND number = ?').get(n, idOrNumber) : undefined) ??
      this.sqlite.prepare("SELECT * FROM receipts WHERE number = ? AND rowid <> CAST(substr(number, instr(number, '-') + 1) AS INTEGER)").get(idOrNumber)) as Row | undefined;
    const s = r ? null : (this.sqlite.prepare('SELECT * FROM sales_elsewhere WHERE id = ? OR number = ?').get(idOrNumber, idOrNumber) as Row | undefined);
    const found = r ?? s;
    if (!found) return null;
    return {
      id: found.id as string,
      number: found.number as string,
      kind: r ? (r.kind as 'sale' | 'return') : 'sale',
      createdAt: found.created_at as string,
      cardId: (found.card_id as string | null) ?? null,
      cardholderId: (found.cardholder_id as string | null) ?? null,
      priced: JSON.parse((r ? r.priced : found.sale) as string) as ReturnableSale,
      ...this.returnsOf(found.id as string),
      elsewhere: s ? { terminalId: s.terminal_id as string, earnLots: JSON.parse(s.earn_lots as string) as { lotId: string; points: number }[], feedThrough: s.feed_through as number } : null,
    };
  }

  /** What has come back of a sale: its returns here (by their priced lines) and those made on other terminals. */
  private returnsOf(saleId: string): Pick<StoredReceipt, 'returned' | 'returnIds' | 'pointsTakenBack'> {
    const returned: Record<number, number> = {};
    const out = { returned, returnIds: [] as string[], pointsTakenBack: 0 };
    const add = (id: string, points: number, lines: Iterable<[number, number]>) => {
      out.returnIds.push(id);
      out.pointsTakenBack += points;
      for (const [lineNo, qty] of lines) returned[lineNo] = (returned[lineNo] ?? 0) + qty;
    };
    const own = this.sqlite.prepare("SELECT id, priced, points_earned FROM receipts WHERE original_receipt_id = ? AND kind = 'return' ORDER BY rowid").all(saleId) as { id: string; priced: string; points_earned: number }[];
    for (const ret of own) add(ret.id, ret.points_earned, (JSON.parse(ret.priced) as PricedReturn).lines.map((l) => [l.lineNo, l.qty]));
    const elsewhere = this.sqlite.prepare('SELECT id, lines, points_taken_back FROM returns_elsewhere WHERE original_receipt_id = ? ORDER BY rowid').all(saleId) as { id: string; lines: string; points_taken_back: number }[];
    for (const ret of elsewhere) add(ret.id, ret.points_taken_back, Object.entries(JSON.parse(ret.lines) as Record<string, number>).map(([lineNo, qty]) => [Number(lineNo), qty]));
    return out;
  }

  /** A sale of another terminal, as HQ gave it, kept to be returned here, with the returns made of it elsewhere. */
  keepSaleElsewhere(sale: SaleElsewhere, now: string) {
    const returnable: ReturnableSale = { program: sale.program, lines: sale.lines, totals: sale.totals, redemption: { fromLots: sale.fromLots } };
    this.sqlite.transaction(() => {
      this.sqlite
        .prepare('INSERT OR REPLACE INTO sales_elsewhere (id, number, terminal_id, card_id, cardholder_id, created_at, sale, earn_lots, feed_through, fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(sale.id, sale.number, sale.terminalId, sale.cardId, sale.cardholderId, sale.createdAt, JSON.stringify(returnable), JSON.stringify(sale.earnLots), sale.feedThrough, now);
      for (const ret of sale.returns) this.noteReturnElsewhere(sale.id, ret);
    }).immediate();
  }

  /** @internal A return made on another terminal (HQ's feed): kept if it reverses a sale this terminal may take back. */
  noteReturnElsewhere(saleId: string, ret: ReturnElsewhere) {
    this.stmts.noteReturnElsewhere.run(ret.id, saleId, JSON.stringify(ret.lines), ret.pointsTakenBack, saleId, saleId, saleId);
  }

  /** What returning `lines` of one of this terminal's sales would reverse; refused with reasons. Writes nothing. */
  priceReturnOf(originalReceiptId: string, lines: ReturnRequest[], now: string): { original: StoredReceipt; priced: PricedReturn; points: ReturnPoints } {
    const original = this.receipt(originalReceiptId);
    if (!original || original.kind !== 'sale') throw new ReturnRefused([{ path: 'receipt', message: 'No such sale on this terminal', messageRu: 'Такого чека продажи на этой кассе нет' }]);
    // A sale made elsewhere names lots this terminal knows from HQ's feed, once it has pulled that far.
    if (original.elsewhere && original.elsewhere.feedThrough > Number(this.stmts.syncCursor.get() ?? 0)) {
      throw new ReturnRefused([{ path: 'receipt', message: 'The sale’s points have not reached this terminal yet: let it sync with HQ, then try again', messageRu: 'Баллы этого чека ещё не пришли на кассу: дождитесь синхронизации с центром и повторите' }]);
    }
    const check = priceReturn(original.priced, original.returned, lines);
    if (!check.ok) throw new ReturnRefused(check.errors);
    return { original, priced: check.value, points: { ...this.earnedBack(original, check.value.totals.pointsTakenBack), restoredPastExpiry: this.pastExpiry(original, check.value.restoreLots, now) } };
  }

  /**
   * The earned points a return takes back, as draws on the sale's earn lots: its share of what the
   * sale earned, after what its earlier returns took, the lots in the order they were earned.
   *
   * Expiry and burn write off what is left of a lot; a return takes its share out of what is left,
   * and what was spent may take the lot below zero. Whichever comes first, on whichever terminal,
   * the two together take from the lot what they would have taken had the return come first: so a
   * return after the write-off takes only what of its share the customer had spent, never points
   * already gone (a kettle returned under warranty after its points expired costs nothing more).
   * For a lot of p points with `left` on it now, `back` taken back and `off` written off before,
   * a share ending at position `end` of the lot takes max(end − back − off, left), within [0, share].
   * A cardholder merged away since the sale: the draws go to the lots the merge moved the points to.
   */
  private earnedBack(original: StoredReceipt, share: number): Pick<ReturnPoints, 'takenBack' | 'alreadyGone'> {
    if (!original.cardholderId || !share) return { takenBack: [], alreadyGone: 0 };
    const earnLots =
      original.elsewhere?.earnLots ?? (this.stmts.saleEarnLots.all(original.cardholderId, original.id) as { lotId: string; points: number }[]);
    const mergedAway = this.currentHolderId(original.cardholderId) !== original.cardholderId;
    const takenBack: { lotId: string; points: number }[] = [];
    const [from, to] = [original.pointsTakenBack, original.pointsTakenBack + share];
    let pos = 0;
    for (const l of earnLots) {
      const lotStart = pos;
      pos += l.points;
      // This return's share of the lot: its positions [start, end) in the lot.
      const [start, end] = [Math.max(from, lotStart) - lotStart, Math.min(to, pos) - lotStart];
      if (end <= start) continue;
      const at = mergedAway ? this.movedLot(l.lotId) : l.lotId;
      // The lot and the copy a merge moved it to count as one: the merge's transfer pair cancels out.
      let [left, back, off] = [l.points, 0, 0];
      for (const id of at === l.lotId ? [at] : [l.lotId, at]) {
        const [draws, reversed, writtenOff] = this.stmts.lotDraws.get({ lot: id }) as [number, number, number];
        [left, back, off] = [left + draws, back + reversed, off + writtenOff];
      }
      const take = Math.min(end - start, Math.max(0, end - back - off, left));
      if (take > 0) takenBack.push({ lotId: at, points: take });
    }
    return { takenBack, alreadyGone: share - takenBack.reduce((s, d) => s + d.points, 0) };
  }

  /** Of the points paid with that a return gives back, those whose lot's expiry has passed by `now`
   *  (a lot merged away since keeps its expiry on its copy). */
  private pastExpiry(original: StoredReceipt, restoreLots: readonly { lotId: string; points: number }[], now: string): number {
    if (!original.cardholderId || !restoreLots.length) return 0;
    const opening = this.lotOpenings(original.cardholderId);
    return restoreLots.reduce((n, d) => {
      const expiresAt = opening(d.lotId)?.[5];
      return expiresAt && expiresAt <= now ? n + d.points : n;
    }, 0);
  }

  /** The entry that opened a lot of a cardholder's, here or (from HQ's feed) elsewhere: its own
   *  entries read once, for as many lots as the caller asks about. */
  private lotOpenings(cardholderId: string): (lotId: string) => LotEntry | undefined {
    const own = new Map((this.stmts.ownLotEntries.all(cardholderId) as LotEntry[]).map((e) => [e[0], e]));
    return (lotId) => own.get(lotId) ?? (this.stmts.remoteLot.get(lotId) as LotEntry | undefined);
  }

  /**
   * A full or partial return of one of this terminal's sales, in one transaction like a sale:
   * earned points come back out (the balance may go negative), redeemed points go back to the
   * lots they were drawn from with those lots' expiry. Returning more than is left is refused.
   */
  commitReturn(input: { originalReceiptId: string; lines: ReturnRequest[]; now: string; cashierId?: string | null; shiftId?: string | null }): CommittedSale & { priced: PricedReturn; points: ReturnPoints; cardId: string | null } {
    if (this.integrity.status === 'failed') throw new Error(this.integrity.message);
    return this.atomically(() => {
      const { original, priced: ret, points } = this.priceReturnOf(input.originalReceiptId, input.lines, input.now);
      const number = this.nextReceiptNumber();
      const card = original.cardholderId ? { cardId: original.cardId, cardholderId: this.currentHolderId(original.cardholderId) } : null;
      // Merged away since the sale: the points paid with go back to the lots the merge moved them to
      // (earnedBack follows the merge for the points taken back); the holder's entries read once.
      const openingMergedAway = card && card.cardholderId !== original.cardholderId && ret.restoreLots.length ? this.lotOpenings(original.cardholderId!) : null;
      const reason = `Возврат по чеку ${original.number}`;
      const committed = this.writeReceipt({
        kind: 'return',
        number,
        originalReceiptId: original.id,
        card,
        input,
        totals: {
          gross: ret.totals.gross,
          discount: ret.totals.discount,
          redeemKopecks: ret.totals.redeemKopecks,
          toPay: ret.totals.refund,
          pointsEarned: card ? ret.totals.pointsTakenBack : 0,
          pointsRedeemed: card ? ret.totals.pointsRestored : 0,
        },
        program: original.priced.program,
        pricedJson: JSON.stringify(ret),
        lines: ret.lines.map((l) => {
          const o = original.priced.lines[l.lineNo - 1]!;
          return { lineNo: l.lineNo, sku: l.sku, category: o.category, qty: l.qty, unitPrice: o.unitPrice, gross: l.gross, discount: l.discount, redeem: l.redeem, net: l.refund, pointsEarned: l.pointsTakenBack };
        }),
        entries: card
          ? [
              ...points.takenBack.map((d) => ({
                kind: 'reverse',
                points: -d.points,
                lotId: d.lotId,
                activatesAt: null,
                expiresAt: null,
                reason: `${reason}: начисленные баллы${points.alreadyGone ? ` (сгоревшие ранее ${points.alreadyGone} не списываются)` : ''}`,
              })),
              ...ret.restoreLots.map((d) => ({ kind: 'reverse', points: d.points, ...(openingMergedAway ? this.restoreAfterMerge(openingMergedAway, d.lotId) : { lotId: d.lotId, activatesAt: null, expiresAt: null }), reason: `${reason}: баллы, которыми платили` })),
            ]
          : [],
        spend: -(ret.totals.refund + ret.totals.redeemKopecks),
        count: 0,
        // HQ checks that no line of the sale comes back more often than it was sold.
        facts: { originalTerminalId: original.elsewhere?.terminalId ?? this.terminalId },
      });
      return { ...committed, priced: ret, points, cardId: original.cardId };
    });
  }

  /**
   * Where a lot's points went when its cardholder was merged away. A merge here closed the lot with
   * a transfer draw and opened its copy on the kept cardholder in the very next entry
   * (mergeCardholders); a merge on another terminal did the same, the copy next in that terminal's
   * chain (both came down the feed); a merge at HQ mirrored lot L to the kept cardholder as lot
   * "m+L". A lot no merge moved (it was empty then) is its own answer.
   */
  private movedLot(lotId: string): string {
    return follow(lotId, (id) => (this.stmts.movedLot.get(id) as string | undefined) ?? (this.stmts.remoteMovedLot.get(id) as string | undefined) ?? (this.stmts.remoteLot.get(`m+${id}`) ? `m+${id}` : undefined));
  }

  /** Redeemed points given back to a cardholder merged away since the sale: to the copy of their
   *  lot if the merge moved it, else to a new lot of the kept cardholder with that lot's dates. */
  private restoreAfterMerge(openingMergedAway: (lotId: string) => LotEntry | undefined, lotId: string): { lotId: string | null; activatesAt: string | null; expiresAt: string | null } {
    const moved = this.movedLot(lotId);
    if (moved !== lotId) return { lotId: moved, activatesAt: null, expiresAt: null };
    const opened = openingMergedAway(lotId);
    return opened ? { lotId: null, activatesAt: opened[4] ?? opened[3], expiresAt: opened[5] } : { lotId, activatesAt: null, expiresAt: null };
  }

  /** Where a cardholder's account lives now (a merged duplicate points at the one kept). */
  private currentHolderId(cardholderId: string): string {
    return follow(cardholderId, (id) => this.stmts.mergedInto.get(id) as string | null | undefined);
  }

  /** Receipt, lines, chained entries, balance cache and outbox row; inside the caller's transaction. */
  private writeReceipt(r: {
    kind: 'sale' | 'return';
    number: string;
    originalReceiptId: string | null;
    card: { cardId: string | null; cardholderId: string } | null;
    input: { now: string; cashierId?: string | null; shiftId?: string | null };
    totals: { gross: number; discount: number; redeemKopecks: number; toPay: number; pointsEarned: number; pointsRedeemed: number };
    program: PricedBasket['program'];
    pricedJson: string;
    /** A return's lines as HQ gets them (a sale's are read from its priced basket at upload: saleLines). */
    lines?: Row[];
    entries: { kind: string; points: number; lotId: string | null; activatesAt: string | null; expiresAt: string | null; reason: string }[];
    spend: number;
    count: number;
    allowance?: { id: string; signed: unknown; ageMs: number };
    /** Unchained facts for HQ, carried in the outbox payload (what the till offered, the sale's terminal). */
    facts?: Record<string, unknown>;
  }): CommittedSale {
    const now = r.input.now;
    const receiptId = uuidv7();
    // The chain (and the upload) carry the priced basket's hash; the receipt row keeps it whole.
    const receipt = this.link({
      id: receiptId,
      number: r.number,
      terminalId: this.terminalId,
      kind: r.kind,
      originalReceiptId: r.originalReceiptId,
      cardId: r.card?.cardId ?? null,
      cardholderId: r.card?.cardholderId ?? null,
      shiftId: r.input.shiftId ?? null,
      cashierId: r.input.cashierId ?? null,
      createdAt: now,
      gross: r.totals.gross,
      discount: r.totals.discount,
      redeemKopecks: r.totals.redeemKopecks,
      toPay: r.totals.toPay,
      pointsEarned: r.totals.pointsEarned,
      pointsRedeemed: r.totals.pointsRedeemed,
      programId: r.program.id,
      programVersion: r.program.version,
      programHash: r.program.hash,
      pricedHash: sha256Node(r.pricedJson),
    });
    // Its lines are in the priced basket; holder_prev links it into its cardholder's receipts.
    const { lastInsertRowid } = this.stmts.insertReceipt.run(
      receipt.id, receipt.number, receipt.terminalId, receipt.kind, receipt.originalReceiptId, receipt.cardId, receipt.cardholderId, receipt.shiftId, receipt.cashierId, receipt.createdAt,
      receipt.gross, receipt.discount, receipt.redeemKopecks, receipt.toPay, receipt.pointsEarned, receipt.pointsRedeemed, receipt.programId, receipt.programVersion, receipt.programHash,
      r.pricedJson, receipt.chainSeq, receipt.prevHash, receipt.hash, receipt.cardholderId,
    );
    this.chain = { ...this.chain, receipt: receiptRow(r.number) };
    const receiptRowid = Number(lastInsertRowid);
    const entries: Row[] = [];
    const entryRows: number[] = [];
    let balance: number | null = null;
    if (r.card) {
      const { cardholderId, cardId } = r.card;
      for (const e of r.entries) {
        const id = uuidv7();
        entries.push(this.link({ id, terminalId: this.terminalId, cardholderId, cardId, receiptId, kind: e.kind, points: e.points, lotId: e.lotId ?? id, activatesAt: e.activatesAt, expiresAt: e.expiresAt, reason: e.reason, createdAt: now }));
      }
      let lastEntry: number | null = null;
      for (const e of entries) entryRows.push((lastEntry = this.insertEntry(e, lastEntry)));
      const delta = entries.reduce((s, e) => s + (e.points as number), 0);
      balance = this.stmts.upsertBalance.get(cardholderId, delta, r.spend, r.count, r.kind === 'sale' ? now : null, receiptRowid, lastEntry, cardholderId) as number;
    }
    if (r.allowance) this.stmts.useAllowance.run(r.totals.pointsRedeemed, r.allowance.id);
    const extra = r.allowance ? { allowance: r.allowance.signed, allowanceAgeMs: r.allowance.ageMs } : {};
    // A sale's outbox row names the rows it wrote (append-only, chained) and keeps what they do not
    // hold; the upload reads the rest from them (uploadPayloads). A return's carries its lines and
    // entries, HQ getting the entries without what they share with the receipt.
    const upload = r.lines
      ? { receipt, lines: r.lines, entries: entries.map(compactEntry), ...extra, ...r.facts }
      : { rows: { receipt: receiptRowid, entries: entryRows }, ...extra, ...r.facts };
    const outboxSeq = this.appendOutbox(r.kind, receiptId, now, upload);
    return { receiptId, receiptNumber: r.number, chainSeq: receipt.chainSeq, balance, outboxSeq };
  }

  // ---- verification -----------------------------------------------------------------------

  /** Integrity, the balance cache against the sum of entries, and the hash chain link by link. */
  verify(): VerifyReport {
    const problems: string[] = [];
    const integrity = String(this.sqlite.pragma('integrity_check', { simple: true }));
    if (integrity !== 'ok') problems.push(`integrity_check: ${integrity}`);
    const fk = this.sqlite.pragma('foreign_key_check') as unknown[];
    if (fk.length) problems.push(`${fk.length} rows break foreign keys`);

    const mismatched = this.sqlite
      .prepare(
        `SELECT h.id AS cardholder_id, coalesce(b.points, 0) AS cached, coalesce(s.total, 0) AS summed
         FROM cardholders h
         LEFT JOIN balances b ON b.cardholder_id = h.id
         LEFT JOIN (SELECT cardholder_id, sum(points) AS total FROM point_entries GROUP BY cardholder_id) s ON s.cardholder_id = h.id
         WHERE coalesce(b.points, 0) <> coalesce(s.total, 0)`,
      )
      .all() as { cardholder_id: string; cached: number; summed: number }[];
    for (const m of mismatched.slice(0, 20)) problems.push(`balance of ${m.cardholder_id} is ${m.cached} but its entries sum to ${m.summed}`);
    if (mismatched.length > 20) problems.push(`… and ${mismatched.length - 20} more balance mismatches`);

    // The copies a card carries of its holder (triggers keep them; an edit by hand would not).
    const staleCards = this.sqlite
      .prepare(
        `SELECT count(*) FROM cards c JOIN cardholders h ON h.id = c.cardholder_id
         WHERE c.holder_pii IS NOT h.pii OR c.holder_enrolled_at IS NOT h.enrolled_at OR c.holder_phone_index IS NOT (CASE WHEN h.status = 'active' THEN h.phone_index END)`,
      )
      .pluck()
      .get() as number;
    if (staleCards) problems.push(`${staleCards} cards carry a copy of their cardholder's profile that differs from the cardholder's row`);

    // Each cardholder's lists: every row names the holder's previous one, the balance the newest.
    for (const [table, head] of Object.entries(LIST_HEAD)) {
      const misLinked = this.sqlite
        .prepare(`SELECT count(*) FROM (SELECT holder_prev, lag(rowid) OVER (PARTITION BY cardholder_id ORDER BY rowid) AS expected FROM ${table} WHERE cardholder_id IS NOT NULL) WHERE holder_prev IS NOT expected`)
        .pluck()
        .get() as number;
      const misHeaded = this.sqlite
        .prepare(
          `SELECT count(*) FROM (SELECT cardholder_id, max(rowid) AS r FROM ${table} WHERE cardholder_id IS NOT NULL GROUP BY cardholder_id) m
           FULL JOIN (SELECT cardholder_id, ${head} AS r FROM balances WHERE ${head} IS NOT NULL) b USING (cardholder_id) WHERE m.r IS NOT b.r`,
        )
        .pluck()
        .get() as number;
      if (misLinked + misHeaded) problems.push(`${misLinked + misHeaded} links of the cardholders' ${table === 'receipts' ? 'receipt' : 'entry'} lists are wrong`);
    }
    const firstBrokenLink = this.verifyChain(problems);
    const count = (sql: string) => this.sqlite.prepare(sql).pluck().get() as number;
    return {
      ok: problems.length === 0,
      integrity,
      receipts: count('SELECT count(*) FROM receipts'),
      pointEntries: count('SELECT count(*) FROM point_entries'),
      accounts: count('SELECT count(*) FROM balances'),
      problems,
      ...(firstBrokenLink ? { firstBrokenLink } : {}),
    };
  }

  private verifyChain(problems: string[]): VerifyReport['firstBrokenLink'] {
    // In the order the rows were written (rowid): a row removed, re-inserted or renumbered shows
    // up as a chain_seq out of turn.
    const receipts = this.sqlite.prepare(`SELECT ${RECEIPT_LINK} FROM receipts ORDER BY rowid`).raw().iterate() as IterableIterator<unknown[]>;
    const entries = this.sqlite.prepare(`SELECT ${ENTRY_LINK} FROM point_entries ORDER BY rowid`).raw().iterate() as IterableIterator<unknown[]>;
    const next = (it: IterableIterator<unknown[]>, link: (a: unknown[]) => StoredLink) => {
      const r = it.next();
      return r.done ? undefined : link(r.value);
    };
    try {
      return this.walkChain(receipts, entries, next, problems);
    } finally {
      receipts.return?.(); // release the statements even when the walk stops at a broken link
      entries.return?.();
    }
  }

  private walkChain(
    receipts: IterableIterator<unknown[]>,
    entries: IterableIterator<unknown[]>,
    next: (it: IterableIterator<unknown[]>, link: (a: unknown[]) => StoredLink) => StoredLink | undefined,
    problems: string[],
  ): VerifyReport['firstBrokenLink'] {
    let r = next(receipts, receiptLink);
    let e = next(entries, entryLink);
    let expectedSeq = 1;
    let prevHash = GENESIS_HASH;
    while (r || e) {
      const takeReceipt = r && (!e || r.chainSeq < e.chainSeq);
      const row = (takeReceipt ? r : e)!;
      const table = takeReceipt ? 'receipts' : 'point_entries';
      const broken = (why: string) => {
        problems.push(`hash chain broken at ${table} ${row.id} (chain_seq ${row.chainSeq}): ${why}`);
        return { table, id: row.id, chainSeq: row.chainSeq };
      };
      if (row.chainSeq !== expectedSeq) return broken(`expected chain_seq ${expectedSeq} — a row before it is missing`);
      if (row.prevHash !== prevHash) return broken('prev_hash does not match the row before it');
      if (row.hash !== chainHash(prevHash, row.chained(), sha256Node)) return broken('the row was altered after it was written');
      prevHash = row.hash;
      expectedSeq++;
      if (takeReceipt) r = next(receipts, receiptLink);
      else e = next(entries, entryLink);
    }
    return undefined;
  }
}

// One-shot hashing: no Hash object per call (four calls per sale).
export const sha256Node = (text: string) => hash('sha256', text, 'hex');

/** A sale's lines as HQ gets them: with what a return on another terminal needs of them. */
function saleLines(priced: PricedBasket): Row[] {
  return priced.lines.map((l, i) => ({ lineNo: i + 1, sku: l.sku, name: l.name, category: l.category, qty: l.qty, unitPrice: l.unitPrice, gross: l.gross, discount: l.discount, redeem: l.redeem, net: l.net, pointsEarned: l.pointsEarned, pointsRedeemed: l.pointsRedeemed }));
}

/**
 * A chained row as stored, read raw (an array: binding a row of this many columns to an object
 * costs better-sqlite3 more than the read), and its chained form: the camelCase insert object,
 * then prevHash and hash, as Ledger.link left it.
 */
const RECEIPT_LINK = 'id, number, terminal_id, kind, original_receipt_id, card_id, cardholder_id, shift_id, cashier_id, created_at, gross, discount, redeem_kopecks, to_pay, points_earned, points_redeemed, program_id, program_version, program_hash, priced, chain_seq, prev_hash, hash';
const ENTRY_LINK = 'id, terminal_id, cardholder_id, card_id, receipt_id, kind, points, lot_id, activates_at, expires_at, reason, created_at, chain_seq, prev_hash, hash';
type StoredLink = { id: string; chainSeq: number; prevHash: string; hash: string; chained(): Row };

function receiptLink(a: unknown[]): StoredLink & { priced: string } {
  return {
    id: a[0] as string,
    priced: a[19] as string,
    chainSeq: a[20] as number,
    prevHash: a[21] as string,
    hash: a[22] as string,
    chained: () => ({
      id: a[0], number: a[1], terminalId: a[2], kind: a[3], originalReceiptId: a[4], cardId: a[5], cardholderId: a[6], shiftId: a[7], cashierId: a[8], createdAt: a[9],
      gross: a[10], discount: a[11], redeemKopecks: a[12], toPay: a[13], pointsEarned: a[14], pointsRedeemed: a[15], programId: a[16], programVersion: a[17], programHash: a[18],
      pricedHash: sha256Node(a[19] as string), chainSeq: a[20],
    }),
  };
}

function entryLink(a: unknown[]): StoredLink {
  return {
    id: a[0] as string,
    chainSeq: a[12] as number,
    prevHash: a[13] as string,
    hash: a[14] as string,
    chained: () => ({ id: a[0], terminalId: a[1], cardholderId: a[2], cardId: a[3], receiptId: a[4], kind: a[5], points: a[6], lotId: a[7], activatesAt: a[8], expiresAt: a[9], reason: a[10], createdAt: a[11], chainSeq: a[12] }),
  };
}

/** A stored link as the chain carried it (the upload's form). */
function asLinked(link: StoredLink): Row {
  const row = link.chained();
  row.prevHash = link.prevHash;
  row.hash = link.hash;
  return row;
}
