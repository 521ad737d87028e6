// Scheduled ledger jobs: lots past their expiry date are expired, and a cardholder inactive past
// the program's limit has the rest burned. Each job writes an entry only for what is still left of
// a lot, recomputed inside the transaction that writes it — so running a job twice, or again after
// it was interrupted, writes nothing more. Then what other terminals sold (HQ's feed, kept for
// repeat-purchase discounts) is dropped once no discount looks back that far. Work is cut into
// small transactions so a till never waits long behind a job.
import type { Statement } from 'better-sqlite3';
import { uuidv7 } from './ids';
import { holderChain, type Ledger } from './ledger';

export interface JobReport {
  expiredLots: number;
  expiredPoints: number;
  /** Lots whose remainder the expiry job worked out (its cost): the lots due since its last run. */
  lotsChecked: number;
  /** False when the run stopped at its batch limit: the next run goes on from there. */
  expiryComplete: boolean;
  burnedCardholders: number;
  burnedPoints: number;
  /** False when the burn stopped at its limit: the next run goes on after the last cardholder it looked at. */
  burnComplete: boolean;
  /** Sales made on other terminals whose items were dropped as older than repeat-purchase discounts look back. */
  prunedSales: number;
  /** False when the drop stopped at its limit (the next run goes on), or has not had its turn yet. */
  pruneComplete: boolean;
}

const BATCH = 500;
/** Lots in an expiry run's first transaction under a time limit, and never fewer after it. */
const FIRST_LOTS = 20;
/** Lots (expiry) or cardholders (burn) written off together: a transaction under a time limit checks the clock after each chunk. */
const CHUNK = 20;
/** Entries (own, then replicated) an expiry run's catch-up reads per transaction. */
const CATCH_UP = 2000;

interface OpenLot {
  rowid: number;
  cardholderId: string;
  lotId: string;
  expiresAt: string | null;
  left: number;
}

/**
 * What is left of lots this terminal opened (`l`, picked by `where`): draws here and draws
 * replicated from HQ (another terminal spent part of a lot, or gave some back) both count.
 */
function ownLots(ledger: Ledger, sql: { with?: string; where: string; then: string }, ...params: unknown[]): OpenLot[] {
  return ledger.sqlite
    .prepare(
      `${sql.with ?? ''} SELECT l.rowid AS rowid, l.cardholder_id AS cardholderId, l.id AS lotId, l.expires_at AS expiresAt,
         l.points + coalesce((SELECT sum(d.points) FROM point_entries d WHERE d.lot_id = l.id AND d.lot_id <> d.id), 0)
                  + coalesce((SELECT sum(r.points) FROM remote_entries r WHERE r.lot_id = l.id), 0) AS left
       FROM point_entries l WHERE l.lot_id = l.id AND l.points > 0 AND ${sql.where} ${sql.then}`,
    )
    .all(...params) as OpenLot[];
}

/**
 * A lot this terminal opened that HQ has since moved to the cardholder kept by a merge: HQ took it
 * off the duplicate and opened lot "m+<lot>" on the kept cardholder with the same expiry. That
 * copy comes from HQ, but no other terminal opened it, so the terminal that opened the lot expires
 * and burns it. What is left of it counts draws from HQ and draws made here. None when the lot was
 * not moved.
 */
function mirroredLot(ledger: Ledger, lotId: string): OpenLot | undefined {
  let statement = copyOf.get(ledger);
  if (!statement) {
    statement = ledger.sqlite.prepare(
      `SELECT m.rowid AS rowid, m.cardholder_id AS cardholderId, m.id AS lotId, m.expires_at AS expiresAt,
         m.points + coalesce((SELECT sum(r.points) FROM remote_entries r WHERE r.lot_id = m.id AND r.id <> m.id), 0)
                  + coalesce((SELECT sum(d.points) FROM point_entries d WHERE d.lot_id = m.id AND d.lot_id <> d.id), 0) AS left
       FROM remote_entries m WHERE m.id = ? AND m.lot_id = m.id`,
    );
    copyOf.set(ledger, statement);
  }
  return statement.get(`m+${lotId}`) as OpenLot | undefined;
}
// Prepared once per ledger: the expiry job asks this of every emptied lot that comes due.
const copyOf = new WeakMap<Ledger, Statement>();

/** One cardholder's lots, through the holder's list of entries, in the order they were opened. */
function holderLots(ledger: Ledger, cardholderId: string): OpenLot[] {
  return ownLots(ledger, { with: holderChain('point_entries'), where: 'l.rowid IN (SELECT r FROM chain)', then: 'ORDER BY l.chain_seq' }, cardholderId);
}

