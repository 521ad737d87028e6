// Is the program working? Each figure is defined once here, computed in PostgreSQL over a period,
// chain-wide or for one store; docs/hq-figures.md gives every formula (seed 002 L59–L87).
// Money stays integer kopecks; ratios are plain fractions (0…1).
import { sql, same, unnest, type Query } from './db';

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
const DAY = 86_400_000;
const atStore = (f: FigureQuery) => (f.storeId ? sql`AND store_id = ${f.storeId}` : sql``);
const n = (v: unknown) => Number(v ?? 0);

export async function computeFigures(q: Query, f: FigureQuery): Promise<Figures> {
  const store = f.storeId ?? null;
  const churnDays = f.churnDays ?? 90;
  const cardSales = sql`kind = 'sale' AND cardholder_id IS NOT NULL AND created_at >= ${f.from} AND created_at < ${f.to} ${atStore(f)}`;
  // The passes run side by side on the server's connections.
  const [[d], [b], [p], [s]] = await Promise.all([
    // Sales and points: counts, revenue, averages, offers, points moved.
    q.rows<Record<string, string | null>>(
      sql`SELECT coalesce(sum(receipts - card_receipts), 0) AS anonymous, coalesce(sum(card_receipts), 0) AS card_receipts,
                 coalesce(sum(revenue), 0) AS revenue, coalesce(sum(card_revenue), 0) AS card_revenue, coalesce(sum(offered), 0) AS offered,
                 coalesce(sum(declined), 0) AS declined, coalesce(sum(earned), 0) AS earned, coalesce(sum(redeemed), 0) AS redeemed, coalesce(sum(burned), 0) AS burned
          FROM ${storeDays(f)} days`,
    ),
    // Buyers, and the Pareto check: the top 20% of them by what they paid, and their share of it
    // (each buyer's sales read in cardholder order from receipts_card_sales).
    q.rows<{ buyers: string; top: string | null; total: string | null }>(
      sql`WITH per AS MATERIALIZED (SELECT sum(to_pay)::bigint AS paid FROM receipts WHERE ${cardSales} GROUP BY cardholder_id)
          SELECT count(*) AS buyers, sum(paid) AS total,
                 (SELECT sum(paid) FROM (SELECT paid FROM per ORDER BY paid DESC LIMIT (SELECT ceil(count(*) * 0.2)::bigint FROM per)) top) AS top
          FROM per`,
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
    q.rows<Record<string, string | null>>(
      sql`SELECT count(*) AS responses, count(*) FILTER (WHERE score >= 9) AS promoters, count(*) FILTER (WHERE score <= 6) AS critics
          FROM nps WHERE created_at >= ${f.from} AND created_at < ${f.to} ${atStore(f)}`,
    ),
  ]);
  const participants = n(p!.participants);
  const buyers = n(b!.buyers);
  const anonymous = n(d!.anonymous);
  const cardReceipts = n(d!.card_receipts);
  const earned = n(d!.earned);
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
    pointsRedeemed: n(d!.redeemed),
    pointsBurned: n(d!.burned),
    redemptionRatio: ratio(n(d!.redeemed), earned),
    burnRatio: ratio(n(d!.burned), earned),
    revenue: n(d!.revenue),
    participantRevenue: n(d!.card_revenue),
    participantRevenueShare: ratio(n(d!.card_revenue), n(d!.revenue)),
    top20RevenueShare: ratio(n(b!.top), n(b!.total)),
    refusalShare: ratio(n(d!.declined), n(d!.offered)),
    avgReceiptWithCard: cardReceipts ? Math.round(n(d!.card_revenue) / cardReceipts) : null,
    avgReceiptWithoutCard: anonymous ? Math.round((n(d!.revenue) - n(d!.card_revenue)) / anonymous) : null,
    nps: { responses, promoters: n(s!.promoters), critics: n(s!.critics), score: responses ? Math.round(((n(s!.promoters) - n(s!.critics)) / responses) * 1000) / 10 : null },
  };
}

const DAY_COLUMNS = ['receipts', 'card_receipts', 'revenue', 'card_revenue', 'offered', 'declined', 'earned', 'redeemed', 'burned'] as const;

/**
 * What one upload adds to `store_days`: the sums store_day_facts (migration 0006) gives over the
 * rows ingest has just inserted, per UTC day. Saved once per upload, days in order, so that two
 * terminals of one store wait for each other instead of deadlocking.
 */
export class StoreDayTally {
  private readonly days = new Map<string, number[]>();

  private day(createdAt: string): number[] {
    // A terminal's times are UTC ISO strings already: their first ten characters are the day.
    const day = createdAt.length === 24 && createdAt.endsWith('Z') && createdAt[10] === 'T' ? createdAt.slice(0, 10) : new Date(createdAt).toISOString().slice(0, 10);
    let v = this.days.get(day);
    if (!v) this.days.set(day, (v = DAY_COLUMNS.map(() => 0)));
    return v;
  }

  receipt(r: { kind: string; cardholderId: string | null; toPay: number; redeemOffered: number; pointsRedeemed: number; createdAt: string }) {
    if (r.kind !== 'sale') return;
    const v = this.day(r.createdAt);
    v[0]! += 1;
    v[2]! += r.toPay;
    if (r.cardholderId) {
      v[1]! += 1;
      v[3]! += r.toPay;
    }
    if (r.redeemOffered > 0) {
      v[4]! += 1;
      if (r.pointsRedeemed === 0) v[5]! += 1;
    }
  }

  entry(e: { kind: string; points: number; createdAt: string }) {
    const column = e.kind === 'earn' || e.kind === 'welcome' ? 6 : e.kind === 'redeem' ? 7 : e.kind === 'expire' || e.kind === 'burn' ? 8 : -1;
    if (column >= 0) this.day(e.createdAt)[column]! += column === 6 ? e.points : -e.points;
  }

