// An HQ for tests and benchmarks: embedded PGlite in a temporary folder, or — when DATABASE_URL
// is set — the real PostgreSQL in a schema of its own (dropped at the end).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openHqDb, type HqDb } from './db';
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
