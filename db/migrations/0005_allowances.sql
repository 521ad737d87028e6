-- Offline-redemption allowances HQ granted this terminal (signed by HQ; the newest per card counts).
CREATE TABLE allowances (
  id text PRIMARY KEY,
  cardholder_id text NOT NULL,
  points integer NOT NULL,
  used integer NOT NULL DEFAULT 0,
  lifetime_ms integer NOT NULL,
  received_at text NOT NULL,
  signed text NOT NULL
);
--> statement-breakpoint
CREATE INDEX allowances_cardholder ON allowances (cardholder_id, received_at);
