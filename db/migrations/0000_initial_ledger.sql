CREATE TABLE `audit_log` (
	`id` text PRIMARY KEY NOT NULL,
	`at` text NOT NULL,
	`user_id` text,
	`action` text NOT NULL,
	`target` text,
	`reason` text,
	`details` text
);
--> statement-breakpoint
CREATE INDEX `audit_log_at` ON `audit_log` (`at`);--> statement-breakpoint
CREATE TABLE `balances` (
	`cardholder_id` text PRIMARY KEY NOT NULL,
	`points` integer NOT NULL,
	`lifetime_spend` integer DEFAULT 0 NOT NULL,
	`purchase_count` integer DEFAULT 0 NOT NULL,
	`last_purchase_at` text
);
--> statement-breakpoint
CREATE TABLE `cardholders` (
	`id` text PRIMARY KEY NOT NULL,
	`enrollment_no` text NOT NULL,
	`pii` blob,
	`phone_index` text,
	`client_type` text DEFAULT 'individual' NOT NULL,
	`consent_pd_at` text,
	`consent_marketing_at` text,
	`status` text DEFAULT 'active' NOT NULL,
	`merged_into` text,
	`enrolled_at` text NOT NULL,
	`store_id` text NOT NULL,
	`terminal_id` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `cardholders_enrollment_no` ON `cardholders` (`enrollment_no`);--> statement-breakpoint
CREATE INDEX `cardholders_phone_index` ON `cardholders` (`phone_index`);--> statement-breakpoint
CREATE TABLE `cards` (
	`id` text PRIMARY KEY NOT NULL,
	`number` text NOT NULL,
	`chip_uid` text,
	`status` text DEFAULT 'active' NOT NULL,
	`cardholder_id` text NOT NULL,
	`issued_at` text NOT NULL,
	`replaced_by` text,
	`updated_at` text NOT NULL,
	FOREIGN KEY (`cardholder_id`) REFERENCES `cardholders`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `cards_number` ON `cards` (`number`);--> statement-breakpoint
CREATE UNIQUE INDEX `cards_chip_uid` ON `cards` (`chip_uid`);--> statement-breakpoint
CREATE INDEX `cards_cardholder` ON `cards` (`cardholder_id`);--> statement-breakpoint
CREATE TABLE `outbox` (
	`seq` integer PRIMARY KEY NOT NULL,
	`op_id` text NOT NULL,
	`kind` text NOT NULL,
	`payload` text NOT NULL,
	`created_at` text NOT NULL,
	`acked_at` text,
	`result` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `outbox_op_id` ON `outbox` (`op_id`);--> statement-breakpoint
CREATE INDEX `outbox_pending` ON `outbox` (`acked_at`);--> statement-breakpoint
CREATE TABLE `point_entries` (
	`id` text PRIMARY KEY NOT NULL,
	`terminal_id` text NOT NULL,
	`cardholder_id` text NOT NULL,
	`card_id` text,
	`receipt_id` text,
	`kind` text NOT NULL,
	`points` integer NOT NULL,
	`lot_id` text,
	`activates_at` text,
	`expires_at` text,
	`reason` text NOT NULL,
	`created_at` text NOT NULL,
	`chain_seq` integer NOT NULL,
	`prev_hash` text NOT NULL,
	`hash` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `point_entries_cardholder` ON `point_entries` (`cardholder_id`);--> statement-breakpoint
CREATE INDEX `point_entries_lot` ON `point_entries` (`lot_id`);--> statement-breakpoint
CREATE INDEX `point_entries_receipt` ON `point_entries` (`receipt_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `point_entries_chain_seq` ON `point_entries` (`chain_seq`);--> statement-breakpoint
CREATE TABLE `programs` (
	`id` text NOT NULL,
	`version` integer NOT NULL,
	`hash` text NOT NULL,
	`json` text NOT NULL,
	`received_at` text NOT NULL,
	`active` integer DEFAULT false NOT NULL,
	PRIMARY KEY(`id`, `version`)
);
--> statement-breakpoint
CREATE TABLE `receipt_lines` (
	`receipt_id` text NOT NULL,
	`line_no` integer NOT NULL,
	`sku` text NOT NULL,
	`name` text NOT NULL,
	`category` text NOT NULL,
	`qty` integer NOT NULL,
	`unit_price` integer NOT NULL,
	`gross` integer NOT NULL,
	`discount` integer NOT NULL,
	`redeem` integer NOT NULL,
	`net` integer NOT NULL,
	`points_earned` integer NOT NULL,
	PRIMARY KEY(`receipt_id`, `line_no`),
	FOREIGN KEY (`receipt_id`) REFERENCES `receipts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `receipts` (
	`id` text PRIMARY KEY NOT NULL,
	`number` text NOT NULL,
	`terminal_id` text NOT NULL,
	`kind` text NOT NULL,
	`original_receipt_id` text,
	`card_id` text,
	`cardholder_id` text,
	`shift_id` text,
	`cashier_id` text,
	`created_at` text NOT NULL,
	`gross` integer NOT NULL,
	`discount` integer NOT NULL,
	`redeem_kopecks` integer NOT NULL,
	`to_pay` integer NOT NULL,
	`points_earned` integer NOT NULL,
	`points_redeemed` integer NOT NULL,
	`program_id` text,
	`program_version` integer,
	`program_hash` text,
	`priced` text NOT NULL,
	`chain_seq` integer NOT NULL,
	`prev_hash` text NOT NULL,
	`hash` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `receipts_number` ON `receipts` (`number`);--> statement-breakpoint
CREATE UNIQUE INDEX `receipts_chain_seq` ON `receipts` (`chain_seq`);--> statement-breakpoint
CREATE INDEX `receipts_cardholder` ON `receipts` (`cardholder_id`);--> statement-breakpoint
CREATE INDEX `receipts_original` ON `receipts` (`original_receipt_id`);--> statement-breakpoint
CREATE TABLE `settings` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `shifts` (
	`id` text PRIMARY KEY NOT NULL,
	`cashier_id` text NOT NULL,
	`opened_at` text NOT NULL,
	`closed_at` text
);
--> statement-breakpoint
CREATE TABLE `sync_state` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `users` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`role` text NOT NULL,
	`pin_hash` text NOT NULL,
	`active` integer DEFAULT true NOT NULL,
	`created_at` text NOT NULL
);
