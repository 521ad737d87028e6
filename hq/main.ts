// `npm run hq` — the HQ service. Embedded PostgreSQL (PGlite) in .data/hq unless DATABASE_URL.
//   npm run hq -- [serve] [--port 5280] [--host 127.0.0.1] [--data-dir DIR]
//   npm run hq -- code --store STORE        a one-time registration code for a new terminal
//   npm run hq -- seed-demo                 the demo cards, so terminals can provision them
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { openHqDb } from './db';
import { buildServer } from './server';
import { HqService } from './service';
import { seedHqDemo } from './demo';

const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  options: { port: { type: 'string' }, host: { type: 'string' }, 'data-dir': { type: 'string' }, store: { type: 'string' } },
  allowPositionals: true,
});
const command = positionals[0] ?? 'serve';
const db = await openHqDb({ url: process.env.DATABASE_URL, dataDir: values['data-dir'] ?? process.env.HQ_DATA_DIR ?? join(process.cwd(), '.data', 'hq') });
const service = new HqService(db);

if (command === 'code') {
  if (!values.store) throw new Error('--store is required');
  console.log(await service.createRegistrationCode(values.store));
  await db.close();
} else if (command === 'seed-demo') {
  console.log(JSON.stringify(await seedHqDemo(service)));
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
