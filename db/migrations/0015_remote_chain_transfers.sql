-- The chain index of replicated entries held a row for every entry of the chain's trade (about 55
-- of the 400 bytes each costs a terminal) to find a merge's transfer pairs; it now holds transfers alone.
DROP INDEX `remote_entries_chain`;--> statement-breakpoint
CREATE INDEX `remote_entries_chain` ON `remote_entries` (`terminal_id`,`chain_seq`) WHERE kind = 'transfer';