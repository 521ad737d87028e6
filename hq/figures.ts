// Is the program working? Each figure is defined once here, computed in PostgreSQL over a period,
// chain-wide or for one store; docs/hq-figures.md gives every formula (seed 002 L59–L87).
// Money stays integer kopecks; ratios are plain fractions (0…1).
import { sql, type Query } from './db';

export interface FigureQuery {
  /** Inclusive start and exclusive end (ISO). */
  from: string;
  to: string;
  storeId?: string | null;
  /** A participant with no purchase for this many days at the period's end has churned. */
  churnDays?: number;
}

export interface Figures {
  period: { from: string; to: string; storeId: string | null };
  participants: number;
  buyers: number;
  anonymousReceipts: number;
  attractionRatio: number | null;
  activityRatio: number | null;
  churnRate: number | null;
  inactivity: { bucket: string; participants: number }[];
  pointsEarned: number;
  pointsRedeemed: number;
  pointsBurned: number;
  redemptionRatio: number | null;
  burnRatio: number | null;
  revenue: number;
  participantRevenue: number;
  participantRevenueShare: number | null;
  /** Share of participants' revenue brought by the top 20% of participants (Pareto: about 0.8). */
  top20RevenueShare: number | null;
  refusalShare: number | null;
  avgReceiptWithCard: number | null;
  avgReceiptWithoutCard: number | null;
  nps: { responses: number; promoters: number; critics: number; score: number | null };
}

const ratio = (a: number, b: number) => (b > 0 ? a / b : null);
const n = (v: unknown) => Number(v ?? 0);

export async function computeFigures(q: Query, f: FigureQuery): Promise<Figures> {
  const store = f.storeId ?? null;
  const churnDays = f.churnDays ?? 90;
  const atStore = store ? sql`AND store_id = ${store}` : sql``;
  const sales = sql`kind = 'sale' AND created_at >= ${f.from} AND created_at < ${f.to} ${atStore}`;
  // The passes run side by side on the server's connections.
  const [[r], [b], [p], [e], [s]] = await Promise.all([
    // Sales: counts, revenue, averages, offers (one scan, no DISTINCT).
    q.rows<Record<string, string | null>>(
      sql`SELECT count(*) FILTER (WHERE cardholder_id IS NULL) AS anonymous, count(*) FILTER (WHERE cardholder_id IS NOT NULL) AS card_receipts,
                 coalesce(sum(to_pay), 0) AS revenue, coalesce(sum(to_pay) FILTER (WHERE cardholder_id IS NOT NULL), 0) AS card_revenue,
                 coalesce(sum(to_pay) FILTER (WHERE cardholder_id IS NULL), 0) AS anon_revenue,
                 count(*) FILTER (WHERE redeem_offered > 0) AS offered, count(*) FILTER (WHERE redeem_offered > 0 AND points_redeemed = 0) AS declined
          FROM receipts WHERE ${sales}`,
    ),
    // Buyers, and the Pareto check: the top 20% of them by what they paid, and their share of it.
    q.rows<{ buyers: string; top: string | null; total: string | null }>(
      sql`WITH per AS (SELECT sum(to_pay) AS paid FROM receipts WHERE ${sales} AND cardholder_id IS NOT NULL GROUP BY cardholder_id),
               ranked AS (SELECT paid, row_number() OVER (ORDER BY paid DESC) AS rank, count(*) OVER () AS n FROM per)
          SELECT count(*) AS buyers, sum(paid) FILTER (WHERE rank <= ceil(n * 0.2)) AS top, sum(paid) AS total FROM ranked`,
    ),
    // Participants: enrolled by the period's end (at the store, for a store), not merged away,
    // with their last purchase before it.
    q.rows<Record<string, string | null>>(
      sql`WITH members AS (
            SELECT h.cardholder_id, h.enrolled_at, l.last_purchase FROM cardholders h
            LEFT JOIN (${lastPurchases(f.to)}) l ON l.cardholder_id = h.cardholder_id
            WHERE h.merged_into IS NULL AND h.enrolled_at < ${f.to} ${store ? sql`AND h.store_id = ${store}` : sql``}
          )
          SELECT count(*) AS participants,
                 count(*) FILTER (WHERE coalesce(last_purchase, enrolled_at) < ${f.to}::timestamptz - make_interval(days => ${churnDays})) AS churned,
                 count(*) FILTER (WHERE last_purchase IS NULL) AS never,
                 count(*) FILTER (WHERE last_purchase >= ${f.to}::timestamptz - interval '30 days') AS d30,
                 count(*) FILTER (WHERE last_purchase < ${f.to}::timestamptz - interval '30 days' AND last_purchase >= ${f.to}::timestamptz - interval '90 days') AS d90,
                 count(*) FILTER (WHERE last_purchase < ${f.to}::timestamptz - interval '90 days' AND last_purchase >= ${f.to}::timestamptz - interval '180 days') AS d180,
                 count(*) FILTER (WHERE last_purchase < ${f.to}::timestamptz - interval '180 days' AND last_purchase >= ${f.to}::timestamptz - interval '365 days') AS d365,
                 count(*) FILTER (WHERE last_purchase < ${f.to}::timestamptz - interval '365 days') AS older
          FROM members`,
    ),
    // Points earned, redeemed and burned by the terminals (HQ's own transfers are not earnings).
    q.rows<Record<string, string | null>>(
      sql`SELECT coalesce(sum(points) FILTER (WHERE kind IN ('earn', 'welcome')), 0) AS earned,
                 coalesce(-sum(points) FILTER (WHERE kind = 'redeem'), 0) AS redeemed,
                 coalesce(-sum(points) FILTER (WHERE kind IN ('expire', 'burn')), 0) AS burned
          FROM point_entries WHERE created_at >= ${f.from} AND created_at < ${f.to} AND terminal_id <> 'hq'
            ${store ? sql`AND terminal_id IN (SELECT terminal_id FROM terminals WHERE store_id = ${store})` : sql``}`,
    ),
    q.rows<Record<string, string | null>>(
      sql`SELECT count(*) AS responses, count(*) FILTER (WHERE score >= 9) AS promoters, count(*) FILTER (WHERE score <= 6) AS critics
          FROM nps WHERE created_at >= ${f.from} AND created_at < ${f.to} ${atStore}`,
    ),
  ]);
  const participants = n(p!.participants);
  const buyers = n(b!.buyers);
  const anonymous = n(r!.anonymous);
  const cardReceipts = n(r!.card_receipts);
  const earned = n(e!.earned);
  const responses = n(s!.responses);
  return {
    period: { from: f.from, to: f.to, storeId: store },
    participants,
    buyers,
    anonymousReceipts: anonymous,
    attractionRatio: ratio(buyers, buyers + anonymous),
    activityRatio: ratio(buyers, participants),
    churnRate: ratio(n(p!.churned), participants),
    inactivity: [
      { bucket: '0-30', participants: n(p!.d30) },
      { bucket: '31-90', participants: n(p!.d90) },
      { bucket: '91-180', participants: n(p!.d180) },
      { bucket: '181-365', participants: n(p!.d365) },
      { bucket: '>365', participants: n(p!.older) },
      { bucket: 'never', participants: n(p!.never) },
    ],
    pointsEarned: earned,
    pointsRedeemed: n(e!.redeemed),
    pointsBurned: n(e!.burned),
    redemptionRatio: ratio(n(e!.redeemed), earned),
    burnRatio: ratio(n(e!.burned), earned),
    revenue: n(r!.revenue),
    participantRevenue: n(r!.card_revenue),
    participantRevenueShare: ratio(n(r!.card_revenue), n(r!.revenue)),
    top20RevenueShare: ratio(n(b!.top), n(b!.total)),
    refusalShare: ratio(n(r!.declined), n(r!.offered)),
    avgReceiptWithCard: cardReceipts ? Math.round(n(r!.card_revenue) / cardReceipts) : null,
    avgReceiptWithoutCard: anonymous ? Math.round(n(r!.anon_revenue) / anonymous) : null,
    nps: { responses, promoters: n(s!.promoters), critics: n(s!.critics), score: responses ? Math.round(((n(s!.promoters) - n(s!.critics)) / responses) * 1000) / 10 : null },
  };
}