/** Hands `items` to `write` CHUNK at a time, stopping after the chunk in which `until` passes; returns how many it handed over. */
function inChunks<T>(items: T[], until: number, write: (chunk: T[]) => void): number {
  for (let i = 0; i < items.length; i += CHUNK) {
    write(items.slice(i, i + CHUNK));
    if (performance.now() >= until) return Math.min(items.length, i + CHUNK);
  }
  return items.length;
}

/**
 * Writes one entry of `kind` per lot for what is left of it, with one outbox row; inside the
 * caller's transaction. A burn's upload says when the inactivity it saw began: HQ gives the points
 * back if a purchase made meanwhile on another terminal turns up.
 */
function writeOff(ledger: Ledger, lots: OpenLot[], kind: 'expire' | 'burn', reason: string, now: string, inactiveSince?: string): number {
  if (!lots.length) return 0;
  const entries = ledger.appendEntries(
    lots.map((l) => ({ cardholderId: l.cardholderId, kind, points: -l.left, lotId: l.lotId, reason })),
    now,
  );
  ledger.appendOutbox('entries', uuidv7(), now, inactiveSince ? { entries, inactiveSince } : { entries });
  return lots.reduce((s, l) => s + l.left, 0);
}

/**
 * How far the last complete expiry run got: every lot expiring by `at` was dealt with, and every
 * own entry up to rowid `entry` and replicated one up to rowid `remote` had been written. Kept in
 * settings; a run that fails half-way leaves it as it was, and the next run does that work again.
 * A run stopped at its limit (transactions or time) saves where it was in expiry order (`resume`),
 * and one out of time in its catch-up how far it got there (`caught`).
 */
interface ExpiryMark {
  at: string;
  entry: number;
  remote: number;
  resume?: [string, number];
  caught?: [number, number];
}

export interface JobLimits {
  /** Stop after this many transactions (burn: windows of `batch` balances rows), saving the place (default: no limit). */
  maxBatches?: number;
  /** Or once this many milliseconds have passed, after at least one transaction (default: no limit). */
  maxMs?: number;
  /** Lots per transaction for expiry (the most, under a time limit); balances rows per window for burn (default 500). */
  batch?: number;
}
const EXPIRY_MARK = 'expiry_mark';
/** The last cardholder a burn stopped at its limit looked at; none when the last burn finished. */
const BURN_PLACE = 'burn_place';

/** The mark as saved; none (so a run looks at every lot, which is always right) if it is not one. */
function readMark(saved: string | undefined): ExpiryMark | null {
  try {
    const m = saved ? (JSON.parse(saved) as Partial<ExpiryMark>) : null;
    const resumes = m?.resume === undefined || (Array.isArray(m.resume) && typeof m.resume[0] === 'string' && Number.isSafeInteger(m.resume[1]));
    const caught = m?.caught === undefined || (Array.isArray(m.caught) && Number.isSafeInteger(m.caught[0]) && Number.isSafeInteger(m.caught[1]));
    return m && typeof m.at === 'string' && Number.isSafeInteger(m.entry) && Number.isSafeInteger(m.remote) && resumes && caught ? (m as ExpiryMark) : null;
  } catch {
    return null;
  }
}
const EXPIRED_REASON = 'Срок действия баллов истёк';

/**
 * Writes one 'expire' entry per lot whose expiry has passed, for what is left of it. A run looks
 * only at what changed since the last one, so an hourly run costs what the hour brought, not the
 * ledger's whole history:
 * - lots expiring since the last run (every lot, on the first), in expiry order, a batch per
 *   transaction, each batch after the last one's place;
 * - lots written since the last run with an expiry already past (a clock set back, a backdated
 *   adjustment);
 * - the lots of cardholders given points back since the last run (a return's restore, here or
 *   replicated from HQ): a lot that expired can hold points again.
 */
