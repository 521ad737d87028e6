-- HQ's settlement of a lot's write-off counts at the store of the terminal that wrote the write-off
-- (the one that opened the lot, or the lot it was copied from by a merge at HQ, "m+L"), not of the
-- lot's opener: HQ opened those copies, so their settlements were counted nowhere.
CREATE OR REPLACE VIEW hq_settlements AS
  SELECT t.store_id, e.cardholder_id, e.id, e.created_at, e.points
  FROM point_entries e
  JOIN terminals t ON t.terminal_id = (
    SELECT w.terminal_id FROM point_entries w
    WHERE w.cardholder_id = e.cardholder_id AND w.lot_id = e.lot_id AND w.kind IN ('expire', 'burn') AND w.terminal_id <> 'hq' LIMIT 1)
  WHERE e.terminal_id = 'hq' AND e.kind IN ('expire', 'burn');
-- Those counted nowhere until now: the settlements of lots HQ opened.
INSERT INTO store_days (store_id, day, burned)
  SELECT s.store_id, (s.created_at AT TIME ZONE 'UTC')::date, -sum(s.points) FROM hq_settlements s
  JOIN point_entries e ON e.cardholder_id = s.cardholder_id AND e.id = s.id
  JOIN point_entries o ON o.cardholder_id = e.cardholder_id AND o.id = e.lot_id AND o.terminal_id = 'hq'
  GROUP BY 1, 2
  ON CONFLICT (store_id, day) DO UPDATE SET burned = store_days.burned + EXCLUDED.burned;
