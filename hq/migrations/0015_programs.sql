-- The loyalty programs HQ publishes (SPEC §1, §6). Each version is published once, with the hash
-- of its validated form and the moment it comes into force, and takes its place in the feed's
-- order (hq_feed): every terminal pulls it with its cards and entries, and from that moment on
-- (offline or not) prices with the newest published version whose moment has come.
-- A reference table (a chain has a handful of versions): with Citus it is replicated to every node.
CREATE TABLE programs (
  program_id text NOT NULL,
  version integer NOT NULL,
  hash text NOT NULL,
  definition jsonb NOT NULL,
  published_at timestamptz NOT NULL,
  active_from timestamptz NOT NULL,
  hq_seq bigint NOT NULL DEFAULT nextval('hq_feed'),
  PRIMARY KEY (program_id, version)
);
CREATE INDEX programs_hq_seq ON programs (hq_seq);
-- The program each terminal says it prices with (the hash of its version), reported as it pulls.
ALTER TABLE terminals ADD COLUMN program_hash text;
