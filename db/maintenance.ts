// Keeping the ledger well: scheduled online backups with retention, scheduled WAL checkpoints,
// the scheduled ledger jobs (expiry, burn) and restoring the latest good backup after damage.
import Database from 'better-sqlite3';
import { copyFileSync, existsSync, renameSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Ledger } from './ledger';
import { listBackups, onlineBackup } from './open';
import { jobSlices, type JobLimits, type JobReport } from './jobs';
import type { Program } from '../engine';

export interface MaintenanceOptions {
  dbPath: string;
  /** Online backup every this many minutes (default 6 hours), keeping `keepBackups` (default 14). */
  backupEveryMinutes?: number;
  keepBackups?: number;
  /** PASSIVE WAL checkpoint every this many minutes (default 5). */
  checkpointEveryMinutes?: number;
  /** Expiry and burn every this many minutes (default 60). */
  jobsEveryMinutes?: number;
  program: () => Program | null;
  clock: () => Date;
  onError: (what: string, e: unknown) => void;
  onJobs?: (report: JobReport) => void;
  /** The transactions of one slice of the jobs (default: 10 of 500 lots or balances rows, or 25 ms). */
  jobSlice?: JobLimits;
}

/** Timers for the three chores; none keeps the process alive, and a failing chore is logged, not fatal. */
export class Maintenance {
  private readonly timers: NodeJS.Timeout[] = [];
  private jobsRunning = false;
  private stopped = false;

  constructor(
    private readonly ledger: Ledger,
    private readonly opts: MaintenanceOptions,
  ) {}

  start() {
    this.stopped = false;
    const every = (minutes: number, what: string, fn: () => unknown) => {
      const t = setInterval(() => {
        Promise.resolve()
          .then(fn)
          .catch((e: unknown) => this.opts.onError(what, e));
      }, minutes * 60_000);
      t.unref();
      this.timers.push(t);
    };
    every(this.opts.checkpointEveryMinutes ?? 5, 'checkpoint', () => this.checkpoint());
    every(this.opts.backupEveryMinutes ?? 360, 'backup', () => this.backup());
    every(this.opts.jobsEveryMinutes ?? 60, 'ledger jobs', () => this.runJobs());
  }

  stop() {
    this.stopped = true;
    for (const t of this.timers.splice(0)) clearInterval(t);
  }

  checkpoint() {
    return this.ledger.checkpoint();
  }

  /** An online backup: the till goes on working while it is taken (`onlineBackup`). */
  backup(): Promise<string> {
    return onlineBackup(this.ledger.sqlite, this.opts.dbPath, 'scheduled', this.opts.keepBackups ?? 14);
  }

  /**
   * The ledger jobs in slices (ten transactions or 25 ms, whichever comes first), giving the till
   * its turn between slices, until expiry has caught up, burn has looked at every cardholder and
   * old purchases elsewhere are dropped; one run at a time.
   */
  async runJobs(): Promise<JobReport | null> {
    if (this.jobsRunning) return null;
    this.jobsRunning = true;
    try {
      const total: JobReport = { expiredLots: 0, expiredPoints: 0, lotsChecked: 0, expiryComplete: false, burnedCardholders: 0, burnedPoints: 0, burnComplete: false, prunedSales: 0, pruneComplete: false };
      for (const slice of jobSlices(this.ledger, this.opts.program(), this.opts.clock().toISOString(), this.opts.jobSlice)) {
        for (const k of ['expiredLots', 'expiredPoints', 'lotsChecked', 'burnedCardholders', 'burnedPoints', 'prunedSales'] as const) total[k] += slice[k];
        total.expiryComplete = slice.expiryComplete;
        total.burnComplete = slice.burnComplete;
        total.pruneComplete = slice.pruneComplete;
        if (slice.expiryComplete && slice.burnComplete && slice.pruneComplete) break;
        await new Promise((resolve) => setImmediate(resolve));
        if (this.stopped) break;
      }
      this.opts.onJobs?.(total);
      return total;
    } finally {
      this.jobsRunning = false;
    }
  }
}

export interface RestoreReport {
  restoredFrom: string;
  damagedKeptAt: string | null;
}

/**
 * Puts the newest backup that passes `quick_check` (or the one given) in place of the ledger. The
 * damaged file is never deleted: it is kept beside, renamed, with its WAL, for whoever must
 * recover the sales committed after the backup (those already uploaded are safe at HQ).
 */
export function restoreBackup(dbPath: string, from?: string): RestoreReport {
  const target = resolve(dbPath);
  const candidates = from ? [resolve(from)] : listBackups(target);
  if (!candidates.length) throw new Error(`No backups of ${dbPath} were found (they live in the backups/ folder beside it).`);
  const good = candidates.find((file) => {
    if (!existsSync(file)) return false;
    try {
      const db = new Database(file, { readonly: true, fileMustExist: true });
      try {
        return db.pragma('quick_check', { simple: true }) === 'ok';
      } finally {
        db.close();
      }
    } catch {
      return false;
    }
  });
  if (!good) throw new Error(from ? `The backup ${from} is missing or damaged too.` : `None of the ${candidates.length} backups of ${dbPath} passes its integrity check.`);
  let damagedKeptAt: string | null = null;
  if (existsSync(target)) {
    damagedKeptAt = `${target}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    for (const suffix of ['', '-wal', '-shm']) if (existsSync(target + suffix)) renameSync(target + suffix, damagedKeptAt + suffix);
  }
  copyFileSync(good, target);
  return { restoredFrom: good, damagedKeptAt };
}
