// `loyalty` — the terminal core from a shell, printing JSON. Exit codes: 0 done, 1 a check that
// failed (e.g. `db verify`), 2 bad input (one clear line on stderr, nothing written).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Terminal } from '../core/terminal';
import { silentLogger } from '../core/log';
import { Ledger } from '../db/ledger';
import { LedgerOpenError, onlineBackup } from '../db/open';
import { restoreBackup } from '../db/maintenance';
import { createUser, LedgerRuleError } from '../db/admin';
import { runLedgerJobs } from '../db/jobs';
import { seedLedger } from '../db/seed';
import { loadActiveProgram, readProgramFile } from '../core/program';
import { resourcePath } from '../core/resources';
import { describeErrors, priceBasket, validateBasket, validateProgram, type CardState } from '../engine';
import { parseRaw, rawInputFormats, type RawInputFormat } from '../drivers/parse/raw';
import type { HidLayout } from '../drivers/parse/hid';
import { syncCommand } from './sync';

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

const usage = `usage:
  loyalty db init --db PATH [--empty]          create a ledger (with demo cards unless --empty)
  loyalty db verify --db PATH                  integrity, balances = sum of entries, hash chain
  loyalty db backup --db PATH [--keep N]       an online backup into backups/ beside the ledger
  loyalty db restore --db PATH [--from FILE]   put the newest good backup in place (the damaged file is kept)
  loyalty jobs run --db PATH [--now ISO]       expire lots and burn inactive balances (safe to repeat)
  loyalty seed --db PATH --cards N [--active-share 0.2]   a realistic ledger: cardholders, cards, a year of receipts
  loyalty parse-card [--format auto|wedge|track|number|uid|hid|apdu|atr|tlv] [--layout magtek|idtech|hidpos] < raw
  loyalty price --program FILE --basket FILE [--card-state FILE] [--redeem N] [--now ISO]
  loyalty program check FILE
  loyalty checkout --db PATH --pin PIN --card NUMBER --basket FILE [--redeem POINTS]   (opens a shift if none is open)
  loyalty user add --db PATH --name NAME --role cashier|admin --pin PIN
  loyalty sync --db PATH --hq URL [--register CODE] [--once]   upload the outbox, pull HQ's balances`;

type Out = (value: unknown) => void;

export async function runCli(argv: string[], io: { stdin: () => Promise<string>; out: Out }): Promise<number> {
  const [command, sub, ...rest] = argv;
  switch (command) {
    case 'db':
      if (sub === 'init') return dbInit(rest, io.out);
      if (sub === 'verify') return dbVerify(rest, io.out);
      if (sub === 'backup') return dbBackup(rest, io.out);
      if (sub === 'restore') return dbRestore(rest, io.out);
      break;
    case 'jobs':
      if (sub === 'run') return jobsRun(rest, io.out);
      break;
    case 'user':
      if (sub === 'add') return userAdd(rest, io.out);
      break;
    case 'seed':
      return seed([sub, ...rest].filter((a): a is string => a !== undefined), io.out);
      break;
    case 'parse-card':
      return parseCard([sub, ...rest].filter((a): a is string => a !== undefined), io);
    case 'price':
      return price([sub, ...rest].filter((a): a is string => a !== undefined), io.out);
    case 'program':
      if (sub === 'check') return programCheck(rest, io.out);
      break;
    case 'checkout':
      return checkout([sub, ...rest].filter((a): a is string => a !== undefined), io.out);
    case 'sync': {
      const { values } = args([sub, ...rest].filter((a): a is string => a !== undefined), { db: { type: 'string' }, hq: { type: 'string' }, register: { type: 'string' }, once: { type: 'boolean' } });
      return syncCommand({ db: existingDb(required(values.db, '--db')), hq: required(values.hq, '--hq'), register: values.register, once: values.once }, io.out);
    }
    case undefined:
    case 'help':
    case '--help':
      io.out({ usage: usage.split('\n') });
      return 0;
  }
  throw new CliError(`unknown command "${[command, sub].filter(Boolean).join(' ')}"; run \`loyalty help\``);
}

function args<T extends Record<string, { type: 'string' | 'boolean' }>>(argv: string[], options: T, positionals = false) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: positionals, strict: true });
  } catch (e) {
    // One line, all of it: its later lines say how to pass a value that starts with a dash.
    throw new CliError((e as Error).message.replace(/\n/g, ' '));
  }
}

function required(value: string | boolean | undefined, flag: string): string {
  if (typeof value !== 'string' || !value) throw new CliError(`${flag} is required`);
  return value;
}

