// `loyalty` — the terminal core from a shell, printing JSON. Exit codes: 0 done, 1 a check that
// failed (e.g. `db verify`), 2 bad input (one clear line on stderr, nothing written).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Terminal } from '../core/terminal';
import { silentLogger } from '../core/log';
import { Ledger } from '../db/ledger';
import { LedgerOpenError } from '../db/open';
import { priceBasket, validateBasket, validateProgram, type CardState } from '../engine';
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
  loyalty parse-card [--format auto|wedge|track|number|uid|hid|apdu|atr|tlv] [--layout magtek|idtech|hidpos] < raw
  loyalty price --program FILE --basket FILE [--card-state FILE] [--redeem N] [--now ISO]
  loyalty program check FILE
  loyalty checkout --db PATH --card NUMBER --basket FILE [--redeem POINTS]
  loyalty sync --db PATH --hq URL [--register CODE] [--once]   upload the outbox, pull HQ's balances`;

type Out = (value: unknown) => void;

export async function runCli(argv: string[], io: { stdin: () => Promise<string>; out: Out }): Promise<number> {
  const [command, sub, ...rest] = argv;
  switch (command) {
    case 'db':
      if (sub === 'init') return dbInit(rest, io.out);
      if (sub === 'verify') return dbVerify(rest, io.out);
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
    throw new CliError((e as Error).message.split('\n')[0]!);
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
  if (!checked.ok) throw new CliError(`basket ${path}: ${checked.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
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
  if (!program.ok) throw new CliError(`program: ${program.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
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
  const { values } = args(argv, { db: { type: 'string' }, card: { type: 'string' }, basket: { type: 'string' }, redeem: { type: 'string' } });
  const db = existingDb(required(values.db, '--db'));
  const cardNumber = required(values.card, '--card');
  const basket = readBasket(required(values.basket, '--basket'));
  const redeemPoints = values.redeem === undefined ? 0 : Number(values.redeem);
  if (!Number.isInteger(redeemPoints) || redeemPoints < 0) throw new CliError(`--redeem must be a whole number of points, got "${values.redeem}"`);
  const terminal = await Terminal.start({ dataDir: dirname(db), dbPath: db, readers: [], logger: silentLogger });
  try {
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
