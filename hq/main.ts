// `npm run hq` — the HQ service. Embedded PostgreSQL (PGlite) in .data/hq unless DATABASE_URL
// (and HQ_SCHEMA, a schema of its own there).
//   npm run hq -- [serve] [--port 5280] [--host 127.0.0.1] [--data-dir DIR]
//   npm run hq -- code --store STORE        a one-time registration code for a new terminal
//   npm run hq -- seed-demo                 the demo cards, so terminals can provision them
//   npm run hq -- policy [--per-card N] [--per-terminal N] [--lifetime-hours N] [--max-offline-hours N]
//   npm run hq -- integrity                 quarantined operations and allowance overdrafts
//   npm run hq -- user --name N --password P   a dashboard login
//   npm run hq -- program FILE [--from ISO]  publish a loyalty program version to every terminal (in force from then)
//   npm run hq -- programs                  the published versions, newest (the one in force) first
//   npm run hq -- withdraw-program ID VERSION  withdraw a version whose moment has not come
//   npm run hq -- rfm-segments              write each buyer's RFM segment (last 365 days) for program rules
//   npm run hq:demo                         a year of a 10-store chain for the dashboard (login hq / demo)
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { openHqDb, sql } from './db';
import { buildServer } from './server';
import { HqError, HqService, programVersionOf } from './service';
import { seedHqDemo } from './demo';
import { addDashboardUser } from './dashboard-routes';
import { generateChain } from './chain-data';
import { assignRfmSegments } from './figures';

const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    'data-dir': { type: 'string' },
    store: { type: 'string' },
    'per-card': { type: 'string' },
    'per-terminal': { type: 'string' },
    'lifetime-hours': { type: 'string' },
    'max-offline-hours': { type: 'string' },
    name: { type: 'string' },
    password: { type: 'string' },
    from: { type: 'string' },
  },
  allowPositionals: true,
});
const command = positionals[0] ?? 'serve';
// HQ_SCHEMA: HQ's tables in a schema of their own on a shared server (benchmarks, side-by-side installs).
const db = await openHqDb({ url: process.env.DATABASE_URL, schema: process.env.HQ_SCHEMA, dataDir: values['data-dir'] ?? process.env.HQ_DATA_DIR ?? join(process.cwd(), '.data', 'hq') });
const service = new HqService(db);

if (command === 'code') {
  if (!values.store) throw new Error('--store is required');
  console.log(await service.createRegistrationCode(values.store));
  await db.close();
} else if (command === 'seed-demo') {
  console.log(JSON.stringify(await seedHqDemo(service)));
  await db.close();
} else if (command === 'policy') {
  const given = { perCardPoints: values['per-card'], perTerminalPoints: values['per-terminal'], lifetimeHours: values['lifetime-hours'], maxOfflineHours: values['max-offline-hours'] };
  const changes = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined).map(([k, v]) => [k, Number(v)]));
  console.log(JSON.stringify(Object.keys(changes).length ? await service.allowances.setPolicy(changes) : await service.allowances.policy()));
  await db.close();
} else if (command === 'integrity') {
  console.log(JSON.stringify({ quarantine: await service.integrityReport(), overdrafts: await service.allowances.report(), overReturns: await service.overReturns() }, null, 2));
  await db.close();
} else if (command === 'rfm-segments') {
  const to = new Date();
  console.log(JSON.stringify({ changed: await assignRfmSegments(db, { from: new Date(to.getTime() - 365 * 86_400_000).toISOString(), to: to.toISOString() }) }));
  await db.close();
} else if (command === 'program') {
  await programCommand(async () => {
    const file = positionals[1];
    if (!file) throw new HqError(400, 'usage: npm run hq -- program FILE [--from ISO]');
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new HqError(400, `cannot read the program ${file}: ${(e as Error).message}`);
    }
    return service.publishProgram(json, values.from ? { activeFrom: values.from } : {});
  });
} else if (command === 'withdraw-program') {
  await programCommand(async () => {
    const [id, version] = positionals.slice(1);
    if (!id || !version) throw new HqError(400, 'usage: npm run hq -- withdraw-program ID VERSION');
    return service.withdrawProgram(...programVersionOf({ id, version: Number(version) }));
  });
} else if (command === 'programs') {
  console.log(JSON.stringify((await service.programs()).map(({ definition: _, ...p }) => p), null, 2));
  await db.close();
} else if (command === 'user') {
  await addDashboardUser(service, values.name ?? '', values.password ?? '');
  console.log(`dashboard user ${values.name} saved`);
  await db.close();
} else if (command === 'demo') {
  const [have] = await db.rows<{ n: string }>(sql`SELECT count(*) AS n FROM receipts WHERE id LIKE 'r-%'`);
  if (Number(have!.n) === 0) {
    const now = new Date();
    const from = new Date(Date.UTC(now.getUTCFullYear() - 1, now.getUTCMonth(), 1)).toISOString();
    const changeAt = new Date(Date.UTC(now.getUTCFullYear() - 1, now.getUTCMonth() + 6, 1)).toISOString();
    console.log(JSON.stringify(await generateChain(db, { stores: 10, cardholders: 10_000, receipts: 100_000, from, changeAt })));
    // The program the year was priced by, and the change mid-year (5% → 7% earned), as HQ published them.
    const program = JSON.parse(readFileSync(new URL('../resources/demo-program.json', import.meta.url), 'utf8')) as { earn: object };
    await service.publishProgram(program, { activeFrom: from });
    await service.publishProgram({ ...program, version: 2, earn: { ...program.earn, percent: 7 } }, { activeFrom: changeAt });
  }
  await addDashboardUser(service, 'hq', 'demo');
  console.log('demo chain ready; start HQ with `npm run hq` and log in to the dashboard as hq / demo');
  await db.close();
} else if (command === 'serve') {
  const app = buildServer(service, { logger: { level: process.env.HQ_LOG_LEVEL ?? 'info' }, adminToken: process.env.HQ_ADMIN_TOKEN });
  const port = Number(values.port ?? process.env.HQ_PORT ?? 5280);
  const address = await app.listen({ port, host: values.host ?? '127.0.0.1' });
  console.log(`HQ: ${address}/ (database: ${db.kind})`);
  const stop = async () => {
    await app.close();
    await db.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
} else {
  console.error(`unknown command ${command}`);
  process.exit(2);
}

/** A program command: its answer as one JSON line (without the definition), or HQ's refusal as one line on stderr and exit code 2. */
async function programCommand(run: () => Promise<{ definition: unknown }>) {
  try {
    const { definition: _, ...answer } = await run();
    console.log(JSON.stringify(answer));
  } catch (e) {
    if (!(e instanceof HqError)) throw e;
    console.error(`hq: ${e.message}`);
    process.exitCode = 2;
  } finally {
    await db.close();
  }
}
