// An HQ for tests and benchmarks: embedded PGlite in a temporary folder, or — when DATABASE_URL
// is set — the real PostgreSQL in a schema of its own (dropped at the end).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openHqDb, sql, type HqDb } from './db';
import { buildServer } from './server';
import { HqService } from './service';

export interface TestHq {
  url: string;
  port: number;
  service: HqService;
  db: HqDb;
  /** The PostgreSQL schema HQ's tables are in (with DATABASE_URL). */
  schema: string;
  /** Stops the server and closes the database (HQ "crashes"); `start` brings it back on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startTestHq(port = 0): Promise<TestHq> {
  const url = process.env.DATABASE_URL;
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const dataDir = url ? '' : mkdtempSync(join(tmpdir(), 'hq-'));
  let app: ReturnType<typeof buildServer> | null = null;
  const hq = { schema } as TestHq;
  hq.start = async () => {
    hq.db = await openHqDb(url ? { url, schema } : { dataDir });
    hq.service = new HqService(hq.db);
    app = buildServer(hq.service);
    await app.listen({ port: hq.port ?? port, host: '127.0.0.1' });
    const addr = app.server.address();
    hq.port = typeof addr === 'object' && addr ? addr.port : port;
    hq.url = `http://127.0.0.1:${hq.port}/`;
  };
  hq.stop = async () => {
    await app?.close();
    app = null;
    await hq.db.close();
  };
  hq.destroy = async () => {
    if (app) await hq.stop();
    if (url) {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    } else rmSync(dataDir, { recursive: true, force: true });
  };
  await hq.start();
  return hq;
}

/** For every person HQ knows to have had a welcome bonus (the cardholder kept after merges): how
 *  many welcome lots terminals gave, and how many points of them HQ has taken back. */
export async function welcomesPerPerson(db: HqDb): Promise<Map<string, { given: number; taken: number }>> {
  const rows = await db.rows<{ person: string; given: string; taken: string }>(
    sql`SELECT coalesce(h.merged_into, e.cardholder_id) AS person,
               count(*) FILTER (WHERE e.kind = 'welcome') AS given,
               coalesce(-sum(e.points) FILTER (WHERE e.terminal_id = 'hq' AND e.kind = 'reverse'), 0) AS taken
        FROM point_entries e LEFT JOIN cardholders h ON h.cardholder_id = e.cardholder_id
        GROUP BY 1 HAVING count(*) FILTER (WHERE e.kind = 'welcome') > 0`,
  );
  return new Map(rows.map((r) => [r.person, { given: Number(r.given), taken: Number(r.taken) }]));
}
