// Bundles the main process (with the terminal core) and the preload to CommonJS for Electron.
// Native modules stay external: electron-builder unpacks them from asar and rebuilds them.
import { build } from 'esbuild';
import { cpSync } from 'node:fs';

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node22',
  sourcemap: true,
  logLevel: 'warning',
  // The core finds its migrations and resources relative to import.meta.url; give CJS one.
  define: { 'import.meta.url': '__importMetaUrl' },
  banner: { js: 'const __importMetaUrl = require("url").pathToFileURL(__filename).href;' },
};
const external = ['electron', 'better-sqlite3', 'node-hid', 'serialport', '@serialport/*', 'pino', 'thread-stream'];

await build({ ...common, entryPoints: ['electron/main.ts'], outfile: 'dist/electron/main.cjs', external });
await build({ ...common, entryPoints: ['electron/preload.ts'], outfile: 'dist/electron/preload.cjs', external: ['electron'] });
// The ledger's migrations and the demo resources travel with the bundle.
cpSync('db/migrations', 'dist/electron/migrations', { recursive: true });
cpSync('resources', 'dist/resources', { recursive: true });
