-- A lookup at the till reads a card by its number and then its holder by id. Both tables become
-- WITHOUT ROWID, each clustered on the key it is looked up by, so a lookup reads two B-trees, not
-- four (an index, then the table it points into, twice). The cardholders table is renamed first,
-- so that no card ever refers to a table that is gone (foreign keys stay on throughout).
ALTER TABLE cardholders RENAME TO cardholders_old;--> statement-breakpoint
CREATE TABLE cardholders (
  id text PRIMARY KEY NOT NULL,
  enrollment_no text NOT NULL,
  pii blob,
  phone_index text,
  client_type text DEFAULT 'individual' NOT NULL,
  consent_pd_at text,
  consent_marketing_at text,
  status text DEFAULT 'active' NOT NULL,
  merged_into text,
  enrolled_at text NOT NULL,
  store_id text NOT NULL,
  terminal_id text NOT NULL,
  updated_at text NOT NULL
) WITHOUT ROWID;--> statement-breakpoint
INSERT INTO cardholders SELECT id, enrollment_no, pii, phone_index, client_type, consent_pd_at, consent_marketing_at, status, merged_into, enrolled_at, store_id, terminal_id, updated_at FROM cardholders_old;--> statement-breakpoint
CREATE TABLE cards_new (
  number text PRIMARY KEY NOT NULL,
  id text NOT NULL,
  chip_uid text,
  status text DEFAULT 'active' NOT NULL,
  cardholder_id text NOT NULL REFERENCES cardholders(id),
  issued_at text NOT NULL,
  replaced_by text,
  updated_at text NOT NULL
) WITHOUT ROWID;--> statement-breakpoint
INSERT INTO cards_new SELECT number, id, chip_uid, status, cardholder_id, issued_at, replaced_by, updated_at FROM cards;--> statement-breakpoint
DROP TABLE cards;--> statement-breakpoint
DROP TABLE cardholders_old;--> statement-breakpoint
ALTER TABLE cards_new RENAME TO cards;--> statement-breakpoint
CREATE UNIQUE INDEX cardholders_enrollment_no ON cardholders (enrollment_no);--> statement-breakpoint
-- Covering, sealed profile included: a lookup by phone reads this index and the holder's cards'.
CREATE INDEX cardholders_phone_index ON cardholders (phone_index, status, enrolled_at, pii);--> statement-breakpoint
CREATE UNIQUE INDEX cards_id ON cards (id);--> statement-breakpoint
CREATE UNIQUE INDEX cards_chip_uid ON cards (chip_uid);--> statement-breakpoint
-- A lookup by phone reaches the holder's cards through this index alone: it carries what the till needs.
CREATE INDEX cards_cardholder ON cards (cardholder_id, status, issued_at, id, chip_uid);--> statement-breakpoint
-- A sale is one synchronous=FULL commit; each B-tree it changes is one more page in it, and an
-- index keyed by cardholder is a page at a random place in a big file. Point entries are found by
-- lot (draws) and by cardholder, never by their own id: the id's unique index goes (ids are
-- UUIDv7, minted here; HQ keys its copy on them). A cardholder's entries and receipts are found
-- through a list instead of an index: each row names the holder's previous one (holder_prev, a
-- rowid) and the balance row, which every sale writes anyway, names the newest. The table is
-- rebuilt with the same rowids, which are chain order.
CREATE TABLE point_entries_new (
  id text NOT NULL,
  terminal_id text NOT NULL,
  cardholder_id text NOT NULL,
  card_id text,
  receipt_id text,
  kind text NOT NULL,
  points integer NOT NULL,
  lot_id text,
  activates_at text,
  expires_at text,
  reason text NOT NULL,
  created_at text NOT NULL,
  chain_seq integer NOT NULL,
  prev_hash text NOT NULL,
  hash text NOT NULL,
  holder_prev integer
);--> statement-breakpoint
INSERT INTO point_entries_new (rowid, id, terminal_id, cardholder_id, card_id, receipt_id, kind, points, lot_id, activates_at, expires_at, reason, created_at, chain_seq, prev_hash, hash, holder_prev)
  SELECT rowid, id, terminal_id, cardholder_id, card_id, receipt_id, kind, points, lot_id, activates_at, expires_at, reason, created_at, chain_seq, prev_hash, hash,
         lag(rowid) OVER (PARTITION BY cardholder_id ORDER BY rowid)
  FROM point_entries ORDER BY rowid;--> statement-breakpoint
