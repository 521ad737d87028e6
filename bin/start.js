#!/usr/bin/env node
// `npm start`: the Electron app where the Electron binary is installed; otherwise one line saying
// so, and the same terminal served to a browser on 127.0.0.1 (`npm run start:browser`).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { register } from 'tsx/esm/api';

const args = process.argv.slice(2);
const browserOnly = args.includes('--browser');

function electronBinary() {
  try {
    const path = createRequire(import.meta.url)('electron'); // the binary's path, if downloaded
    return typeof path === 'string' && existsSync(path) ? path : null;
  } catch {
    return null;
  }
}

const electron = browserOnly ? null : electronBinary();
if (electron) {
  const built = spawnSync(process.execPath, ['electron/build.mjs'], { stdio: 'inherit' });
  if (built.status !== 0) process.exit(built.status ?? 1);
  const child = spawn(electron, ['.'], { stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code ?? 0));
} else {
  if (!browserOnly) console.log('Electron binary is not installed here; serving the same terminal to your browser instead.');
  register();
  await import('../host/main.ts');
}
