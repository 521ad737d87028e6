-- A store's day of sales and points (UTC days), kept up at ingest in the same transaction as the
-- rows it sums: a year's chain figures read 365 rows per store instead of ten million receipts.
-- hq/figures.ts defines each column (dayFacts); `store_days` must always equal what that query
-- gives over the rows themselves, and the tests check it after real uploads.
CREATE TABLE store_days (
  store_id text NOT NULL,                    -- distribution key
  day date NOT NULL,
  receipts bigint NOT NULL DEFAULT 0,        -- sales (returns are not counted)
  card_receipts bigint NOT NULL DEFAULT 0,
  revenue bigint NOT NULL DEFAULT 0,         -- kopecks paid
  card_revenue bigint NOT NULL DEFAULT 0,
  offered bigint NOT NULL DEFAULT 0,         -- sales where the till offered points to pay with
  declined bigint NOT NULL DEFAULT 0,        -- … and none were used
  earned bigint NOT NULL DEFAULT 0,          -- points: earn + welcome
  redeemed bigint NOT NULL DEFAULT 0,        -- points spent
  burned bigint NOT NULL DEFAULT 0,          -- points expired or burnt
  PRIMARY KEY (store_id, day)
);
-- The one definition of each column, over the rows themselves in [p_from, p_to): the backfill
-- below, the partial days at a period's edges and the tests all use it; ingest adds the same sums.
CREATE FUNCTION store_day_facts(p_from timestamptz, p_to timestamptz)
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
  ) x GROUP BY x.store_id, x.day
$$;
INSERT INTO store_days SELECT * FROM store_day_facts('-infinity', 'infinity');
-- Each buyer's sales in a period, in cardholder order (buyers and the Pareto check group them
-- without a hash table of a million cardholders); the store is there for one store's figures.
CREATE INDEX receipts_card_sales ON receipts (cardholder_id, created_at) INCLUDE (to_pay, store_id) WHERE kind = 'sale' AND cardholder_id IS NOT NULL;
