// Opening the ledger: pragmas for durability, a backup before migrations, forward-only migrations,
// and an integrity check whose failure is a clear message rather than a crash later on.
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as schema from './schema';

export type LedgerDb = BetterSQLite3Database<typeof schema>;

export class LedgerOpenError extends Error {
  constructor(
    message: string,
    readonly code: 'corrupt' | 'migration' | 'io',
  ) {
    super(message);
  }
}

export function migrationsFolder(): string {
  // Packaged Electron apps ship the SQL next to the bundle; in development it sits beside this file.
  const candidates = [
    process.env.LOYALTY_MIGRATIONS_DIR,
    join(dirname(fileURLToPath(import.meta.url)), 'migrations'),
    resolve('db/migrations'),
  ].filter((p): p is string => !!p);
  const found = candidates.find((p) => existsSync(join(p, 'meta', '_journal.json')));
  if (!found) throw new LedgerOpenError('Ledger migrations not found (db/migrations).', 'migration');
  return found;
}

export interface OpenOptions {
  path: string;
  /** Keep this many pre-migration backups. */
  keepBackups?: number;
  readonly?: boolean;
  /** Files bigger than this are quick_checked in the background after opening. */
  syncCheckMaxBytes?: number;
}

export function openDatabase(opts: OpenOptions): { sqlite: Database.Database; orm: LedgerDb; integrityDeferred: boolean } {
  const isFile = opts.path !== ':memory:';
  if (isFile) mkdirSync(dirname(resolve(opts.path)), { recursive: true });
  let sqlite: Database.Database;
  try {
    sqlite = new Database(opts.path, { readonly: !!opts.readonly, fileMustExist: !!opts.readonly });
  } catch (e) {
    throw new LedgerOpenError(`Cannot open the ledger at ${opts.path}: ${(e as Error).message}`, 'io');
  }
  try {
    if (!opts.readonly) {
      sqlite.pragma('journal_mode = WAL');
      sqlite.pragma('synchronous = FULL'); // a committed redemption must survive power loss
    }
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    // 32 MiB of page cache (2 MiB by default) keeps the interior pages of the big B-trees (cards,
    // cardholders, their indexes) in memory on a chain-sized ledger: a lookup reads only leaves.
    sqlite.pragma('cache_size = -32768');
    // A small file is checked before anything else; a big one in the background (db/integrity.ts).
    const deferCheck = isFile && statSync(opts.path).size > (opts.syncCheckMaxBytes ?? 64 * 1024 * 1024);
    const check = deferCheck ? 'ok' : sqlite.pragma('quick_check', { simple: true });
    if (check !== 'ok') {
      throw new LedgerOpenError(
        `The ledger at ${opts.path} failed its integrity check (${String(check)}). Restore the latest backup with \`loyalty db restore --db ${opts.path}\`.`,
        'corrupt',
      );
    }
    const orm = drizzle(sqlite, { schema });
    if (!opts.readonly) {
      const folder = migrationsFolder();
      if (isFile && hasPendingMigrations(sqlite, folder) && hasTables(sqlite)) backupBeforeMigration(sqlite, opts.path, opts.keepBackups ?? 5);
      migrate(orm, { migrationsFolder: folder });
    }
    return { sqlite, orm, integrityDeferred: deferCheck };
  } catch (e) {
    sqlite.close();
    if (e instanceof LedgerOpenError) throw e;
    const msg = (e as Error).message;
    if (/database is locked/i.test(msg)) {
      throw new LedgerOpenError(`The ledger at ${opts.path} is in use: a running terminal holds it while it works. Stop the terminal first, or use its admin screen.`, 'io');
    }
    if (/malformed|not a database|corrupt/i.test(msg)) {
      throw new LedgerOpenError(`The ledger at ${opts.path} is damaged (${msg}). Restore the latest backup.`, 'corrupt');
    }
    throw new LedgerOpenError(`Cannot prepare the ledger at ${opts.path}: ${msg}`, 'migration');
  }
}

