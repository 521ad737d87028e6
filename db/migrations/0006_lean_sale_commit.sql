-- A sale is one synchronous=FULL commit, and every B-tree page it changes is one more frame the
-- commit writes and fsyncs. Indexes no query needs, or that only some rows need, go or narrow:
-- chain order is rowid order in both append-only tables (verify walks rowid order and checks each
-- chain_seq); pending outbox rows are found by seq after the acknowledged mark; the outbox's op id
-- is the receipt's (or another freshly minted) id; a return finds its sale's earn lots through the
-- cardholder; a sale's earn lot (lot_id = id) and an unreturned sale need no lot/original entry.
DROP INDEX IF EXISTS receipts_chain_seq;--> statement-breakpoint
DROP INDEX IF EXISTS point_entries_chain_seq;--> statement-breakpoint
DROP INDEX IF EXISTS point_entries_receipt;--> statement-breakpoint
DROP INDEX IF EXISTS outbox_pending;--> statement-breakpoint
DROP INDEX IF EXISTS outbox_op_id;--> statement-breakpoint
DROP INDEX IF EXISTS receipts_original;--> statement-breakpoint
CREATE INDEX receipts_original ON receipts (original_receipt_id) WHERE original_receipt_id IS NOT NULL;--> statement-breakpoint
DROP INDEX IF EXISTS point_entries_lot;--> statement-breakpoint
CREATE INDEX point_entries_draws ON point_entries (lot_id) WHERE lot_id <> id;--> statement-breakpoint
DELETE FROM settings WHERE key = 'receipt_seq';
--> statement-breakpoint
-- Receipt lines live in their primary key's B-tree (WITHOUT ROWID): one B-tree per sale, not two.
CREATE TABLE receipt_lines_new (
  receipt_id text NOT NULL REFERENCES receipts(id),
  line_no integer NOT NULL,
  sku text NOT NULL,
  name text NOT NULL,
  category text NOT NULL,
  qty integer NOT NULL,
  unit_price integer NOT NULL,
  gross integer NOT NULL,
  discount integer NOT NULL,
  redeem integer NOT NULL,
  net integer NOT NULL,
  points_earned integer NOT NULL,
  PRIMARY KEY (receipt_id, line_no)
) WITHOUT ROWID;--> statement-breakpoint
INSERT INTO receipt_lines_new SELECT receipt_id, line_no, sku, name, category, qty, unit_price, gross, discount, redeem, net, points_earned FROM receipt_lines;--> statement-breakpoint
DROP TABLE receipt_lines;--> statement-breakpoint
ALTER TABLE receipt_lines_new RENAME TO receipt_lines;--> statement-breakpoint
CREATE TRIGGER receipt_lines_no_update BEFORE UPDATE ON receipt_lines BEGIN SELECT RAISE(ABORT, 'receipt lines are append-only'); END;--> statement-breakpoint
CREATE TRIGGER receipt_lines_no_delete BEFORE DELETE ON receipt_lines BEGIN SELECT RAISE(ABORT, 'receipt lines are append-only'); END;
