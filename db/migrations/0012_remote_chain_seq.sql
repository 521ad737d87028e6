-- A merge made on another terminal reaches this one as that terminal's transfer pairs: the draw
-- closing lot L, then the copy opening its lot on the kept cardholder, next in that terminal's
-- chain. Each replicated entry now keeps its place in its chain, so a return here of a sale to the
-- duplicate finds where lot L went (the index is written on pull, never by a sale).
ALTER TABLE `remote_entries` ADD `chain_seq` integer;--> statement-breakpoint
CREATE INDEX `remote_entries_chain` ON `remote_entries` (`terminal_id`,`chain_seq`);