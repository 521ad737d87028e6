-- Receipts, their lines and point entries are append-only: a committed sale is never rewritten.
CREATE TRIGGER receipts_no_update BEFORE UPDATE ON receipts BEGIN SELECT RAISE(ABORT, 'receipts are append-only'); END;
--> statement-breakpoint
CREATE TRIGGER receipts_no_delete BEFORE DELETE ON receipts BEGIN SELECT RAISE(ABORT, 'receipts are append-only'); END;
--> statement-breakpoint
CREATE TRIGGER receipt_lines_no_update BEFORE UPDATE ON receipt_lines BEGIN SELECT RAISE(ABORT, 'receipt lines are append-only'); END;
--> statement-breakpoint
CREATE TRIGGER receipt_lines_no_delete BEFORE DELETE ON receipt_lines BEGIN SELECT RAISE(ABORT, 'receipt lines are append-only'); END;
--> statement-breakpoint
CREATE TRIGGER point_entries_no_update BEFORE UPDATE ON point_entries BEGIN SELECT RAISE(ABORT, 'point entries are append-only'); END;
--> statement-breakpoint
CREATE TRIGGER point_entries_no_delete BEFORE DELETE ON point_entries BEGIN SELECT RAISE(ABORT, 'point entries are append-only'); END;
--> statement-breakpoint
CREATE TRIGGER outbox_no_delete BEFORE DELETE ON outbox BEGIN SELECT RAISE(ABORT, 'outbox rows are never deleted'); END;
--> statement-breakpoint
CREATE TRIGGER outbox_payload_frozen BEFORE UPDATE OF seq, op_id, kind, payload ON outbox BEGIN SELECT RAISE(ABORT, 'outbox operations are immutable'); END;
--> statement-breakpoint
-- Name search over blind-indexed tokens: the index holds keyed hashes of name prefixes, never names.
CREATE VIRTUAL TABLE cardholder_search USING fts5(tokens, cardholder_id UNINDEXED, tokenize = 'ascii');
