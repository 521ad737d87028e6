// Scheduled ledger jobs: lots past their expiry date are expired, and a cardholder inactive past
// the program's limit has the rest burned. Each job writes an entry only for what is still left of
// a lot, recomputed inside the transaction that writes it — so running a job twice, or again after
// it was interrupted, writes nothing more. Work is cut into small transactions so a till never
// waits long behind a job.
import { uuidv7 } from './ids';
import { holderChain, type Ledger } from './ledger';

export interface JobReport {
  expiredLots: number;
  expiredPoints: number;
  burnedCardholders: number;
  burnedPoints: number;
}

const BATCH = 500;

interface OpenLot {
  cardholderId: string;
  lotId: string;
  left: number;
}

/**
 * Lots this terminal opened that still hold points: those expired by a time, or one cardholder's
 * (through the holder's list of entries). Draws replicated from HQ (another terminal spent part of
 * a lot) count.
 */
function openOwnLots(ledger: Ledger, of: { expiredBy: string } | { holder: string }, limit: number): OpenLot[] {
  const [chain, where, param] =
    'holder' in of ? [holderChain('point_entries'), 'l.rowid IN (SELECT r FROM chain)', of.holder] : ['', 'l.expires_at IS NOT NULL AND l.expires_at <= ?', of.expiredBy];
  return ledger.sqlite
    .prepare(
      `${chain} SELECT cardholderId, lotId, left FROM (
         SELECT l.cardholder_id AS cardholderId, l.id AS lotId, l.chain_seq,
                l.points + coalesce((SELECT sum(d.points) FROM point_entries d WHERE d.lot_id = l.id AND d.lot_id <> d.id), 0)
                         + coalesce((SELECT sum(r.points) FROM remote_entries r WHERE r.lot_id = l.id), 0) AS left
         FROM point_entries l
         WHERE l.lot_id = l.id AND l.points > 0 AND ${where}
       ) WHERE left > 0 ORDER BY chain_seq LIMIT ?`,
    )
    .all(param, limit) as OpenLot[];
}

/** Writes one 'expire' entry per lot whose expiry has passed, for what is left of it. */
export function expireLots(ledger: Ledger, now: string): Pick<JobReport, 'expiredLots' | 'expiredPoints'> {
  let expiredLots = 0;
  let expiredPoints = 0;
  for (;;) {
    const done = ledger.atomically(() => {
      const lots = openOwnLots(ledger, { expiredBy: now }, BATCH);
      if (!lots.length) return 0;
      const entries = ledger.appendEntries(
        lots.map((l) => ({ cardholderId: l.cardholderId, kind: 'expire' as const, points: -l.left, lotId: l.lotId, reason: 'Срок действия баллов истёк' })),
        now,
      );
      ledger.appendOutbox('entries', uuidv7(), now, { entries });
      expiredLots += lots.length;
      expiredPoints += lots.reduce((s, l) => s + l.left, 0);
      return lots.length;
    });
    if (done < BATCH) break;
  }
  return { expiredLots, expiredPoints };
}

/**
 * Earn-or-burn: a cardholder with no purchase for `days` days loses what is left of the lots this
 * terminal opened for them. The last purchase anywhere in the chain counts (HQ's replicated
 * entries carry other terminals' activity).
 */
export function burnInactive(ledger: Ledger, days: number, now: string): Pick<JobReport, 'burnedCardholders' | 'burnedPoints'> {
  const cutoff = new Date(Date.parse(now) - days * 86_400_000).toISOString();
  let burnedCardholders = 0;
  let burnedPoints = 0;
  const inactive = ledger.sqlite.prepare(
    `SELECT b.cardholder_id FROM balances b
     WHERE b.points > 0 AND coalesce(b.last_purchase_at, '') < ? AND b.cardholder_id > ?
       AND NOT EXISTS (SELECT 1 FROM remote_entries r WHERE r.cardholder_id = b.cardholder_id AND r.kind IN ('earn', 'redeem') AND r.created_at >= ?)
     ORDER BY b.cardholder_id LIMIT ?`,
  );
  // Only a cardholder this terminal has known since before the cutoff (an entry of its own older).
  const firstEntryAt = ledger.sqlite.prepare(`${holderChain('point_entries')} SELECT min(e.created_at) FROM chain JOIN point_entries e ON e.rowid = chain.r`).pluck();
  let after = '';
  for (;;) {
    const batch = inactive.pluck().all(cutoff, after, cutoff, BATCH) as string[];
    if (!batch.length) break;
    after = batch[batch.length - 1]!;
    const holders = batch.filter((id) => ((firstEntryAt.get(id) as string | null) ?? cutoff) < cutoff);
    ledger.atomically(() => {
      const lots = holders.flatMap((id) => openOwnLots(ledger, { holder: id }, 10_000));
      if (!lots.length) return;
      const entries = ledger.appendEntries(
        lots.map((l) => ({ cardholderId: l.cardholderId, kind: 'burn' as const, points: -l.left, lotId: l.lotId, reason: `Баллы сгорели: нет покупок ${days} дн.` })),
        now,
      );
      ledger.appendOutbox('entries', uuidv7(), now, { entries });
      burnedCardholders += new Set(lots.map((l) => l.cardholderId)).size;
      burnedPoints += lots.reduce((s, l) => s + l.left, 0);
    });
  }
  return { burnedCardholders, burnedPoints };
}

export function runLedgerJobs(ledger: Ledger, program: { expiry?: { burnAfterInactiveDays?: number } } | null, now: string): JobReport {
  const expired = expireLots(ledger, now);
  const days = program?.expiry?.burnAfterInactiveDays;
  const burned = days ? burnInactive(ledger, days, now) : { burnedCardholders: 0, burnedPoints: 0 };
  return { ...expired, ...burned };
}
