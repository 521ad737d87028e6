// Electron entry point: hands the real `electron` module to the shell and starts the core in the
// main process with the app's user-data folder as its data directory.
import * as electron from 'electron';
import { join } from 'node:path';
import { startShell, type ElectronLike } from './shell';
import { Terminal } from '../core/terminal';

const here = __dirname; // bundled as CommonJS into dist/electron (see build.mjs)

void startShell(electron as unknown as ElectronLike, {
  rendererDir: join(here, '..', 'renderer'),
  preloadPath: join(here, 'preload.cjs'),
  startTerminal: (userData) =>
    Terminal.start({
      dataDir: join(userData, 'terminal'),
      demo: process.env.LOYALTY_DEMO !== '0',
      hqUrl: process.env.LOYALTY_HQ_URL ?? null,
    }),
});