/**
 * Once its start-up check has passed, the terminal holds its ledger file exclusively (SQLite's
 * exclusive locking mode). Every statement outside a transaction otherwise opens and closes a read
 * transaction with file-lock system calls, which cost a card lookup more than its B-tree search,
 * and no other process can write the ledger behind the till's back. Another process that has the
 * file open (a `loyalty` command, say) leaves it shared as before: nothing waits for it. Returns
 * whether it holds the file.
 */
export function holdExclusively(sqlite: Database.Database): boolean {
  const timeout = sqlite.pragma('busy_timeout', { simple: true }) as number;
  sqlite.pragma('busy_timeout = 0');
  sqlite.pragma('locking_mode = EXCLUSIVE');
  try {
    sqlite.exec('BEGIN IMMEDIATE; COMMIT'); // the lock is taken by the first write transaction
    return true;
  } catch {
    sqlite.pragma('locking_mode = NORMAL');
    return false;
  } finally {
    sqlite.pragma(`busy_timeout = ${timeout}`);
  }
}

function hasTables(sqlite: Database.Database): boolean {
  return !!sqlite.prepare("SELECT 1 FROM sqlite_master WHERE type='table' AND name='settings'").get();
}

/** Whether drizzle will apply a migration: as it decides, one dated (in the journal) after the newest applied. */
function hasPendingMigrations(sqlite: Database.Database, folder: string): boolean {
  const newest = sqlite.prepare("SELECT 1 FROM sqlite_master WHERE type='table' AND name='__drizzle_migrations'").get()
    ? (sqlite.prepare('SELECT max(created_at) FROM __drizzle_migrations').pluck().get() as number | null)
    : null;
  const journal = JSON.parse(readFileSync(join(folder, 'meta', '_journal.json'), 'utf8')) as { entries: { when: number }[] };
  return newest === null || journal.entries.some((e) => e.when > Number(newest));
}

export function backupDir(dbPath: string): string {
  return join(dirname(resolve(dbPath)), 'backups');
}

/** A ledger's backups are named after it (`ledger.db` → `ledger-<time>-<label>.db`), so two ledgers
 *  in one folder never restore, or prune, each other's. */
const backupPrefix = (dbPath: string) => `${basename(dbPath).replace(/\.db$/, '')}-`;
const BACKUP_STAMP = /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z-[a-z-]+\.db$/;

/** A new backup is written under a name no backup list takes (`<name>.db.partial`), and renamed
 *  when whole (`keepBackup`); one that fails is dropped. */
function partialFile(dbPath: string, label: string): string {
  const dir = backupDir(dbPath);
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return join(dir, `${backupPrefix(dbPath)}${stamp}-${label}.db.partial`);
}

function dropPartial(partial: string) {
  for (const f of [partial, `${partial}-wal`, `${partial}-shm`, `${partial}-journal`]) rmSync(f, { force: true });
}

/** The whole backup under its name; the oldest of its kind (scheduled, manual, pre-migration)
 *  beyond `keep` go, and what a backup cut short by a crash left (one backup of a ledger runs at a
 *  time: the terminal holds its file). */
function keepBackup(dbPath: string, partial: string, keep: number): string {
  const file = partial.slice(0, -'.partial'.length);
  renameSync(partial, file);
  const kind = file.slice(file.lastIndexOf('Z-') + 1); // "-scheduled.db"
  for (const old of listBackups(dbPath).filter((f) => f.endsWith(kind)).slice(keep)) rmSync(old, { force: true });
  const dir = backupDir(dbPath);
  const prefix = backupPrefix(dbPath);
  for (const f of readdirSync(dir)) {
    const cutShort = f.startsWith(prefix) && f.slice(prefix.length).match(/^(.*)\.partial(-wal|-shm|-journal)?$/);
    if (cutShort && BACKUP_STAMP.test(cutShort[1]!)) rmSync(join(dir, f), { force: true });
  }
  return file;
}