CREATE INDEX point_entries_new_cardholder ON point_entries_new (cardholder_id);--> statement-breakpoint
-- The balance row, clustered on the cardholder (one B-tree, not a table and its key's index),
-- carries the heads of the holder's lists.
CREATE TABLE balances_new (
  cardholder_id text PRIMARY KEY NOT NULL,
  points integer NOT NULL,
  lifetime_spend integer DEFAULT 0 NOT NULL,
  purchase_count integer DEFAULT 0 NOT NULL,
  last_purchase_at text,
  last_receipt integer,
  last_entry integer
) WITHOUT ROWID;--> statement-breakpoint
INSERT INTO balances_new SELECT b.cardholder_id, b.points, b.lifetime_spend, b.purchase_count, b.last_purchase_at,
    (SELECT max(rowid) FROM receipts r WHERE r.cardholder_id = b.cardholder_id),
    (SELECT max(rowid) FROM point_entries_new e WHERE e.cardholder_id = b.cardholder_id)
  FROM balances b;--> statement-breakpoint
DROP TABLE balances;--> statement-breakpoint
ALTER TABLE balances_new RENAME TO balances;--> statement-breakpoint
DROP INDEX point_entries_new_cardholder;--> statement-breakpoint
DROP TABLE point_entries;--> statement-breakpoint
ALTER TABLE point_entries_new RENAME TO point_entries;--> statement-breakpoint
CREATE INDEX point_entries_draws ON point_entries (lot_id) WHERE lot_id <> id;--> statement-breakpoint
CREATE INDEX point_entries_expiry ON point_entries (expires_at) WHERE expires_at IS NOT NULL;--> statement-breakpoint
CREATE TRIGGER point_entries_no_update BEFORE UPDATE ON point_entries BEGIN SELECT RAISE(ABORT, 'point entries are append-only'); END;--> statement-breakpoint
CREATE TRIGGER point_entries_no_delete BEFORE DELETE ON point_entries BEGIN SELECT RAISE(ABORT, 'point entries are append-only'); END;--> statement-breakpoint
ALTER TABLE receipts ADD COLUMN holder_prev integer;--> statement-breakpoint
DROP TRIGGER receipts_no_update;--> statement-breakpoint
UPDATE receipts SET holder_prev = w.prev
  FROM (SELECT rowid AS r, lag(rowid) OVER (PARTITION BY cardholder_id ORDER BY rowid) AS prev FROM receipts WHERE cardholder_id IS NOT NULL) AS w
  WHERE receipts.rowid = w.r AND w.prev IS NOT NULL;--> statement-breakpoint
CREATE TRIGGER receipts_no_update BEFORE UPDATE ON receipts BEGIN SELECT RAISE(ABORT, 'receipts are append-only'); END;--> statement-breakpoint
DROP INDEX receipts_cardholder;--> statement-breakpoint
-- A receipt's number is its terminal's code and its place in the terminal's sequence (CODE-n), and
-- receipts are appended in that sequence, so receipt n is row n: a number is looked up by rowid.
-- Only a row that is not where its number says (none is, unless written by hand) is indexed.
DROP INDEX receipts_number;--> statement-breakpoint
CREATE UNIQUE INDEX receipts_number_elsewhere ON receipts (number) WHERE rowid <> CAST(substr(number, instr(number, '-') + 1) AS INTEGER);
