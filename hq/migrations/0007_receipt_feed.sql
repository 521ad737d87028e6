-- Every terminal counts a cardholder's purchases across the chain (cumulative-discount tiers, the
-- welcome bonus on a first purchase, inactivity): receipts with a card go round the feed as well,
-- in the same sequence as point entries and cards. Existing receipts get their place now.
ALTER TABLE receipts ADD COLUMN hq_seq bigint DEFAULT nextval('hq_feed');
CREATE INDEX receipts_hq_seq ON receipts (hq_seq) WHERE cardholder_id IS NOT NULL;
