-- A burn after inactivity carries the start of the inactivity it saw (the terminal's cutoff: the
-- burn's time less the program's limit). A purchase with the card in [inactive_since, created_at)
-- that the burning terminal had not heard of shows the burn was wrong: HQ gives its points back.
ALTER TABLE point_entries ADD COLUMN inactive_since timestamptz;
