CREATE TABLE `remote_entries` (
	`id` text PRIMARY KEY NOT NULL,
	`hq_seq` integer NOT NULL,
	`terminal_id` text NOT NULL,
	`cardholder_id` text NOT NULL,
	`kind` text NOT NULL,
	`points` integer NOT NULL,
	`lot_id` text,
	`activates_at` text,
	`expires_at` text,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `remote_entries_cardholder` ON `remote_entries` (`cardholder_id`);