export function expireLots(ledger: Ledger, now: string, limits: JobLimits = {}): Pick<JobReport, 'expiredLots' | 'expiredPoints' | 'lotsChecked' | 'expiryComplete'> {
  const { batch = BATCH, maxBatches = Infinity, maxMs = Infinity } = limits;
  const started = performance.now();
  const db = ledger.sqlite;
  const mark = readMark(ledger.setting(EXPIRY_MARK));
  const head: ExpiryMark = {
    // A clock set back (after a run under a clock set forward) moves the mark back with it: lots
    // expiring in between are looked at again as the clock passes them, never skipped.
    at: now,
    entry: db.prepare('SELECT coalesce(max(rowid), 0) FROM point_entries').pluck().get() as number,
    remote: db.prepare('SELECT coalesce(max(rowid), 0) FROM remote_entries').pluck().get() as number,
  };
  const report = { expiredLots: 0, expiredPoints: 0, lotsChecked: 0, expiryComplete: false };
  const save = (m: ExpiryMark) => ledger.saveSetting(EXPIRY_MARK, JSON.stringify(m));
  // Inside the transaction that writes: what is left of each lot is worked out there. Lots are
  // written off a chunk at a time; past `until` the transaction ends after the chunk, and returns
  // the lots it dealt with (fewer than it was given).
  const expire = (lots: OpenLot[], until = Infinity) =>
    lots.slice(
      0,
      inChunks(lots, until, (chunk) => {
        // A lot with nothing left here may have been moved by a merge at HQ: its copy expires with it.
        const due = chunk
          .filter((l) => l.expiresAt !== null && l.expiresAt <= now)
          .map((l) => (l.left > 0 ? l : mirroredLot(ledger, l.lotId)))
          .filter((l): l is OpenLot => l !== undefined && l.left > 0);
        report.lotsChecked += chunk.length;
        report.expiredLots += due.length;
        report.expiredPoints += writeOff(ledger, due, 'expire', EXPIRED_REASON, now);
      }),
    );
  // Lots expiring after the mark, up to now: (expires_at, rowid) is the order of the expiry index.
  let after: [string, number] = mark?.resume ?? [mark?.at ?? '', Number.MAX_SAFE_INTEGER];
  let batches = 0;
  // Under a time limit a transaction takes as many lots as fit in half of it at the pace of the one
  // before, from FIRST_LOTS up to `batch`, and ends early once it has run that half: on a
  // 1,000,000-card ledger a lot costs 0.01–0.2 ms (checked only, or written off), so the pace
  // alone let transactions of 500 lots hold the till 40–90 ms.
  const timed = Number.isFinite(maxMs);
  let size = timed ? Math.min(batch, FIRST_LOTS) : batch;
  let full: boolean;
  do {
    const t0 = performance.now();
    const { lots, all } = ledger.atomically(() => {
      const due = ownLots(ledger, { where: 'l.expires_at IS NOT NULL AND (l.expires_at, l.rowid) > (?, ?) AND l.expires_at <= ?', then: 'ORDER BY l.expires_at, l.rowid LIMIT ?' }, ...after, now, size);
      return { lots: expire(due, Math.min(t0 + maxMs / 2, started + maxMs)), all: due.length };
    });
    if (lots.length) after = [lots[lots.length - 1]!.expiresAt!, lots[lots.length - 1]!.rowid];
    full = all === size || lots.length < all;
    if (timed) size = Math.min(batch, Math.max(FIRST_LOTS, Math.floor((lots.length * maxMs) / 2 / Math.max(performance.now() - t0, 0.01))));
  } while (full && ++batches < maxBatches && performance.now() - started < maxMs);
  if (full) {
    // Stopped at the limit: what was seen before this run still counts as seen; the place is kept.
    save({ ...(mark ?? { at: '', entry: head.entry, remote: head.remote }), resume: after });
    return report;
  }
  if (mark) {
    // Lots written since the mark with an expiry already past, and the lots of cardholders given
    // points back since (here or replicated from HQ): own entries, then replicated ones, a window
    // of CATCH_UP rows per transaction. A run out of time keeps how far it got (`caught`): during a
    // big first run these are mostly the run's own entries, which took one slice 35 ms to read.
    const restored = `WITH restored(lot, holder) AS (
       SELECT lot_id, cardholder_id FROM point_entries WHERE rowid > ? AND rowid <= ? AND lot_id <> id AND points > 0
       UNION ALL SELECT lot_id, cardholder_id FROM remote_entries WHERE rowid > ? AND rowid <= ? AND lot_id <> id AND points > 0)`;
    // Their holders; those whose draws name such a lot (one merged away); and the duplicate whose
    // lot L was copied as "m+L" to the kept cardholder HQ gave points back to (its "m-L" names it).
    const givenBack = db
      .prepare(
        `${restored} SELECT holder FROM restored
         UNION SELECT d.cardholder_id FROM point_entries d WHERE d.lot_id IN (SELECT lot FROM restored) AND d.lot_id <> d.id
         UNION SELECT m.cardholder_id FROM remote_entries m WHERE m.id IN (SELECT 'm-' || substr(lot, 3) FROM restored WHERE lot GLOB 'm+*')`,
      )
      .pluck();
    let [own, remote] = mark.caught ?? [mark.entry, mark.remote];
    while (own < head.entry || remote < head.remote) {
      const ownTo = Math.min(head.entry, own + CATCH_UP);
      const remoteTo = ownTo < head.entry ? remote : Math.min(head.remote, remote + CATCH_UP);
      ledger.atomically(() => {
        expire(ownLots(ledger, { where: 'l.rowid > ? AND l.rowid <= ? AND l.expires_at <= ?', then: 'ORDER BY l.rowid' }, own, ownTo, now));
        expire((givenBack.all(own, ownTo, remote, remoteTo) as string[]).flatMap((h) => holderLots(ledger, h)));
      });
      [own, remote] = [ownTo, remoteTo];
      if (performance.now() - started >= maxMs && (own < head.entry || remote < head.remote)) {
        save({ ...mark, resume: after, caught: [own, remote] });
        return report;
      }
    }
  }
  save(head);
  report.expiryComplete = true;
  return report;
}

