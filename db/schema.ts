// The terminal's ledger schema (SQLite). Forward-only migrations are generated from this file by
// drizzle-kit into db/migrations; hand-written SQL (triggers, FTS) lives in custom migrations there.
//
// Invariants the schema carries:
// - receipts (their lines in `priced`) and point_entries are append-only (triggers refuse UPDATE/DELETE);
// - receipts and point_entries form one hash chain per terminal (chain_seq, prev_hash, hash);
// - balances is a cache of SUM(point_entries.points) per account, checked by `loyalty db verify`;
// - personal data lives only encrypted (cardholders.pii, copied onto its cards) plus keyed blind indexes for lookup.
import { sql } from 'drizzle-orm';
import { sqliteTable, text, integer, blob, index, uniqueIndex, primaryKey } from 'drizzle-orm/sqlite-core';

export const settings = sqliteTable('settings', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});

export const programs = sqliteTable(
  'programs',
  {
    id: text('id').notNull(),
    version: integer('version').notNull(),
    hash: text('hash').notNull(),
    json: text('json').notNull(),
    receivedAt: text('received_at').notNull(),
    active: integer('active', { mode: 'boolean' }).notNull().default(false),
    /** A version HQ published: its place in HQ's feed, and when it comes into force. */
    hqSeq: integer('hq_seq'),
    activeFrom: text('active_from'),
  },
  (t) => [primaryKey({ columns: [t.id, t.version] })],
);

/** A cardholder is also the points account: every card of a person shares one balance. */
export const cardholders = sqliteTable(
  'cardholders',
  {
    id: text('id').primaryKey(), // UUIDv7: never collides between terminals enrolling offline; WITHOUT ROWID (0008)
    enrollmentNo: text('enrollment_no').notNull(), // human-readable, terminal-prefixed
    pii: blob('pii', { mode: 'buffer' }), // AES-256-GCM sealed JSON of the questionnaire; null once anonymized
    phoneIndex: text('phone_index'), // HMAC blind index of the E.164 phone
    clientType: text('client_type').notNull().default('individual'),
    consentPdAt: text('consent_pd_at'),
    consentMarketingAt: text('consent_marketing_at'),
    status: text('status').notNull().default('active'), // active | anonymized | merged
    mergedInto: text('merged_into'),
    enrolledAt: text('enrolled_at').notNull(),
    storeId: text('store_id').notNull(),
    terminalId: text('terminal_id').notNull(),
    updatedAt: text('updated_at').notNull(),
  },
  // Found by phone through its cards' copy of phone_index (cards_phone), so no index of its own.
  (t) => [uniqueIndex('cardholders_enrollment_no').on(t.enrollmentNo)],
);

export const cards = sqliteTable(
  'cards',
  {
    // WITHOUT ROWID, clustered on the number a swipe looks it up by (migration 0008).
    number: text('number').primaryKey(),
    id: text('id').notNull(),
    chipUid: text('chip_uid'),
    status: text('status').notNull().default('active'), // active | blocked | lost | replaced
    cardholderId: text('cardholder_id')
      .notNull()
      .references(() => cardholders.id),
    issuedAt: text('issued_at').notNull(),
    replacedBy: text('replaced_by'),
    updatedAt: text('updated_at').notNull(),
    // Copies of the cardholder's row, kept by triggers (migration 0009), so that a swipe reads one
    // B-tree: the sealed profile, the enrolment date, and the phone's blind index while the
    // cardholder is active (null otherwise, so that a phone finds only active cardholders).
    holderPii: blob('holder_pii', { mode: 'buffer' }),
    holderEnrolledAt: text('holder_enrolled_at'),
    holderPhoneIndex: text('holder_phone_index'),
  },
  (t) => [
    uniqueIndex('cards_id').on(t.id),
    uniqueIndex('cards_chip_uid').on(t.chipUid),
    index('cards_cardholder').on(t.cardholderId),
    // Covering, in the order a lookup by phone wants (the active card first, then the oldest):
    // a lookup by phone reads this index alone.
    index('cards_phone')
      .on(t.holderPhoneIndex, sql`status <> 'active'`, t.issuedAt, t.id, t.chipUid, t.status, t.cardholderId, t.holderPii, t.holderEnrolledAt)
      .where(sql`holder_phone_index IS NOT NULL`),
  ],
);