function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new CliError(`cannot read ${what} file ${path}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CliError(`${what} file ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

function existingDb(path: string): string {
  const full = resolve(path);
  if (!existsSync(full)) throw new CliError(`no ledger at ${path}; create one with \`loyalty db init --db ${path}\``);
  return full;
}

function readBasket(path: string) {
  const checked = validateBasket(readJsonFile(path, 'basket'));
  if (!checked.ok) throw new CliError(`basket ${path}: ${describeErrors(checked.errors)}`);
  return checked.basket;
}

async function dbInit(argv: string[], out: Out) {
  const { values } = args(argv, { db: { type: 'string' }, empty: { type: 'boolean' } });
  const db = resolve(required(values.db, '--db'));
  const terminal = await Terminal.start({ dataDir: dirname(db), dbPath: db, readers: [], demo: !values.empty, logger: silentLogger });
  const status = terminal.status();
  await terminal.close();
  out({ ok: true, db, terminal: status.terminal, program: status.program });
  return 0;
}

async function dbVerify(argv: string[], out: Out) {
  const { values } = args(argv, { db: { type: 'string' } });
  const ledger = new Ledger({ path: existingDb(required(values.db, '--db')) });
  try {
    const report = ledger.verify();
    out(report);
    return report.ok ? 0 : 1;
  } finally {
    ledger.close();
  }
}

async function dbBackup(argv: string[], out: Out) {
  const { values } = args(argv, { db: { type: 'string' }, keep: { type: 'string' } });
  const db = existingDb(required(values.db, '--db'));
  const ledger = new Ledger({ path: db });
  try {
    out({ ok: true, backup: await onlineBackup(ledger.sqlite, db, 'manual', positiveInt(values.keep ?? '14', '--keep')) });
    return 0;
  } finally {
    ledger.close();
  }
}

async function dbRestore(argv: string[], out: Out) {
  const { values } = args(argv, { db: { type: 'string' }, from: { type: 'string' } });
  try {
    const report = restoreBackup(required(values.db, '--db'), values.from);
    out({ ok: true, ...report, next: 'sales committed after this backup are in the damaged file kept aside, and at HQ if they were uploaded' });
    return 0;
  } catch (e) {
    throw new CliError((e as Error).message, 1);
  }
}

async function jobsRun(argv: string[], out: Out) {
  const { values } = args(argv, { db: { type: 'string' }, now: { type: 'string' } });
  const now = values.now ?? new Date().toISOString();
  if (Number.isNaN(Date.parse(now))) throw new CliError(`--now: "${now}" is not an ISO date`);
  const ledger = new Ledger({ path: existingDb(required(values.db, '--db')) });
  try {
    // The jobs follow the program in force at `now`, as the terminal's own would: a version HQ
    // published for a moment that has come by then is put in force first.
    const at = new Date(now).toISOString();
    ledger.activateDueProgram(at);
    const program = loadActiveProgram(ledger, undefined, at);
    out({ ok: true, program: program && { id: program.program.id, version: program.program.version }, ...runLedgerJobs(ledger, program?.program ?? null, at) });
    return 0;
  } finally {
    ledger.close();
  }
}

async function seed(argv: string[], out: Out) {
  const { values } = args(argv, { db: { type: 'string' }, cards: { type: 'string' }, 'active-share': { type: 'string' }, program: { type: 'string' } });
  const db = resolve(required(values.db, '--db'));
  if (existsSync(db)) throw new CliError(`${values.db} already exists; seed makes a new ledger`);
  const cards = positiveInt(required(values.cards, '--cards'), '--cards');
  const activeShare = Number(values['active-share'] ?? '0.2');
  if (!(activeShare >= 0 && activeShare <= 1)) throw new CliError('--active-share must be between 0 and 1');
  const t0 = Date.now();
  const report = seedLedger(db, {
    cards,
    activeShare,
    program: readProgramFile(values.program ?? resourcePath('demo-program.json')),
    onProgress: (n) => process.stderr.write(`\r${n} / ${cards} cards`),
  });
  process.stderr.write('\n');
  out({ ok: true, db, ...report, seconds: Math.round((Date.now() - t0) / 100) / 10 });
  return 0;
}

async function userAdd(argv: string[], out: Out) {
  const { values } = args(argv, { db: { type: 'string' }, name: { type: 'string' }, role: { type: 'string' }, pin: { type: 'string' } });
  const role = required(values.role, '--role');
  if (role !== 'cashier' && role !== 'admin') throw new CliError(`--role must be cashier or admin, not "${role}"`);
  const ledger = new Ledger({ path: existingDb(required(values.db, '--db')) });
  try {
    out({ ok: true, user: createUser(ledger, required(values.name, '--name'), role, required(values.pin, '--pin'), new Date().toISOString()) });
    return 0;
  } catch (e) {
    if (e instanceof LedgerRuleError) throw new CliError(e.message);
    throw e;
  } finally {
    ledger.close();
  }
}

function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`${flag} must be a whole number above 0, not "${text}"`);
  return n;
}