/**
 * Earn-or-burn: a cardholder with no purchase for `days` days loses what is left of the lots this
 * terminal opened for them. The last purchase anywhere in the chain counts (HQ's replicated
 * entries carry other terminals' activity). Balances are read in cardholder order, in windows of
 * `batch` rows (a transaction for each window with someone due, ended early under a time limit),
 * so each step's cost is bounded however many or few cardholders are due; a run stopped at its
 * limit keeps the last cardholder it looked at, and the next run goes on after it.
 */
export function burnInactive(ledger: Ledger, days: number, now: string, limits: JobLimits = {}): Pick<JobReport, 'burnedCardholders' | 'burnedPoints' | 'burnComplete'> {
  const { batch = BATCH, maxBatches = Infinity, maxMs = Infinity } = limits;
  const started = performance.now();
  const db = ledger.sqlite;
  const cutoff = new Date(Date.parse(now) - days * 86_400_000).toISOString();
  const report = { burnedCardholders: 0, burnedPoints: 0, burnComplete: false };
  // Inactive: no purchase (here or counted from elsewhere), and no earn or redeem replicated from HQ, since the cutoff.
  // With points: of its own entries (a merge may have moved its lots to a kept cardholder, whose
  // copies burn here), or counting HQ's too (HQ may have given back a burn, or a return elsewhere what was spent here).
  const idle = (lastPurchase: string, holder: string) =>
    `coalesce(${lastPurchase}, '') < @cutoff AND NOT EXISTS (SELECT 1 FROM remote_entries r WHERE r.cardholder_id = ${holder} AND r.kind IN ('earn', 'welcome', 'redeem') AND r.created_at >= @cutoff)`;
  // The last of the next `batch` balances rows after a cardholder (or of those left, when fewer): one window of the scan.
  const nth = db.prepare('SELECT cardholder_id FROM balances WHERE cardholder_id > ? ORDER BY cardholder_id LIMIT 1 OFFSET ?').pluck();
  const last = db.prepare('SELECT max(cardholder_id) FROM balances WHERE cardholder_id > ?').pluck();
  const windowEnd = (after: string) => (nth.get(after, batch - 1) ?? last.get(after)) as string | null;
  const inactive = db
    .prepare(
      `SELECT b.cardholder_id FROM balances b
       WHERE b.cardholder_id > @after AND b.cardholder_id <= @end AND ${idle('b.last_purchase_at', 'b.cardholder_id')}
         AND (b.points > 0 OR b.points + coalesce((SELECT sum(r.points) FROM remote_entries r WHERE r.cardholder_id = b.cardholder_id), 0) > 0)
       ORDER BY b.cardholder_id`,
    )
    .pluck();
  // Only a cardholder this terminal has known since before the cutoff (an entry of its own older).
  const firstEntryAt = db.prepare(`${holderChain('point_entries')} SELECT min(e.created_at) FROM chain JOIN point_entries e ON e.rowid = chain.r`).pluck();
  // A lot HQ moved to a kept cardholder burns when that cardholder is inactive too.
  const holderIdle = db.prepare(`SELECT ${idle('(SELECT last_purchase_at FROM balances WHERE cardholder_id = @holder)', '@holder')}`).pluck();
  const idleCopy = (l: OpenLot) => {
    const copy = mirroredLot(ledger, l.lotId);
    return copy && holderIdle.get({ holder: copy.cardholderId, cutoff }) ? [copy] : [];
  };
  const place = ledger.setting(BURN_PLACE);
  let after = place ?? '';
  for (let batches = 0; ; ) {
    const end = windowEnd(after);
    if (end === null) break;
    const range = { cutoff, after, end };
    // Looked at first without taking the write lock (most windows have no one due), then again in
    // the transaction that writes, a chunk of cardholders at a time. Under a time limit it ends
    // once it has run half of it, and the next window starts after the last cardholder it burned.
    let burnedTo: string | null = null;
    if (inactive.get(range) !== undefined) {
      const until = Math.min(performance.now() + maxMs / 2, started + maxMs);
      burnedTo = ledger.atomically(() => {
        const ids = inactive.all(range) as string[];
        const done = inChunks(ids, until, (chunk) => {
          const lots = chunk
            .filter((id) => ((firstEntryAt.get(id) as string | null) ?? cutoff) < cutoff)
            .flatMap((id) => holderLots(ledger, id))
            .flatMap((l) => (l.left > 0 ? [l] : idleCopy(l)))
            .filter((l) => l.left > 0);
          report.burnedPoints += writeOff(ledger, lots, 'burn', `Баллы сгорели: нет покупок ${days} дн.`, now, cutoff);
          report.burnedCardholders += new Set(lots.map((l) => l.cardholderId)).size;
        });
        return done < ids.length ? ids[done - 1]! : null;
      });
    }
    after = burnedTo ?? end;
    if (++batches >= maxBatches || performance.now() - started >= maxMs) {
      ledger.saveSetting(BURN_PLACE, after);
      return report;
    }
  }
  if (place !== undefined) ledger.saveSetting(BURN_PLACE, null);
  report.burnComplete = true;
  return report;
}