export const receipts = sqliteTable(
  'receipts',
  {
    id: text('id').primaryKey(),
    number: text('number').notNull(), // printed receipt number: <terminal code>-<n>
    terminalId: text('terminal_id').notNull(),
    kind: text('kind').notNull(), // sale | return
    originalReceiptId: text('original_receipt_id'),
    cardId: text('card_id'),
    cardholderId: text('cardholder_id'),
    shiftId: text('shift_id'),
    cashierId: text('cashier_id'),
    createdAt: text('created_at').notNull(),
    gross: integer('gross').notNull(),
    discount: integer('discount').notNull(),
    redeemKopecks: integer('redeem_kopecks').notNull(),
    toPay: integer('to_pay').notNull(),
    pointsEarned: integer('points_earned').notNull(),
    pointsRedeemed: integer('points_redeemed').notNull(),
    programId: text('program_id'),
    programVersion: integer('program_version'),
    programHash: text('program_hash'),
    priced: text('priced').notNull(), // the engine's priced basket / return, JSON
    chainSeq: integer('chain_seq').notNull(),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
    holderPrev: integer('holder_prev'), // the same cardholder's previous receipt (rowid); head in balances.last_receipt
  },
  (t) => [
    // A sale's commit touches every index here, so there are only these (migration 0006): chain
    // order is rowid order, and only returns have an original receipt.
    // Receipt CODE-n is row n; only a row that is not is indexed by number (migration 0008).
    uniqueIndex('receipts_number_elsewhere').on(t.number).where(sql`rowid <> CAST(substr(number, instr(number, '-') + 1) AS INTEGER)`),
    index('receipts_original').on(t.originalReceiptId).where(sql`original_receipt_id IS NOT NULL`),
  ],
);

/** Append-only point movements. A lot is an `earn` (or `welcome`/`adjust` credit) entry; spending
 *  entries name the lot they draw from, so returns can restore points to their original lot. */
export const pointEntries = sqliteTable(
  'point_entries',
  {
    id: text('id').notNull(), // UUIDv7, minted here; no query finds an entry by id, so no index (0008)
    terminalId: text('terminal_id').notNull(),
    cardholderId: text('cardholder_id').notNull(),
    cardId: text('card_id'),
    receiptId: text('receipt_id'),
    kind: text('kind').notNull(), // earn | redeem | expire | reverse | adjust | transfer | welcome
    points: integer('points').notNull(), // signed
    lotId: text('lot_id'), // the lot this entry creates (= id) or draws from
    activatesAt: text('activates_at'),
    expiresAt: text('expires_at'),
    reason: text('reason').notNull(),
    createdAt: text('created_at').notNull(),
    chainSeq: integer('chain_seq').notNull(),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
    // The rowid of the same cardholder's previous entry: a holder's entries are a list whose head
    // is in balances.last_entry, not an index (one random page fewer per sale; migration 0008).
    holderPrev: integer('holder_prev'),
  },
  (t) => [
    // Entries drawing on a lot (a lot's own entry has lot_id = id and needs no index entry).
    index('point_entries_draws').on(t.lotId).where(sql`lot_id <> id`),
    // point_entries_expiry (migration 0004): lots by expiry, for the expiry job.
  ],
);

/** Point entries other terminals made, replicated from HQ's feed (pull). With the terminal's own
 *  entries they give HQ's balance; they are not part of this terminal's hash chain. */
export const remoteEntries = sqliteTable(
  'remote_entries',
  {
    id: text('id').primaryKey(),
    hqSeq: integer('hq_seq').notNull(),
    terminalId: text('terminal_id').notNull(),
    cardholderId: text('cardholder_id').notNull(),
    kind: text('kind').notNull(),
    points: integer('points').notNull(),
    lotId: text('lot_id'),
    activatesAt: text('activates_at'),
    expiresAt: text('expires_at'),
    createdAt: text('created_at').notNull(),
    /** Its place in its terminal's chain (none for HQ's own entries, or from an HQ that did not send it). */
    chainSeq: integer('chain_seq'),
  },
  // The chain index serves only the search for a merge's transfer pairs (Ledger remoteMovedLot):
  // it holds the transfers alone, not a row for every entry of the chain's trade.
  (t) => [
    index('remote_entries_cardholder').on(t.cardholderId),
    index('remote_entries_lot').on(t.lotId),
    index('remote_entries_chain').on(t.terminalId, t.chainSeq).where(sql`kind = 'transfer'`),
  ],
);

/**
 * Sales made on other terminals, as HQ gave them when one was to be returned here (not chained:
 * HQ's copy; the return receipt that reverses it is). `sale` is what the return needs of it
 * (ReturnableSale), `earn_lots` the lots its points went to.
 */
