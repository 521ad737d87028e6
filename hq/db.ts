// HQ's database: PostgreSQL through drizzle-orm — embedded PGlite in a data directory by default
// (zero setup), a real server when DATABASE_URL is given. Migrations run at start-up.
import { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { sql, type SQL } from 'drizzle-orm';
import pg from 'pg';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type Row = Record<string, unknown>;

/** The query surface HQ code uses, the same on PGlite and on PostgreSQL. */
export interface Query {
  rows<T = Row>(q: SQL): Promise<T[]>;
}

export interface HqDb extends Query {
  readonly kind: 'pglite' | 'postgres';
  tx<T>(fn: (q: Query) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface HqDbOptions {
  /** postgres://… — a real server; otherwise embedded PGlite in `dataDir`. */
  url?: string;
  dataDir?: string;
  /** A schema of its own (tests on a shared server); created if missing. */
  schema?: string;
}

type Executor = { execute(q: SQL): Promise<unknown> };
const wrap = (e: Executor): Query => ({
  async rows<T>(q: SQL) {
    const r = (await e.execute(q)) as { rows: T[] };
    return r.rows;
  },
});

export async function openHqDb(opts: HqDbOptions): Promise<HqDb> {
  if (opts.url) {
    if (opts.schema) {
      const admin = new pg.Client({ connectionString: opts.url });
      await admin.connect();
      await admin.query(`CREATE SCHEMA IF NOT EXISTS "${opts.schema}"`);
      await admin.end();
    }
    // work_mem: the figures group a year of sales by cardholder in memory instead of spilling to
    // disk. No parallel workers per query: the figures already run their passes side by side, one
    // per connection, and more processes than cores only makes them wait for each other.
    const options = ['-c work_mem=128MB', '-c max_parallel_workers_per_gather=0', ...(opts.schema ? [`-c search_path="${opts.schema}"`] : [])].join(' ');
    const pool = new pg.Pool({ connectionString: opts.url, max: 8, options });
    await migrate((text) => pool.query(text).then(() => undefined), async (q) => (await pool.query(q)).rows as Row[]);
    const db = drizzlePg(pool);
    return {
      kind: 'postgres',
      ...wrap(db as unknown as Executor),
      tx: (fn) => db.transaction((tx) => fn(wrap(tx as unknown as Executor))),
      close: () => pool.end(),
    };
  }
  const dataDir = opts.dataDir ?? join(process.cwd(), '.data', 'hq');
  mkdirSync(dataDir, { recursive: true });
  const client = await PGlite.create(dataDir);
  await migrate((text) => client.exec(text).then(() => undefined), async (q) => (await client.query<Row>(q)).rows);
  const db = drizzlePglite(client);
  return {
    kind: 'pglite',
    ...wrap(db as unknown as Executor),
    tx: (fn) => db.transaction((tx) => fn(wrap(tx as unknown as Executor))),
    close: () => client.close(),
  };
}

/** Forward-only SQL migrations from hq/migrations, each applied once, in name order. */
async function migrate(exec: (text: string) => Promise<void>, query: (text: string) => Promise<Row[]>) {
  await exec('CREATE TABLE IF NOT EXISTS hq_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
  const done = new Set((await query('SELECT name FROM hq_migrations')).map((r) => r.name as string));
  const dir = process.env.LOYALTY_HQ_MIGRATIONS_DIR ?? join(dirname(fileURLToPath(import.meta.url)), 'migrations');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()) {
    if (done.has(file)) continue;
    await exec(`BEGIN;\n${readFileSync(join(dir, file), 'utf8')}\nINSERT INTO hq_migrations (name) VALUES ('${file.replace(/'/g, "''")}');\nCOMMIT;`);
  }
}

export { sql };

/** A column whose value is the same in every row: sent once, not once per row. */
export const same = (value: unknown) => ({ same: value });

/**
 * `SELECT … FROM unnest($1::type[], …)`: many rows in one statement with one array parameter per
 * column; a column given as `same(v)` is one scalar parameter instead (a batch's terminal id, say).
 */
export function unnest<T>(rows: T[], columns: [string, ((row: T) => unknown) | { same: unknown }][]): SQL {
  const arrays: SQL[] = [];
  const select = columns.map(([type, get]) => {
    if (typeof get !== 'function') return sql`${sql.param(get.same)}::${sql.raw(type)}`;
    arrays.push(sql`${sql.param(arrayLiteral(rows.map(get)))}::${sql.raw(type)}[]`);
    return sql.raw(`u.c${arrays.length}`);
  });
  const names = arrays.map((_, i) => `c${i + 1}`).join(', ');
  return sql`SELECT ${sql.join(select, sql`, `)} FROM unnest(${sql.join(arrays, sql`, `)}) AS u(${sql.raw(names)})`;
}

/**
 * The array literal (`{"a","b",NULL,3}`) for a column of primitives, built in one pass: what the
 * driver's own serializer makes, without its per-element dispatch and two regular expressions
 * (thousands of rows per push). Anything but a string, number, boolean or null is refused.
 */
export function arrayLiteral(values: unknown[]): string {
  let s = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i) s += ',';
    if (v === null || v === undefined) s += 'NULL';
    else if (typeof v === 'number' || typeof v === 'boolean') s += String(v);
    else if (typeof v === 'string') s += `"${/["\\]/.test(v) ? v.replace(/["\\]/g, '\\$&') : v}"`;
    else throw new TypeError(`cannot put a ${typeof v} into a PostgreSQL array`);
  }
  return `${s}}`;
}
