-- A swipe read two B-trees: the card, then its holder (by phone: the holder's index, then its
-- cards'). Each card now carries copies of what the till reads of its holder (the sealed profile,
-- the enrolment date, and the phone's blind index while the holder is active), kept by the
-- triggers below, so that a lookup by number or chip reads the card's row alone and a lookup by
-- phone reads one covering index. The sealed profile is the same ciphertext as the holder's.
DROP INDEX `cardholders_phone_index`;--> statement-breakpoint
DROP INDEX `cards_cardholder`;--> statement-breakpoint
ALTER TABLE `cards` ADD `holder_pii` blob;--> statement-breakpoint
ALTER TABLE `cards` ADD `holder_enrolled_at` text;--> statement-breakpoint
ALTER TABLE `cards` ADD `holder_phone_index` text;--> statement-breakpoint
UPDATE cards SET (holder_pii, holder_enrolled_at, holder_phone_index) =
  (SELECT h.pii, h.enrolled_at, CASE WHEN h.status = 'active' THEN h.phone_index END FROM cardholders h WHERE h.id = cards.cardholder_id);--> statement-breakpoint
CREATE INDEX `cards_phone` ON `cards` (`holder_phone_index`,status <> 'active',`issued_at`,`id`,`chip_uid`,`status`,`cardholder_id`,`holder_pii`,`holder_enrolled_at`) WHERE holder_phone_index IS NOT NULL;--> statement-breakpoint
CREATE INDEX `cards_cardholder` ON `cards` (`cardholder_id`);--> statement-breakpoint
-- A card issued to, or moved to, a cardholder takes its copies from that cardholder's row.
CREATE TRIGGER cards_copy_holder_on_insert AFTER INSERT ON cards BEGIN
  UPDATE cards SET (holder_pii, holder_enrolled_at, holder_phone_index) =
    (SELECT h.pii, h.enrolled_at, CASE WHEN h.status = 'active' THEN h.phone_index END FROM cardholders h WHERE h.id = NEW.cardholder_id)
  WHERE number = NEW.number;
END;--> statement-breakpoint
CREATE TRIGGER cards_copy_holder_on_move AFTER UPDATE OF cardholder_id ON cards BEGIN
  UPDATE cards SET (holder_pii, holder_enrolled_at, holder_phone_index) =
    (SELECT h.pii, h.enrolled_at, CASE WHEN h.status = 'active' THEN h.phone_index END FROM cardholders h WHERE h.id = NEW.cardholder_id)
  WHERE number = NEW.number;
END;--> statement-breakpoint
-- A cardholder's row changed (profile edited or anonymized, merged away): its cards follow.
CREATE TRIGGER cardholders_copy_to_cards AFTER UPDATE OF pii, enrolled_at, phone_index, status ON cardholders BEGIN
  UPDATE cards SET holder_pii = NEW.pii, holder_enrolled_at = NEW.enrolled_at, holder_phone_index = CASE WHEN NEW.status = 'active' THEN NEW.phone_index END
  WHERE cardholder_id = NEW.id;
END;
