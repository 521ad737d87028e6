-- What sales with a card made on other terminals sold, from HQ's feed: an item bought in any shop of
-- the chain counts for the repeat-purchase discount on this terminal too (returns of it, here or
-- elsewhere, are subtracted as for this terminal's own sales).
CREATE TABLE `bought_elsewhere` (
	`sale_id` text PRIMARY KEY NOT NULL,
	`cardholder_id` text NOT NULL,
	`created_at` text NOT NULL,
	`lines` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `bought_elsewhere_holder` ON `bought_elsewhere` (`cardholder_id`,`created_at`);