/** A backup file stands alone, as a rollback-journal database (like VACUUM INTO's); its caller
 *  syncs it to disk (here, that sync would flush the whole file while it holds the event loop). */
function standAlone(file: string) {
  const copy = new Database(file);
  try {
    copy.pragma('synchronous = OFF');
    copy.pragma('journal_mode = DELETE');
  } finally {
    copy.close();
  }
}

/**
 * An online backup while the terminal works (scheduled, or `loyalty db backup`): SQLite's backup
 * API, `pagesPerStep` pages a step and a turn of the event loop between steps, so the till answers
 * meanwhile. On the bench's 4.5 GB ledger on the test VM (`npm run bench:backup`): 10-16 s, a
 * till's call waited 65-77 ms at most (the last step, which commits the copy), where VACUUM INTO
 * held the till 13-30 s. A sale committed meanwhile through this connection is in the backup.
 */
export async function onlineBackup(sqlite: Database.Database, dbPath: string, label: string, keep: number, pagesPerStep = 100): Promise<string> {
  const partial = partialFile(dbPath, label);
  // SQLite syncs the copy when its last step commits, on the event loop: what it has written by
  // then is synced off the event loop as it goes (every 64 steps, 25 MB), or that last step
  // flushed it all (2.6 s on the bench ledger; 100 ms syncing every 256 steps).
  const sync = { steps: 0, running: null as Promise<void> | null };
  try {
    await sqlite.backup(partial, {
      progress: () => {
        if (++sync.steps % 64 === 0 && !sync.running) sync.running = syncToDisk(partial).finally(() => (sync.running = null));
        return pagesPerStep;
      },
    });
    await sync.running;
    standAlone(partial);
    await syncToDisk(partial);
  } catch (e) {
    await sync.running?.catch(() => {});
    dropPartial(partial);
    throw e;
  }
  return keepBackup(dbPath, partial, keep);
}

/** Syncs a file to disk on this thread (start-up, before a migration). */
function syncToDiskNow(file: string) {
  const fd = openSync(file, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Syncs a file to disk in libuv's thread pool, off the event loop. */
async function syncToDisk(file: string) {
  const handle = await open(file, 'r+');
  try {
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

/**
 * Before migrating (start-up, synchronous), the file as it stands, copied whole. VACUUM INTO
 * rebuilds every B-tree: with it, the bench's 4.5 GB ledger took 30 s from open to ready after an
 * upgrade on the test VM; with the copy, 8 s. While it copies, this connection holds the file for
 * itself (no other connection reads or writes it) and has moved the WAL into it, so the copy is the
 * whole ledger. A file another process has open is backed up with VACUUM INTO (a consistent copy
 * even while WAL holds pages not yet moved).
 */
function backupBeforeMigration(sqlite: Database.Database, dbPath: string, keep: number) {
  const held = holdExclusively(sqlite);
  try {
    const [moved] = held ? (sqlite.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number }[]) : [];
    const partial = partialFile(dbPath, 'pre-migration');
    try {
      if (moved?.busy === 0 && moved.log === 0) copyFileSync(dbPath, partial);
      else sqlite.prepare('VACUUM INTO ?').run(partial);
      standAlone(partial);
      syncToDiskNow(partial);
    } catch (e) {
      dropPartial(partial);
      throw e;
    }
    keepBackup(dbPath, partial, keep);
  } finally {
    if (held) {
      // Shared again once a statement has run: the start-up check reads it from another connection.
      sqlite.pragma('locking_mode = NORMAL');
      sqlite.prepare('SELECT 1 FROM sqlite_master LIMIT 1').get();
    }
  }
}

/** This ledger's backups, newest first. */
export function listBackups(dbPath: string): string[] {
  const dir = backupDir(dbPath);
  if (!existsSync(dir)) return [];
  const prefix = backupPrefix(dbPath);
  return readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && BACKUP_STAMP.test(f.slice(prefix.length)))
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
}
