-- HQ schema. Every table carries its distribution key (terminal_id or cardholder_id, in the
-- primary key) so a chain can shard it with Citus later without a redesign.
-- One feed order for everything terminals pull (entries and cards). Writers take
-- pg_advisory_xact_lock(7001) so feed numbers become visible in order: a cursor never skips.
CREATE SEQUENCE hq_feed;
CREATE TABLE stores (
  id text PRIMARY KEY,
  name text NOT NULL
);
CREATE TABLE registration_codes (
  store_id text NOT NULL,                    -- distribution key (reference-sized table)
  code_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  terminal_id text,
  PRIMARY KEY (store_id, code_hash)
);
CREATE UNIQUE INDEX registration_codes_hash ON registration_codes (code_hash);
CREATE TABLE terminals (
  terminal_id text PRIMARY KEY,              -- distribution key
  store_id text NOT NULL,
  public_key text NOT NULL,
  registered_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz,
  acked_seq bigint NOT NULL DEFAULT 0,       -- high-water mark of applied operations
  last_contact_at timestamptz,
  pending_reported integer,
  oldest_pending_at timestamptz,
  rejected_ops integer NOT NULL DEFAULT 0
);
CREATE TABLE request_nonces (
  terminal_id text NOT NULL,                 -- distribution key
  nonce text NOT NULL,
  seen_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (terminal_id, nonce)
);
CREATE TABLE operations (
  terminal_id text NOT NULL,                 -- distribution key
  seq bigint NOT NULL,
  op_id text NOT NULL,
  kind text NOT NULL,
  status text NOT NULL,                      -- applied | rejected
  reason text,
  created_at timestamptz NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (terminal_id, seq),
  UNIQUE (terminal_id, op_id)
);
CREATE TABLE receipts (
  terminal_id text NOT NULL,                 -- distribution key
  id text NOT NULL,
  number text NOT NULL,
  kind text NOT NULL,
  original_receipt_id text,
  store_id text NOT NULL,
  card_id text,
  cardholder_id text,
  created_at timestamptz NOT NULL,
  gross bigint NOT NULL,
  discount bigint NOT NULL,
  redeem_kopecks bigint NOT NULL,
  to_pay bigint NOT NULL,
  points_earned integer NOT NULL,
  points_redeemed integer NOT NULL,
  program_id text,
  program_version integer,
  program_hash text,
  chain_seq bigint NOT NULL,
  hash text NOT NULL,
  PRIMARY KEY (terminal_id, id)
);
CREATE INDEX receipts_created ON receipts (created_at);
CREATE TABLE receipt_lines (
  terminal_id text NOT NULL,                 -- distribution key (co-located with receipts)
  receipt_id text NOT NULL,
  line_no integer NOT NULL,
  sku text NOT NULL,
  category text NOT NULL,
  qty integer NOT NULL,
  gross bigint NOT NULL,
  discount bigint NOT NULL,
  redeem bigint NOT NULL,
  net bigint NOT NULL,
  points_earned integer NOT NULL,
  PRIMARY KEY (terminal_id, receipt_id, line_no)
);
CREATE TABLE point_entries (
  cardholder_id text NOT NULL,               -- distribution key
  id text NOT NULL,
  hq_seq bigint NOT NULL DEFAULT nextval('hq_feed'),
  terminal_id text NOT NULL,
  receipt_id text,
  kind text NOT NULL,
  points integer NOT NULL,
  lot_id text,
  activates_at timestamptz,
  expires_at timestamptz,
  created_at timestamptz NOT NULL,
  chain_seq bigint,
  hash text,
  PRIMARY KEY (cardholder_id, id)
);
CREATE INDEX point_entries_hq_seq ON point_entries (hq_seq);
CREATE TABLE balances (
  cardholder_id text PRIMARY KEY,            -- distribution key
  points bigint NOT NULL DEFAULT 0,
  lifetime_spend bigint NOT NULL DEFAULT 0,
  purchase_count integer NOT NULL DEFAULT 0,
  last_purchase_at timestamptz
);
CREATE TABLE cardholders (
  cardholder_id text PRIMARY KEY,            -- distribution key
  holder jsonb NOT NULL,
  enrolled_at timestamptz NOT NULL,
  store_id text,
  merged_into text
);
CREATE TABLE cards (
  cardholder_id text NOT NULL,               -- distribution key (co-located with the holder)
  card_id text NOT NULL,
  number text NOT NULL,
  chip_uid text,
  status text NOT NULL,
  hq_seq bigint NOT NULL DEFAULT nextval('hq_feed'),
  PRIMARY KEY (cardholder_id, card_id)
);
CREATE UNIQUE INDEX cards_number ON cards (number);
CREATE INDEX cards_hq_seq ON cards (hq_seq);
