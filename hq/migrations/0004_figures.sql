-- What the till offered: the points a card could have paid with (the refusal share counts offers not taken).
ALTER TABLE receipts ADD COLUMN redeem_offered integer NOT NULL DEFAULT 0;
-- NPS answers captured at the till after a sale (0–10 and an optional comment).
CREATE TABLE nps (
  terminal_id text NOT NULL,                 -- distribution key
  id text NOT NULL,
  store_id text NOT NULL,
  receipt_id text,
  score integer NOT NULL CHECK (score BETWEEN 0 AND 10),
  comment text,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (terminal_id, id)
);
CREATE INDEX nps_created ON nps (created_at);
