-- A sale made on another terminal can be returned here once HQ has given it (sales_elsewhere: what
-- the return needs of it, not chained: the return receipt that reverses it is). Returns made on
-- other terminals of a sale this terminal may take back come down HQ's feed (returns_elsewhere),
-- so no unit and no point is returned twice, whichever till the customer comes back to.
CREATE TABLE `returns_elsewhere` (
	`id` text PRIMARY KEY NOT NULL,
	`original_receipt_id` text NOT NULL,
	`lines` text NOT NULL,
	`points_taken_back` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `returns_elsewhere_original` ON `returns_elsewhere` (`original_receipt_id`);--> statement-breakpoint
CREATE TABLE `sales_elsewhere` (
	`id` text PRIMARY KEY NOT NULL,
	`number` text NOT NULL,
	`terminal_id` text NOT NULL,
	`card_id` text,
	`cardholder_id` text NOT NULL,
	`created_at` text NOT NULL,
	`sale` text NOT NULL,
	`earn_lots` text NOT NULL,
	`feed_through` integer NOT NULL,
	`fetched_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `sales_elsewhere_number` ON `sales_elsewhere` (`number`);