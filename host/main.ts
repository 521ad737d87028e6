// `npm run start:browser`: the terminal core plus the browser host on 127.0.0.1.
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { Terminal } from '../core/terminal';
import { defaultDataDir } from '../core/config';
import { startHost } from './server';
import { loadReadersFile } from '../drivers/config';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.LOYALTY_PORT ?? '5180' },
    'data-dir': { type: 'string', default: defaultDataDir() },
    program: { type: 'string' },
    browser: { type: 'boolean', default: false },
    hq: { type: 'string', default: process.env.LOYALTY_HQ_URL },
    'hq-code': { type: 'string', default: process.env.LOYALTY_HQ_CODE },
    readers: { type: 'string', default: process.env.LOYALTY_READERS },
  },
  strict: false,
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be a port number, got "${String(values.port)}"`);
  process.exit(2);
}

let readers;
try {
  readers = typeof values.readers === 'string' && values.readers ? loadReadersFile(values.readers) : undefined;
} catch (e) {
  console.error((e as Error).message);
  process.exit(2);
}

const terminal = await Terminal.start({
  readers,
  dataDir: resolve(String(values['data-dir'])),
  programFile: typeof values.program === 'string' ? values.program : undefined,
  demo: true,
  hqUrl: typeof values.hq === 'string' && values.hq ? values.hq : null,
  hqCode: typeof values['hq-code'] === 'string' ? values['hq-code'] : undefined,
});
const host = await startHost({ terminal, rendererDir: resolve('dist/renderer'), port });
console.log(`Loyalty terminal: ${host.url}  (data: ${resolve(String(values['data-dir']))})`);

const stop = async () => {
  await host.close();
  await terminal.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
