-- A Z-report reads its shift's receipts and counts its enrollments. Neither is indexed by shift
-- (an index would be one more page in every sale's commit), so it scanned every receipt and every
-- cardholder. A shift now notes where the receipts and the outbox stood when it opened: its
-- receipts come after the first, its enrollments' outbox rows after the second.
ALTER TABLE `shifts` ADD `receipts_from` integer;--> statement-breakpoint
ALTER TABLE `shifts` ADD `outbox_from` integer;
