-- A receipt's lines are in its priced basket (receipts.priced, chained through priced_hash): the
-- receipt_lines table held the same lines a second time and cost every sale's commit a B-tree
-- (about two pages of WAL). Returns read the lines from the priced baskets; HQ gets them in the
-- upload as before. Nothing is lost: every row here is also in its receipt's priced basket.
DROP TRIGGER IF EXISTS receipt_lines_no_update;--> statement-breakpoint
DROP TRIGGER IF EXISTS receipt_lines_no_delete;--> statement-breakpoint
DROP TABLE IF EXISTS receipt_lines;
