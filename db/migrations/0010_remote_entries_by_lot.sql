-- What is left of a lot counts the draws on it replicated from HQ (another terminal spent part of
-- it, or gave some back). The expiry job sums them by lot: without this index each lot's sum read
-- every replicated entry of the chain.
CREATE INDEX `remote_entries_lot` ON `remote_entries` (`lot_id`);
