// The Electron shell, kept thin: app lifecycle, one locked-down window, and the IPC route to the
// same terminal core the browser host serves. Written against an injected `electron` so the wiring
// is unit-tested without the Electron binary.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ApiMethod, TerminalApi, TerminalEvent } from '../protocol/api';

export const APP_SCHEME = 'app';
export const APP_ORIGIN = `${APP_SCHEME}://renderer`;
export const CALL_CHANNEL = 'loyalty:call';
export const EVENT_CHANNEL = 'loyalty:event';

export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

/** The parts of Electron the shell uses; `electron/main.ts` passes the real module. */
export interface ElectronLike {
  app: {
    whenReady(): Promise<unknown>;
    on(event: string, listener: (...args: never[]) => void): unknown;
    quit(): void;
    getPath(name: 'userData'): string;
    requestSingleInstanceLock(): boolean;
  };
  BrowserWindow: new (options: ReturnType<typeof windowOptions>) => BrowserWindowLike;
  ipcMain: { handle(channel: string, handler: (event: IpcEventLike, ...args: unknown[]) => unknown): void };
  protocol: {
    registerSchemesAsPrivileged(schemes: { scheme: string; privileges: Record<string, boolean> }[]): void;
    handle(scheme: string, handler: (request: Request) => Response | Promise<Response>): void;
  };
  net: { fetch(url: string): Promise<Response> };
  session: { defaultSession: { setPermissionRequestHandler(h: (wc: unknown, permission: string, cb: (ok: boolean) => void) => void): void; setPermissionCheckHandler(h: () => boolean): void } };
}

export interface BrowserWindowLike {
  webContents: {
    id: number;
    send(channel: string, payload: unknown): void;
    on(event: string, listener: (...args: never[]) => void): unknown;
    setWindowOpenHandler(h: (details: { url: string }) => { action: 'deny' | 'allow' }): void;
    isDestroyed(): boolean;
  };
  loadURL(url: string): Promise<void>;
  on(event: string, listener: (...args: never[]) => void): unknown;
}

export interface IpcEventLike {
  sender: { id: number };
  senderFrame: { url: string } | null;
}

export interface ShellOptions {
  rendererDir: string;
  preloadPath: string;
  startTerminal(userDataDir: string): Promise<{ api: TerminalApi; close(): Promise<void> }>;
}

export function windowOptions(preloadPath: string) {
  return {
    width: 1280,
    height: 800,
    show: true,
    backgroundColor: '#f4f6f9',
    webPreferences: {
      preload: preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webviewTag: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      spellcheck: false,
    },
  };
}

/** True for app://renderer/… only. (A custom scheme's URL has origin "null" in WHATWG terms, so
 *  scheme and host are compared rather than `origin`.) */
export function isAppUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === `${APP_SCHEME}:` && u.host === 'renderer';
  } catch {
    return false;
  }
}

/** Only our own window's top frame, showing our own renderer, may call the core. */
export function isTrustedSender(event: IpcEventLike, windowId: number | null): boolean {
  if (windowId === null || event.sender.id !== windowId) return false;
  return isAppUrl(event.senderFrame?.url ?? '');
}

/** Resolves app://renderer/<path> inside the renderer folder, never outside it. */
export function rendererFileUrl(rendererDir: string, requestUrl: string): string | null {
  if (!isAppUrl(requestUrl)) return null;
  const url = new URL(requestUrl);
  const path = decodeURIComponent(url.pathname);
  if (path.split('/').includes('..')) return null;
  return pathToFileURL(join(rendererDir, path === '/' ? 'index.html' : path)).toString();
}

export function startShell(electron: ElectronLike, opts: ShellOptions) {
  const { app, BrowserWindow, ipcMain, protocol, net, session } = electron;
  protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }

  let windowId: number | null = null;
  let terminal: Awaited<ReturnType<ShellOptions['startTerminal']>> | null = null;

  // No web content of ours opens windows, navigates away, embeds webviews or asks for permissions.
  app.on('web-contents-created', (_e: unknown, contents: BrowserWindowLike['webContents']) => {
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
    contents.on('will-navigate', (event: { preventDefault(): void }, url: string) => {
      if (!isAppUrl(url)) event.preventDefault();
    });
    contents.on('will-attach-webview', (event: { preventDefault(): void }) => event.preventDefault());
  });

  ipcMain.handle(CALL_CHANNEL, async (event, method, input) => {
    if (!isTrustedSender(event, windowId)) {
      return { ok: false, error: { code: 'forbidden', message: 'Untrusted sender', messageRu: 'Недоверенный отправитель' } };
    }
    if (!terminal) return { ok: false, error: { code: 'starting', message: 'The terminal is starting', messageRu: 'Терминал запускается' } };
    return terminal.api.call(method as ApiMethod, input as never); // the core validates method and input
  });

  app.on('window-all-closed', () => app.quit());
  app.on('will-quit', () => void terminal?.close());

  return app.whenReady().then(async () => {
    session.defaultSession.setPermissionRequestHandler((_wc, _permission, cb) => cb(false));
    session.defaultSession.setPermissionCheckHandler(() => false);
    protocol.handle(APP_SCHEME, async (request) => {
      const file = rendererFileUrl(opts.rendererDir, request.url);
      if (!file) return new Response('Not found', { status: 404 });
      const response = await net.fetch(file);
      const headers = new Headers(response.headers);
      headers.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
      headers.set('X-Content-Type-Options', 'nosniff');
      return new Response(response.body, { status: response.status, headers });
    });

    terminal = await opts.startTerminal(app.getPath('userData'));
    const win = new BrowserWindow(windowOptions(opts.preloadPath));
    windowId = win.webContents.id;
    const off = terminal.api.subscribe((ev: TerminalEvent) => {
      if (!win.webContents.isDestroyed()) win.webContents.send(EVENT_CHANNEL, ev);
    });
    win.on('closed', () => {
      off();
      windowId = null;
    });
    await win.loadURL(`${APP_ORIGIN}/index.html`);
    return win;
  });
}