async function parseCard(argv: string[], io: { stdin: () => Promise<string>; out: Out }) {
  const { values } = args(argv, { format: { type: 'string' }, layout: { type: 'string' } });
  const format = (values.format ?? 'auto') as RawInputFormat;
  if (!rawInputFormats.includes(format)) throw new CliError(`--format must be one of ${rawInputFormats.join(', ')}, got "${values.format}"`);
  const layout = values.layout as HidLayout | undefined;
  if (layout !== undefined && !['magtek', 'idtech', 'hidpos'].includes(layout)) throw new CliError(`--layout must be magtek, idtech or hidpos, got "${layout}"`);
  const read = parseRaw((await io.stdin()).replace(/\r?\n$/, ''), format, layout);
  if (!read.ok) throw new CliError(read.error.detail ? `${read.error.message} (${read.error.detail})` : read.error.message);
  io.out(read.value);
  return 0;
}

async function price(argv: string[], out: Out) {
  const { values } = args(argv, {
    program: { type: 'string' },
    basket: { type: 'string' },
    'card-state': { type: 'string' },
    redeem: { type: 'string' },
    now: { type: 'string' },
  });
  const program = validateProgram(readJsonFile(required(values.program, '--program'), 'program'));
  if (!program.ok) throw new CliError(`program: ${describeErrors(program.errors)}`);
  const basket = readBasket(required(values.basket, '--basket'));
  const card = values['card-state'] ? (readJsonFile(values['card-state'], 'card state') as CardState) : null;
  const now = values.now ?? new Date().toISOString();
  if (Number.isNaN(Date.parse(now))) throw new CliError(`--now must be an ISO date-time, got "${now}"`);
  const redeemPoints = values.redeem === undefined ? 0 : Number(values.redeem);
  if (!Number.isInteger(redeemPoints) || redeemPoints < 0) throw new CliError(`--redeem must be a whole number of points, got "${values.redeem}"`);
  out(priceBasket(program.program, program.hash, card, basket, { now, redeemPoints }));
  return 0;
}

async function programCheck(argv: string[], out: Out) {
  const { positionals } = args(argv, {}, true);
  const file = positionals[0];
  if (!file) throw new CliError('usage: loyalty program check FILE');
  const checked = validateProgram(readJsonFile(file, 'program'));
  if (!checked.ok) {
    out({ ok: false, errors: checked.errors });
    return 1;
  }
  out({ ok: true, id: checked.program.id, version: checked.program.version, hash: checked.hash, warnings: checked.warnings });
  return 0;
}

async function checkout(argv: string[], out: Out) {
  const { values } = args(argv, { db: { type: 'string' }, pin: { type: 'string' }, card: { type: 'string' }, basket: { type: 'string' }, redeem: { type: 'string' } });
  const pin = required(values.pin, '--pin');
  const db = existingDb(required(values.db, '--db'));
  const cardNumber = required(values.card, '--card');
  const basket = readBasket(required(values.basket, '--basket'));
  const redeemPoints = values.redeem === undefined ? 0 : Number(values.redeem);
  if (!Number.isInteger(redeemPoints) || redeemPoints < 0) throw new CliError(`--redeem must be a whole number of points, got "${values.redeem}"`);
  const terminal = await Terminal.start({ dataDir: dirname(db), dbPath: db, readers: [], logger: silentLogger });
  try {
    const session = await terminal.api.call('login', { pin });
    if (!session.ok) throw new CliError(session.error.message);
    if (!session.value.shift) {
      const opened = await terminal.api.call('openShift', {});
      if (!opened.ok) throw new CliError(opened.error.message);
    }
    const customer = await terminal.api.call('identify', { query: cardNumber });
    if (!customer.ok) throw new CliError(customer.error.message);
    const sale = await terminal.api.call('checkout', { cardId: customer.value.cardId, lines: basket.lines, redeemPoints });
    if (!sale.ok) throw new CliError(sale.error.message);
    out(sale.value);
    return 0;
  } finally {
    await terminal.close();
  }
}

export function describeError(e: unknown): { message: string; exitCode: number } {
  if (e instanceof CliError) return { message: e.message, exitCode: e.exitCode };
  if (e instanceof LedgerOpenError) return { message: e.message, exitCode: 2 };
  return { message: `internal error: ${(e as Error)?.stack ?? String(e)}`, exitCode: 70 };
}
