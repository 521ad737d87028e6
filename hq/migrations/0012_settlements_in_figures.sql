-- HQ's settlements of write-offs (settleWriteOffs: `expire` and `burn` entries of its own on a lot,
-- points given back, or taken back again) count in a store's day of points burned: at the store of
-- the terminal that opened the lot, on the day HQ wrote them. A burn given back is no burn.
CREATE VIEW hq_settlements AS
  SELECT t.store_id, e.cardholder_id, e.id, e.created_at, e.points
  FROM point_entries e
  JOIN point_entries o ON o.cardholder_id = e.cardholder_id AND o.id = e.lot_id
  JOIN terminals t ON t.terminal_id = o.terminal_id
  WHERE e.terminal_id = 'hq' AND e.kind IN ('expire', 'burn');
CREATE OR REPLACE FUNCTION store_day_facts(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (store_id text, day date, receipts bigint, card_receipts bigint, revenue bigint, card_revenue bigint,
               offered bigint, declined bigint, earned bigint, redeemed bigint, burned bigint)
LANGUAGE sql STABLE AS $$
  SELECT x.store_id, x.day, sum(x.receipts)::bigint, sum(x.card_receipts)::bigint, sum(x.revenue)::bigint, sum(x.card_revenue)::bigint,
         sum(x.offered)::bigint, sum(x.declined)::bigint, sum(x.earned)::bigint, sum(x.redeemed)::bigint, sum(x.burned)::bigint
  FROM (
    SELECT r.store_id, (r.created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS receipts, count(r.cardholder_id) AS card_receipts,
           sum(r.to_pay) AS revenue, coalesce(sum(r.to_pay) FILTER (WHERE r.cardholder_id IS NOT NULL), 0) AS card_revenue,
           count(*) FILTER (WHERE r.redeem_offered > 0) AS offered, count(*) FILTER (WHERE r.redeem_offered > 0 AND r.points_redeemed = 0) AS declined,
           0 AS earned, 0 AS redeemed, 0 AS burned
    FROM receipts r WHERE r.kind = 'sale' AND r.created_at >= p_from AND r.created_at < p_to GROUP BY 1, 2
    UNION ALL
    -- Points the terminals moved (HQ's own transfers are not earnings), at the terminal's store.
    SELECT t.store_id, (e.created_at AT TIME ZONE 'UTC')::date, 0, 0, 0, 0, 0, 0,
           coalesce(sum(e.points) FILTER (WHERE e.kind IN ('earn', 'welcome')), 0), coalesce(-sum(e.points) FILTER (WHERE e.kind = 'redeem'), 0),
           coalesce(-sum(e.points) FILTER (WHERE e.kind IN ('expire', 'burn')), 0)
    FROM point_entries e JOIN terminals t ON t.terminal_id = e.terminal_id
    WHERE e.terminal_id <> 'hq' AND e.created_at >= p_from AND e.created_at < p_to GROUP BY 1, 2
    UNION ALL
    SELECT s.store_id, (s.created_at AT TIME ZONE 'UTC')::date, 0, 0, 0, 0, 0, 0, 0, 0, -sum(s.points)
    FROM hq_settlements s WHERE s.created_at >= p_from AND s.created_at < p_to GROUP BY 1, 2
  ) x GROUP BY x.store_id, x.day
$$;
INSERT INTO store_days (store_id, day, burned)
  SELECT s.store_id, (s.created_at AT TIME ZONE 'UTC')::date, -sum(s.points) FROM hq_settlements s GROUP BY 1, 2
  ON CONFLICT (store_id, day) DO UPDATE SET burned = store_days.burned + EXCLUDED.burned;
-- The burns a sale may show to be wrong (HQ's burnsBefore): a card's burns, without reading its other entries.
CREATE INDEX point_entries_burns ON point_entries (cardholder_id) WHERE kind = 'burn' AND inactive_since IS NOT NULL;