/** What the jobs need of a program. */
type JobProgram = { expiry?: { burnAfterInactiveDays?: number }; discounts?: readonly { type: string; withinDays?: number }[] };

/** What other terminals sold is kept at least this long, or as far back as a repeat-purchase discount looks. */
export const KEEP_BOUGHT_ELSEWHERE_DAYS = 90;

/**
 * Drops what sales with a card on other terminals sold (`bought_elsewhere`, from HQ's feed) once it
 * is `keepDays` old, and the returns elsewhere noted for those sales alone. Both are copies of HQ's
 * data that only repeat-purchase discounts read here, and every terminal of the chain gets every
 * such sale: kept for ever they would grow with the whole chain's trade. This terminal's receipts,
 * and the sales of others fetched to be returned here, are not touched. Rows come in feed order,
 * so the oldest come first by rowid: each transaction looks at the first `batch` rows and drops
 * them up to the first one still young, so a run costs what it drops and one read more. (A sale
 * that reached this terminal late waits behind younger ones: the drop is bounded, not exact.)
 */
export function pruneBoughtElsewhere(ledger: Ledger, keepDays: number, now: string, limits: JobLimits = {}): Pick<JobReport, 'prunedSales' | 'pruneComplete'> {
  const { batch = BATCH, maxBatches = Infinity, maxMs = Infinity } = limits;
  const started = performance.now();
  const db = ledger.sqlite;
  const before = new Date(Date.parse(now) - keepDays * 86_400_000).toISOString();
  const oldest = db.prepare('SELECT rowid, sale_id AS saleId, created_at AS createdAt FROM bought_elsewhere ORDER BY rowid LIMIT ?');
  const drop = db.prepare('DELETE FROM bought_elsewhere WHERE rowid = ?');
  const dropReturns = db.prepare(
    `DELETE FROM returns_elsewhere WHERE original_receipt_id = @id
       AND NOT EXISTS (SELECT 1 FROM receipts WHERE id = @id) AND NOT EXISTS (SELECT 1 FROM sales_elsewhere WHERE id = @id)`,
  );
  const dropOld = () =>
    ledger.atomically(() => {
      const rows = oldest.all(batch) as { rowid: number; saleId: string; createdAt: string }[];
      let n = 0;
      for (; n < rows.length && rows[n]!.createdAt < before; n++) {
        drop.run(rows[n]!.rowid);
        dropReturns.run({ id: rows[n]!.saleId });
      }
      return { dropped: n, more: n === batch };
    });
  const report = { prunedSales: 0, pruneComplete: false };
  for (let t = 0; t < maxBatches && (t === 0 || performance.now() - started < maxMs); t++) {
    const { dropped, more } = dropOld();
    report.prunedSales += dropped;
    if (!more) return { ...report, pruneComplete: true };
  }
  return report;
}

