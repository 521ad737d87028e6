-- A program version HQ published keeps its place in HQ's feed and the moment it comes into force:
-- a terminal that has it switches then, online or not (Ledger.activateDueProgram).
ALTER TABLE `programs` ADD `hq_seq` integer;--> statement-breakpoint
ALTER TABLE `programs` ADD `active_from` text;