/**
 * Each cardholder's last purchase before `to`. When `to` is after every sale HQ has, that is the
 * last purchase HQ keeps per card as it ingests sales (balances.last_purchase_at): no scan of the
 * year. For an earlier `to`, the sales before it are grouped.
 */
function lastPurchases(to: string) {
  return sql`SELECT cardholder_id, last_purchase_at AS last_purchase FROM balances
             WHERE ${to}::timestamptz > (SELECT coalesce(max(created_at), '-infinity') FROM receipts)
             UNION ALL
             SELECT cardholder_id, max(created_at) FROM receipts
             WHERE ${to}::timestamptz <= (SELECT coalesce(max(created_at), '-infinity') FROM receipts)
               AND kind = 'sale' AND cardholder_id IS NOT NULL AND created_at < ${to} GROUP BY cardholder_id`;
}

/** Revenue per participant by month: what buyers with a card paid, divided by how many bought. */
export async function revenuePerParticipant(q: Query, f: FigureQuery) {
  const rows = await q.rows<{ month: string; revenue: string; buyers: string }>(
    sql`SELECT to_char(date_trunc('month', created_at AT TIME ZONE 'UTC'), 'YYYY-MM') AS month, sum(to_pay) AS revenue, count(DISTINCT cardholder_id) AS buyers
        FROM receipts WHERE kind = 'sale' AND cardholder_id IS NOT NULL AND created_at >= ${f.from} AND created_at < ${f.to} AND (${f.storeId ?? null}::text IS NULL OR store_id = ${f.storeId ?? null})
        GROUP BY 1 ORDER BY 1`,
  );
  return rows.map((r) => ({ month: r.month, revenue: n(r.revenue), buyers: n(r.buyers), perParticipant: Math.round(n(r.revenue) / Math.max(1, n(r.buyers))) }));
}

