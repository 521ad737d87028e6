DROP INDEX `outbox_pending`;--> statement-breakpoint
-- Ledgers that stamped every acknowledged row carry their mark over (acknowledgement is in order).
INSERT INTO sync_state (key, value) SELECT 'acked_through', CAST(max(seq) AS TEXT) FROM outbox WHERE acked_at IS NOT NULL AND result NOT LIKE '%rejected%' HAVING max(seq) IS NOT NULL ON CONFLICT(key) DO NOTHING;
