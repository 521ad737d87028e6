-- Narrow covering indexes for the figures: a year of sales and point entries is read from them
-- (index-only scans) instead of from the wide rows.
CREATE INDEX receipts_sales_facts ON receipts (created_at) INCLUDE (cardholder_id, to_pay, store_id, redeem_offered, points_redeemed) WHERE kind = 'sale';
CREATE INDEX point_entries_facts ON point_entries (created_at) INCLUDE (kind, points, terminal_id);
