// The browser host: the same terminal core in plain Node, serving the built renderer on 127.0.0.1
// and carrying the typed API over a local WebSocket. Only pages served by this host may connect
// (the Origin check stops any other site in the browser from driving the till).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Terminal } from '../core/terminal';
import type { ApiMethod } from '../protocol/api';
import { hostMessage, type HostReply } from '../protocol/host';

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

// The same strict policy the Electron shell sets: nothing but our own scripts and our own socket.
const csp = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws://127.0.0.1:* ws://localhost:*; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

export interface HostOptions {
  terminal: Terminal;
  rendererDir: string;
  port?: number;
  host?: '127.0.0.1';
}

export interface RunningHost {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startHost(opts: HostOptions): Promise<RunningHost> {
  const root = resolve(opts.rendererDir);
  const server = createServer((req, res) => {
    serveStatic(root, req, res).catch(() => {
      res.writeHead(500).end();
    });
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
  server.on('upgrade', (req, socket, head) => {
    const origin = req.headers.origin;
    const port = (server.address() as { port: number }).port;
    const allowed = origin === `http://127.0.0.1:${port}` || origin === `http://localhost:${port}`;
    if (req.url !== '/api' || !allowed) {
      socket.write('HTTP/1.1 403 Forbidden\r\n\r\n');
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => serveApi(ws, opts.terminal));
  });
  await listen(server, opts.port ?? 0);
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolvePromise());
  });
}

function serveApi(ws: WebSocket, terminal: Terminal) {
  const send = (reply: HostReply) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(reply));
  };
  const unsubscribe = terminal.api.subscribe((event) => send({ kind: 'event', event }));
  ws.on('close', unsubscribe);
  ws.on('message', async (data) => {
    const msg = hostMessage(String(data));
    if (!msg.ok) return send({ kind: 'result', id: null, result: { ok: false, error: msg.error } });
    // The core validates method and input itself, whatever transport brought them.
    const result = await terminal.api.call(msg.value.method as ApiMethod, msg.value.input as never);
    send({ kind: 'result', id: msg.value.id, result });
  });
}

async function serveStatic(root: string, req: IncomingMessage, res: ServerResponse) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405).end();
    return;
  }
  const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  let file = normalize(join(root, pathname === '/' ? 'index.html' : pathname));
  if (!file.startsWith(root + sep) && file !== root) {
    res.writeHead(403).end();
    return;
  }
  const info = await stat(file).catch(() => null);
  if (!info?.isFile()) file = join(root, 'index.html'); // single-page app
  const body = await readFile(file).catch(() => null);
  if (!body) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('The renderer is not built: run `npm run build:renderer`.');
    return;
  }
  res.writeHead(200, {
    'content-type': contentTypes[extname(file)] ?? 'application/octet-stream',
    'content-security-policy': csp,
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