/** Before/after a program change: the same figures over equal windows on either side of `at`. */
export async function beforeAfter(q: Query, at: string, days: number, storeId: string | null = null) {
  const t = Date.parse(at);
  const iso = (ms: number) => new Date(ms).toISOString();
  const before = await computeFigures(q, { from: iso(t - days * 86_400_000), to: at, storeId });
  const after = await computeFigures(q, { from: at, to: iso(t + days * 86_400_000), storeId });
  const pick = (x: Figures) => ({ avgReceiptWithCard: x.avgReceiptWithCard, participantRevenueShare: x.participantRevenueShare, attractionRatio: x.attractionRatio, activityRatio: x.activityRatio, redemptionRatio: x.redemptionRatio });
  return { at, days, before: pick(before), after: pick(after) };
}

/** RFM: recency, frequency and monetary scores 1–5 (quintiles; 5 is best) per cardholder at `to`. */
export async function rfm(q: Query, f: FigureQuery) {
  const rows = await q.rows<{ r: number; f: number; m: number; cardholders: string }>(
    sql`WITH per AS (
          SELECT cardholder_id, max(created_at) AS last, count(*) AS freq, sum(to_pay) AS money FROM receipts
          WHERE kind = 'sale' AND cardholder_id IS NOT NULL AND created_at >= ${f.from} AND created_at < ${f.to} AND (${f.storeId ?? null}::text IS NULL OR store_id = ${f.storeId ?? null})
          GROUP BY cardholder_id
        ), scored AS (
          SELECT ntile(5) OVER (ORDER BY last) AS r, ntile(5) OVER (ORDER BY freq, money) AS f, ntile(5) OVER (ORDER BY money, freq) AS m FROM per
        )
        SELECT r, f, m, count(*) AS cardholders FROM scored GROUP BY r, f, m ORDER BY r DESC, f DESC, m DESC`,
  );
  return rows.map((x) => ({ r: Number(x.r), f: Number(x.f), m: Number(x.m), segment: rfmSegment(Number(x.r), Number(x.f)), cardholders: n(x.cardholders) }));
}

/** The classic segment names from recency and frequency scores (the same rule as in assignRfmSegments). */
export function rfmSegment(r: number, f: number): string {
  if (r >= 4 && f >= 4) return 'champions';
  if (r >= 3 && f >= 3) return 'loyal';
  if (r >= 4) return 'new';
  if (r >= 3) return 'promising';
  if (f >= 3) return 'at_risk';
  return r === 2 ? 'hibernating' : 'lost';
}

/**
 * Writes each buyer's RFM segment into the cardholder's profile at HQ (`segments: ["rfm:<name>"]`,
 * other segments kept) and sends the cards round the feed again, so terminals price with it: a
 * program rule can then target e.g. `"segments": ["rfm:at_risk"]`. Returns how many changed.
 */
export async function assignRfmSegments(q: Query, f: FigureQuery): Promise<number> {
  const changed = await q.rows<{ cardholder_id: string }>(
    sql`WITH per AS (
          SELECT cardholder_id, max(created_at) AS last, count(*) AS freq, sum(to_pay) AS money FROM receipts
          WHERE kind = 'sale' AND cardholder_id IS NOT NULL AND created_at >= ${f.from} AND created_at < ${f.to} GROUP BY cardholder_id
        ), scored AS (
          SELECT cardholder_id, ntile(5) OVER (ORDER BY last) AS r, ntile(5) OVER (ORDER BY freq, money) AS f FROM per
        ), named AS (
          SELECT cardholder_id, 'rfm:' || CASE
            WHEN r >= 4 AND f >= 4 THEN 'champions' WHEN r >= 3 AND f >= 3 THEN 'loyal' WHEN r >= 4 THEN 'new'
            WHEN r >= 3 THEN 'promising' WHEN f >= 3 THEN 'at_risk' WHEN r = 2 THEN 'hibernating' ELSE 'lost' END AS segment
          FROM scored
        )
        UPDATE cardholders h SET holder = jsonb_set(h.holder, '{segments}',
              coalesce((SELECT jsonb_agg(s) FROM jsonb_array_elements_text(coalesce(h.holder->'segments', '[]'::jsonb)) s WHERE s NOT LIKE 'rfm:%'), '[]'::jsonb) || to_jsonb(n.segment))
        FROM named n
        WHERE n.cardholder_id = h.cardholder_id AND h.holder <> '{}'::jsonb AND NOT coalesce(h.holder->'segments', '[]'::jsonb) @> to_jsonb(ARRAY[n.segment])
        RETURNING h.cardholder_id`,
  );
  if (changed.length) await q.rows(sql`UPDATE cards SET hq_seq = nextval('hq_feed') WHERE cardholder_id = ANY(${sql.param(changed.map((c) => c.cardholder_id))}::text[])`);
  return changed.length;
}
