-- A program version withdrawn before its moment came (HQ's dashboard, CLI or admin API): it takes a
-- new place in the feed's order, so every terminal that holds it learns to drop it, and it never
-- comes into force.
ALTER TABLE programs ADD COLUMN withdrawn_at timestamptz;
