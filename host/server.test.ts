import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { startHost, type RunningHost } from './server';
import type { Terminal } from '../core/terminal';
import type { TerminalApi, TerminalEvent } from '../protocol/api';

let host: RunningHost | null = null;
let dir = '';
afterEach(async () => {
  await host?.close();
  host = null;
  rmSync(dir, { recursive: true, force: true });
});

function fakeTerminal() {
  const listeners = new Set<(e: TerminalEvent) => void>();
  const api: TerminalApi = {
    call: async (method, input) => ({ ok: true, value: { method, input } }) as never,
    subscribe: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
  return { terminal: { api } as unknown as Terminal, emit: (e: TerminalEvent) => listeners.forEach((l) => l(e)) };
}

async function start() {
  dir = mkdtempSync(join(tmpdir(), 'host-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<html>till</html>');
  writeFileSync(join(dir, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(tmpdir(), 'outside-secret.txt'), 'secret');
  const fake = fakeTerminal();
  host = await startHost({ terminal: fake.terminal, rendererDir: dir, port: 0 });
  return fake;
}

function connect(origin: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${host!.port}/api`, { origin });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function nextMessage(ws: WebSocket): Promise<any> {
  return new Promise((resolve) => ws.once('message', (d) => resolve(JSON.parse(String(d)))));
}

describe('browser host', () => {
  it('serves the renderer on 127.0.0.1 with a CSP, and nothing outside its folder', async () => {
    await start();
    expect(host!.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const index = await fetch(host!.url);
    expect(await index.text()).toBe('<html>till</html>');
    expect(index.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect((await fetch(`${host!.url}assets/app.js`)).headers.get('content-type')).toMatch(/javascript/);
    const traversal = await fetch(`${host!.url}..%2f..%2foutside-secret.txt`);
    expect(await traversal.text()).not.toContain('secret');
    expect((await fetch(host!.url, { method: 'POST' })).status).toBe(405);
  });

  it('carries API calls and events over the WebSocket for its own origin only', async () => {
    const fake = await start();
    const ws = await connect(`http://127.0.0.1:${host!.port}`);
    const reply = nextMessage(ws);
    ws.send(JSON.stringify({ id: 7, method: 'status', input: {} }));
    expect(await reply).toEqual({ kind: 'result', id: 7, result: { ok: true, value: { method: 'status', input: {} } } });

    const event = nextMessage(ws);
    fake.emit({ type: 'readers', readers: [] });
    expect(await event).toEqual({ kind: 'event', event: { type: 'readers', readers: [] } });

    const bad = nextMessage(ws);
    ws.send('not json');
    expect(await bad).toMatchObject({ kind: 'result', id: null, result: { ok: false, error: { code: 'bad_message' } } });
    ws.close();

    await expect(connect('http://evil.example')).rejects.toThrow(/403/);
  });
});
