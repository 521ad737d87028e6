// A year of a retail chain at HQ, generated inside PostgreSQL (generate_series, a fixed seed): stores
// and their terminals, cardholders enrolled over two years, sales with and without a card (a few
// regulars buy most: Pareto), points earned, redeemed and expired, NPS answers, and a program
// change mid-year (earn rate 5% → 7%, more customers with a card after it). `npm run hq:demo` fills
// the dashboard with it; `npm run bench:hq` builds a 100-store, 10-million-receipt chain with it.
import { sql, type Query } from './db';
import { rebuildStoreDays } from './figures';

export interface ChainSpec {
  stores: number;
  cardholders: number;
  receipts: number;
  /** The year: [from, from + 365 days). */
  from: string;
  /** The program change (version 1 → 2). */
  changeAt: string;
}

export async function generateChain(q: Query, c: ChainSpec): Promise<{ stores: number; cardholders: number; receipts: number }> {
  const year = sql`interval '365 days'`;
  await q.rows(sql`SELECT setseed(0.2026)`);
  await q.rows(sql`INSERT INTO stores (id, name) SELECT 'store-' || g, 'Магазин №' || g FROM generate_series(1, ${c.stores}) g ON CONFLICT DO NOTHING`);
  await q.rows(
    sql`INSERT INTO terminals (terminal_id, store_id, public_key, last_contact_at, acked_seq, pending_reported, oldest_pending_at, rejected_ops)
        SELECT 'term-' || s || '-' || k, 'store-' || s, 'demo', now() - (random() * interval '3 hours'), 1000 + (random() * 50000)::int,
               CASE WHEN random() < 0.15 THEN (random() * 40)::int ELSE 0 END, NULL, CASE WHEN random() < 0.05 THEN 1 ELSE 0 END
        FROM generate_series(1, ${c.stores}) s, generate_series(1, 2) k ON CONFLICT DO NOTHING`,
  );
  await q.rows(sql`UPDATE terminals SET oldest_pending_at = now() - (pending_reported * interval '2 minutes') WHERE pending_reported > 0 AND public_key = 'demo'`);
  await q.rows(
    sql`INSERT INTO cardholders (cardholder_id, holder, enrolled_at, store_id)
        SELECT 'ch-' || g, jsonb_build_object('firstName', (ARRAY['Анна','Иван','Мария','Олег','Елена','Пётр'])[1 + g % 6], 'phone', '+7901' || lpad(g::text, 7, '0')),
               ${c.from}::timestamptz - interval '365 days' + random() * interval '700 days', 'store-' || (1 + g % ${c.stores})
        FROM generate_series(1, ${c.cardholders}) g ON CONFLICT DO NOTHING`,
  );
  // Sales spread over the year; a card on 55% of them before the change, 68% after. Regulars:
  // the cardholder is drawn with a skew (random()^3), so a fifth of them bring most of the money.
  await q.rows(
    sql`INSERT INTO receipts (terminal_id, id, number, kind, store_id, card_id, cardholder_id, created_at, gross, discount, redeem_kopecks, to_pay,
                              points_earned, points_redeemed, program_id, program_version, chain_seq, hash, redeem_offered)
        SELECT 'term-' || st || '-' || (1 + g % 2), 'r-' || g, 'R' || g, 'sale', 'store-' || st,
               CASE WHEN has_card THEN 'card-' || holder END, CASE WHEN has_card THEN 'ch-' || holder END, ts,
               gross, discount, redeem * 100, gross - discount - redeem * 100,
               CASE WHEN has_card THEN ((gross - discount - redeem * 100) * CASE WHEN ts >= ${c.changeAt}::timestamptz THEN 7 ELSE 5 END / 10000) ELSE 0 END,
               redeem, 'demo', CASE WHEN ts >= ${c.changeAt}::timestamptz THEN 2 ELSE 1 END, g, 'demo', offered
        FROM (
          SELECT g, st, holder, has_card, ts, gross, discount, offered,
                 CASE WHEN offered > 0 AND random() < 0.35 THEN least(offered, (gross - discount) / 400) ELSE 0 END AS redeem
          FROM (
            SELECT g, st, holder, ts, has_card, gross, CASE WHEN has_card THEN gross / 20 ELSE 0 END AS discount,
                   CASE WHEN has_card AND random() < 0.4 THEN (50 + random() * 400)::int ELSE 0 END AS offered
            FROM (
              SELECT g, 1 + (random() * (${c.stores} - 1))::int AS st, 1 + floor(${c.cardholders} * power(random(), 3))::int AS holder, ts,
                     random() < CASE WHEN ts >= ${c.changeAt}::timestamptz THEN 0.68 ELSE 0.55 END AS has_card, (20000 + random() * 180000)::bigint AS gross
              FROM (SELECT g, ${c.from}::timestamptz + ((g - 1)::float8 / ${c.receipts}) * ${year} AS ts FROM generate_series(1, ${c.receipts}) g) t
            ) u
          ) v
        ) w`,
  );
  // Point entries: earned on each card sale, redeemed where points paid, a share expired later.
  await q.rows(
    sql`INSERT INTO point_entries (cardholder_id, id, terminal_id, receipt_id, kind, points, lot_id, created_at, expires_at)
        SELECT cardholder_id, 'e-' || id, terminal_id, id, 'earn', points_earned, 'e-' || id, created_at, created_at + interval '365 days'
        FROM receipts WHERE cardholder_id IS NOT NULL AND points_earned > 0 AND id LIKE 'r-%'
        ON CONFLICT DO NOTHING`,
  );
  await q.rows(
    sql`INSERT INTO point_entries (cardholder_id, id, terminal_id, receipt_id, kind, points, created_at)
        SELECT cardholder_id, 'x-' || id, terminal_id, id, 'redeem', -points_redeemed, created_at
        FROM receipts WHERE cardholder_id IS NOT NULL AND points_redeemed > 0 AND id LIKE 'r-%'
        ON CONFLICT DO NOTHING`,
  );
  await q.rows(
    sql`INSERT INTO point_entries (cardholder_id, id, terminal_id, kind, points, lot_id, created_at)
        SELECT cardholder_id, 'b-' || id, terminal_id, 'expire', -(points_earned / 2), 'e-' || id, created_at + interval '120 days'
        FROM receipts WHERE cardholder_id IS NOT NULL AND points_earned > 1 AND id LIKE 'r-%' AND hashtext(id) % 9 = 0 AND created_at + interval '120 days' < ${c.from}::timestamptz + ${year}
        ON CONFLICT DO NOTHING`,
  );
  await q.rows(
    sql`INSERT INTO balances (cardholder_id, points, lifetime_spend, purchase_count, last_purchase_at)
        SELECT cardholder_id, sum(CASE WHEN kind = 'earn' THEN points ELSE 0 END) - sum(CASE WHEN kind = 'redeem' THEN -points ELSE 0 END), 0, 0, max(created_at)
        FROM point_entries WHERE id LIKE 'e-%' OR id LIKE 'x-%' GROUP BY cardholder_id
        ON CONFLICT (cardholder_id) DO NOTHING`,
  );
  // NPS on about 2% of sales; scores lean better after the change.
  await q.rows(
    sql`INSERT INTO nps (terminal_id, id, store_id, receipt_id, score, created_at)
        SELECT terminal_id, 'n-' || id, store_id, id,
               least(10, greatest(0, round(6.5 + random() * 4 - random() * 3 + CASE WHEN created_at >= ${c.changeAt}::timestamptz THEN 1 ELSE 0 END)))::int, created_at
        FROM receipts WHERE id LIKE 'r-%' AND hashtext(id || 'nps') % 50 = 0
        ON CONFLICT DO NOTHING`,
  );
  await rebuildStoreDays(q);
  await q.rows(sql`ANALYZE`);
  return { stores: c.stores, cardholders: c.cardholders, receipts: c.receipts };
}