/** How long a program needs what other terminals sold: its longest repeat-purchase period, at least KEEP_BOUGHT_ELSEWHERE_DAYS. */
function keepBoughtElsewhereDays(program: JobProgram | null): number {
  return Math.max(KEEP_BOUGHT_ELSEWHERE_DAYS, ...(program?.discounts ?? []).map((d) => (d.type === 'repeat' ? (d.withinDays ?? 0) : 0)));
}

/**
 * The jobs as the terminal runs them: slices of at most `limits.maxBatches` transactions or
 * `limits.maxMs` (default ten, 25 ms: no transaction goes on past a chunk after the slice's time),
 * one per step, until expiry has caught up and burn has looked at every cardholder. Each step yields
 * that slice's report, and a slice that wrote is followed by a step that moves the WAL into the
 * database file (its report: nothing done); the caller may give the till its turn between steps.
 */
export function* jobSlices(ledger: Ledger, program: JobProgram | null, now: string, limits: JobLimits = { maxBatches: 10, maxMs: 25 }): Generator<JobReport> {
  // SQLite moves the WAL into the database file inside the commit that takes it past 1,000 pages:
  // on a big ledger that commit took 30–40 ms more, and a slice that ended with it held the till
  // 80–95 ms. While the jobs run, what a slice wrote is moved by a step of its own after it.
  const db = ledger.sqlite;
  const autoCheckpoint = db.pragma('wal_autocheckpoint', { simple: true }) as number;
  db.pragma('wal_autocheckpoint = 0');
  try {
    const complete = (r: JobReport | null) => !!r && r.expiryComplete && r.burnComplete && r.pruneComplete;
    for (let report: JobReport | null = null; !complete(report); ) {
      // Once expiry has caught up, the slices after it go on with burn, then with the drop, alone.
      report = slice(ledger, program, now, limits, { expiry: report?.expiryComplete ?? false, burn: report?.burnComplete ?? false });
      yield report;
      if ((report.expiredLots || report.burnedCardholders || report.prunedSales) && !complete(report)) {
        ledger.checkpoint();
        yield { ...report, expiredLots: 0, expiredPoints: 0, lotsChecked: 0, burnedCardholders: 0, burnedPoints: 0, prunedSales: 0 };
      }
    }
  } finally {
    db.pragma(`wal_autocheckpoint = ${autoCheckpoint}`);
  }
}

/** Expiry, then burn, then the drop of old purchases elsewhere, with no limits: what `loyalty jobs run` does. */
export function runLedgerJobs(ledger: Ledger, program: JobProgram | null, now: string): JobReport {
  return slice(ledger, program, now, {}, { expiry: false, burn: false });
}

/** One slice of the jobs in turn; `done`: the jobs that finished in slices before it. */
function slice(ledger: Ledger, program: JobProgram | null, now: string, limits: JobLimits, done: { expiry: boolean; burn: boolean }): JobReport {
  const started = performance.now();
  // Each job after the first has what is left of the slice's time once the one before finished in
  // it; with none left, the next slice starts it (a slice of a job alone always runs, or the jobs
  // would never finish).
  const next = (finishedBefore: boolean): JobLimits | null => {
    if (finishedBefore) return limits;
    const left = (limits.maxMs ?? Infinity) - (performance.now() - started);
    return left > 0 ? { ...limits, maxMs: left } : null;
  };
  const expired = done.expiry ? { expiredLots: 0, expiredPoints: 0, lotsChecked: 0, expiryComplete: true } : expireLots(ledger, now, limits);
  const days = program?.expiry?.burnAfterInactiveDays;
  const burnLimits = expired.expiryComplete && !done.burn ? next(done.expiry) : null;
  const burned =
    days && burnLimits ? burnInactive(ledger, days, now, burnLimits) : { burnedCardholders: 0, burnedPoints: 0, burnComplete: done.burn || !days };
  const pruneLimits = expired.expiryComplete && burned.burnComplete ? next(done.burn) : null;
  const pruned = pruneLimits ? pruneBoughtElsewhere(ledger, keepBoughtElsewhereDays(program), now, pruneLimits) : { prunedSales: 0, pruneComplete: false };
  return { ...expired, ...burned, ...pruned };
}