export const salesElsewhere = sqliteTable(
  'sales_elsewhere',
  {
    id: text('id').primaryKey(),
    number: text('number').notNull(),
    terminalId: text('terminal_id').notNull(),
    cardId: text('card_id'),
    cardholderId: text('cardholder_id').notNull(),
    createdAt: text('created_at').notNull(),
    sale: text('sale').notNull(),
    earnLots: text('earn_lots').notNull(),
    /** HQ's feed holds the sale's entries up to here: the return waits until this terminal has pulled that far. */
    feedThrough: integer('feed_through').notNull(),
    fetchedAt: text('fetched_at').notNull(),
  },
  (t) => [uniqueIndex('sales_elsewhere_number').on(t.number)],
);

/** Returns made on other terminals of sales this terminal may take back (its own, or ones above):
 *  what each took of the sale, so no unit and no point is returned twice. From HQ's feed. */
export const returnsElsewhere = sqliteTable(
  'returns_elsewhere',
  {
    id: text('id').primaryKey(),
    originalReceiptId: text('original_receipt_id').notNull(),
    /** Units by line number of the sale (JSON). */
    lines: text('lines').notNull(),
    pointsTakenBack: integer('points_taken_back').notNull(),
  },
  (t) => [index('returns_elsewhere_original').on(t.originalReceiptId)],
);

/** What sales with a card made on other terminals sold (HQ's feed): an item bought anywhere in the
 *  chain counts for repeat-purchase discounts here. `lines`: [item, units] by line number (JSON). */
export const boughtElsewhere = sqliteTable(
  'bought_elsewhere',
  {
    saleId: text('sale_id').primaryKey(),
    cardholderId: text('cardholder_id').notNull(),
    createdAt: text('created_at').notNull(),
    lines: text('lines').notNull(),
  },
  (t) => [index('bought_elsewhere_holder').on(t.cardholderId, t.createdAt)],
);

/** Cache of SUM(point_entries.points) per account, kept in the same transaction as the entries. */
// WITHOUT ROWID since migration 0008: one B-tree per balance row written with every sale.
export const balances = sqliteTable('balances', {
  cardholderId: text('cardholder_id').primaryKey(),
  points: integer('points').notNull(),
  lifetimeSpend: integer('lifetime_spend').notNull().default(0),
  purchaseCount: integer('purchase_count').notNull().default(0),
  lastPurchaseAt: text('last_purchase_at'),
  lastReceipt: integer('last_receipt'), // rowid of the cardholder's newest receipt (db/ledger.ts: holderChain)
  lastEntry: integer('last_entry'), // rowid of the cardholder's newest point entry
});

/** Transactional outbox: operations numbered per terminal, uploaded to HQ in batches. Rows are
 *  never deleted. HQ acknowledges in order, so "acknowledged" is seq ≤ sync_state.acked_through;
 *  acked_at/result are stamped only on operations HQ refused, with its reason. */
export const outbox = sqliteTable(
  'outbox',
  {
    seq: integer('seq').primaryKey(), // 1, 2, 3 … per terminal, no gaps
    opId: text('op_id').notNull(),
    kind: text('kind').notNull(),
    payload: text('payload').notNull(),
    createdAt: text('created_at').notNull(),
    ackedAt: text('acked_at'),
    result: text('result'),
  },
  // No secondary index (migration 0006): pending rows are those after the acknowledged seq.
);

export const users = sqliteTable('users', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  role: text('role').notNull(), // cashier | admin
  pinHash: text('pin_hash').notNull(), // scrypt, with its salt and parameters
  active: integer('active', { mode: 'boolean' }).notNull().default(true),
  createdAt: text('created_at').notNull(),
});

export const shifts = sqliteTable('shifts', {
  id: text('id').primaryKey(),
  cashierId: text('cashier_id').notNull(),
  openedAt: text('opened_at').notNull(),
  closedAt: text('closed_at'),
  /** Where the receipts (max rowid) and the outbox (max seq) stood when the shift opened: the
   *  Z-report reads only what came after (migration 0011; null for shifts opened before it). */
  receiptsFrom: integer('receipts_from'),
  outboxFrom: integer('outbox_from'),
});

export const auditLog = sqliteTable(
  'audit_log',
  {
    id: text('id').primaryKey(),
    at: text('at').notNull(),
    userId: text('user_id'),
    action: text('action').notNull(),
    target: text('target'),
    reason: text('reason'),
    details: text('details'),
  },
  (t) => [index('audit_log_at').on(t.at)],
);

export const syncState = sqliteTable('sync_state', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});
