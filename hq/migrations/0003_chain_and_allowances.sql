-- HQ follows each terminal's hash chain: the head it has verified so far.
ALTER TABLE terminals ADD COLUMN chain_seq bigint NOT NULL DEFAULT 0;
ALTER TABLE terminals ADD COLUMN chain_hash text NOT NULL DEFAULT '0000000000000000000000000000000000000000000000000000000000000000';
UPDATE terminals t SET chain_seq = x.chain_seq, chain_hash = x.hash
FROM (
  SELECT DISTINCT ON (terminal_id) terminal_id, chain_seq, hash FROM (
    SELECT terminal_id, chain_seq, hash FROM receipts
    UNION ALL SELECT terminal_id, chain_seq, hash FROM point_entries WHERE chain_seq IS NOT NULL AND terminal_id <> 'hq'
  ) u ORDER BY terminal_id, chain_seq DESC
) x WHERE x.terminal_id = t.terminal_id;

-- Operations refused for integrity (a broken or replayed chain, a forged allowance), with the evidence.
CREATE TABLE quarantine (
  terminal_id text NOT NULL,                 -- distribution key
  seq bigint NOT NULL,
  op_id text NOT NULL,
  kind text NOT NULL,
  reason text NOT NULL,
  evidence jsonb NOT NULL,
  at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (terminal_id, seq)
);

-- Signed offline-redemption allowances: HQ reserves points of a card's balance for one terminal.
CREATE TABLE allowances (
  cardholder_id text NOT NULL,               -- distribution key
  id text NOT NULL,
  terminal_id text NOT NULL,
  points integer NOT NULL,
  used integer NOT NULL DEFAULT 0,
  issued_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  settled_at timestamptz,
  PRIMARY KEY (cardholder_id, id)
);
CREATE INDEX allowances_terminal ON allowances (terminal_id) WHERE settled_at IS NULL;

-- HQ's keys (the allowance signing key) and settings (the allowance policy).
CREATE TABLE hq_settings (key text PRIMARY KEY, value text NOT NULL);