  async save(q: Query, storeId: string) {
    if (!this.days.size) return;
    type DayRow = [day: string, sums: number[]];
    const rows: DayRow[] = [...this.days].sort(([a], [b]) => (a < b ? -1 : 1));
    const sums = DAY_COLUMNS.map((_, i): [string, (r: DayRow) => unknown] => ['bigint', ([, v]) => v[i]]);
    await q.rows(
      sql`INSERT INTO store_days (store_id, day, ${sql.raw(DAY_COLUMNS.join(', '))})
          ${unnest(rows, [['text', same(storeId)], ['date', ([day]) => day], ...sums])}
          ON CONFLICT (store_id, day) DO UPDATE SET ${sql.raw(DAY_COLUMNS.map((c) => `${c} = store_days.${c} + EXCLUDED.${c}`).join(', '))}`,
    );
    this.days.clear();
  }
}

/** Recomputes `store_days` from the rows (after rows were loaded other than by upload: demo data, tests). */
export async function rebuildStoreDays(q: Query) {
  await q.rows(sql`DELETE FROM store_days`);
  await q.rows(sql`INSERT INTO store_days SELECT * FROM store_day_facts('-infinity', 'infinity')`);
}

/**
 * A store's days in the period (all stores', or one's): the whole UTC days from `store_days`, the
 * partial days at either edge summed from the rows by store_day_facts.
 */
function storeDays(f: FigureQuery) {
  const from = Date.parse(f.from);
  const to = Date.parse(f.to);
  const wholeFrom = new Date(Math.min(Math.ceil(from / DAY) * DAY, to)).toISOString();
  const wholeTo = new Date(Math.max(Math.floor(to / DAY) * DAY, Date.parse(wholeFrom))).toISOString();
  return sql`(SELECT * FROM (
      SELECT * FROM store_days WHERE day >= (${wholeFrom}::timestamptz AT TIME ZONE 'UTC')::date AND day < (${wholeTo}::timestamptz AT TIME ZONE 'UTC')::date
      UNION ALL SELECT * FROM store_day_facts(${f.from}, ${wholeFrom})
      UNION ALL SELECT * FROM store_day_facts(${wholeTo}, ${f.to})
    ) d WHERE true ${atStore(f)})`;
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

/**
 * Revenue per participant by month: what buyers with a card paid, divided by how many bought.
 * The money comes from the store days; the buyers from one pass over each buyer's sales in
 * cardholder order (receipts_card_sales), each buyer carrying the months it bought in as bits.
 */
export async function revenuePerParticipant(q: Query, f: FigureQuery) {
  const first = new Date(f.from);
  const base = first.getUTCFullYear() * 12 + first.getUTCMonth();
  const last = new Date(Date.parse(f.to) - 1);
  const months = Math.max(0, last.getUTCFullYear() * 12 + last.getUTCMonth() - base + 1);
  const label = (i: number) => `${Math.floor((base + i) / 12)}-${String(((base + i) % 12) + 1).padStart(2, '0')}`;
  // The month starts, 0 … months: a sale's month is the bucket its time falls in.
  const starts = Array.from({ length: months + 1 }, (_, i) => new Date(Date.UTC(Math.floor((base + i) / 12), (base + i) % 12, 1)).toISOString());
  const revenue = new Map(
    (await q.rows<{ month: string; revenue: string }>(sql`SELECT to_char(day, 'YYYY-MM') AS month, sum(card_revenue) AS revenue FROM ${storeDays(f)} days GROUP BY 1`)).map((r) => [r.month, n(r.revenue)]),
  );
  let buyers: number[];
  if (months <= 63) {
    const [row] = await q.rows<Record<string, string | null>>(
      sql`WITH per AS (
            SELECT bit_or(1::bigint << (width_bucket(created_at, ${sql.param(starts)}::timestamptz[]) - 1)) AS bits
            FROM receipts WHERE kind = 'sale' AND cardholder_id IS NOT NULL AND created_at >= ${f.from} AND created_at < ${f.to} ${atStore(f)}
            GROUP BY cardholder_id
          )
          SELECT ${sql.raw(Array.from({ length: months }, (_, i) => `sum((bits >> ${i}) & 1) AS m${i}`).join(', ') || '0 AS none')} FROM per`,
    );
    buyers = Array.from({ length: months }, (_, i) => n(row?.[`m${i}`]));
  } else {
    // More than 63 months do not fit the bits: count them month by month.
    const rows = await q.rows<{ month: string; buyers: string }>(
      sql`SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM') AS month, count(DISTINCT cardholder_id) AS buyers FROM receipts
          WHERE kind = 'sale' AND cardholder_id IS NOT NULL AND created_at >= ${f.from} AND created_at < ${f.to} ${atStore(f)} GROUP BY 1`,
    );
    const by = new Map(rows.map((r) => [r.month, n(r.buyers)]));
    buyers = Array.from({ length: months }, (_, i) => by.get(label(i)) ?? 0);
  }
  return buyers.flatMap((b, i) => {
    if (!b) return [];
    const r = revenue.get(label(i)) ?? 0;
    return [{ month: label(i), revenue: r, buyers: b, perParticipant: Math.round(r / b) }];
  });
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
          SELECT cardholder_id, max(created_at) AS last, count(*) AS freq, sum(to_pay)::bigint AS money FROM receipts
          WHERE kind = 'sale' AND cardholder_id IS NOT NULL AND created_at >= ${f.from} AND created_at < ${f.to} ${atStore(f)}
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
          SELECT cardholder_id, max(created_at) AS last, count(*) AS freq, sum(to_pay)::bigint AS money FROM receipts
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
