// The browser host as a child process on a free port with a fresh data directory (the e2e tests
// and bench:ui drive it).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface HostProcess {
  url: string;
  dataDir: string;
  child: ChildProcess;
}

export async function startBrowserHost(extraArgs: string[] = [], env: Record<string, string> = {}): Promise<HostProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'loyalty-e2e-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'host/main.ts', '--port', '0', '--data-dir', dataDir, ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`browser host did not start: ${stderr}`)), 30_000);
    child.stdout!.on('data', (d) => {
      out += String(d);
      const m = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('exit', (code) => reject(new Error(`browser host exited (${code}): ${stderr}`)));
  });
  return { url, dataDir, child };
}

export async function stopBrowserHost(host: HostProcess) {
  if (host.child.exitCode === null) {
    const exited = new Promise((r) => host.child.once('exit', r));
    host.child.kill('SIGTERM');
    await exited;
  }
  rmSync(host.dataDir, { recursive: true, force: true });
}

