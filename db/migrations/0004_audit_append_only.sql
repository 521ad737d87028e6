-- The audit log is append-only like the ledger: who did what to a card, and why, stays written.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
--> statement-breakpoint
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
--> statement-breakpoint
-- The expiry job looks only at lots that carry an expiry date.
CREATE INDEX point_entries_expiry ON point_entries (expires_at) WHERE expires_at IS NOT NULL;
