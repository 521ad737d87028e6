import { describe, expect, it, vi } from 'vitest';
import { APP_ORIGIN, CALL_CHANNEL, CONTENT_SECURITY_POLICY, EVENT_CHANNEL, isTrustedSender, rendererFileUrl, startShell, windowOptions, type ElectronLike, type IpcEventLike } from './shell';
import type { TerminalApi, TerminalEvent } from '../protocol/api';

/** A stand-in for the `electron` module that records what the shell asks of it. */
function fakeElectron() {
  const appHandlers = new Map<string, (...args: any[]) => void>();
  const ipcHandlers = new Map<string, (event: IpcEventLike, ...args: unknown[]) => unknown>();
  const windows: any[] = [];
  let protocolHandler: ((req: Request) => Promise<Response>) | null = null;
  const permissionRequests: ((wc: unknown, p: string, cb: (ok: boolean) => void) => void)[] = [];
  class BrowserWindow {
    sent: [string, unknown][] = [];
    handlers = new Map<string, (...a: any[]) => void>();
    loaded: string | null = null;
    webContents = {
      id: 42,
      send: (channel: string, payload: unknown) => this.sent.push([channel, payload]),
      on: () => undefined,
      setWindowOpenHandler: () => undefined,
      isDestroyed: () => false,
    };
    constructor(readonly options: any) {
      windows.push(this);
    }
    loadURL(url: string) {
      this.loaded = url;
      return Promise.resolve();
    }
    on(event: string, listener: (...a: any[]) => void) {
      this.handlers.set(event, listener);
    }
  }
  const electron: ElectronLike = {
    app: {
      whenReady: () => Promise.resolve(),
      on: (event, listener) => appHandlers.set(event, listener as (...args: any[]) => void),
      quit: vi.fn(),
      getPath: () => '/tmp/user-data',
      requestSingleInstanceLock: () => true,
    },
    BrowserWindow: BrowserWindow as unknown as ElectronLike['BrowserWindow'],
    ipcMain: { handle: (channel, handler) => ipcHandlers.set(channel, handler) },
    protocol: {
      registerSchemesAsPrivileged: vi.fn(),
      handle: (_scheme, handler) => {
        protocolHandler = handler as (req: Request) => Promise<Response>;
      },
    },
    net: { fetch: async () => new Response('<html></html>', { headers: { 'content-type': 'text/html' } }) },
    session: {
      defaultSession: {
        setPermissionRequestHandler: (h) => permissionRequests.push(h),
        setPermissionCheckHandler: vi.fn(),
      },
    },
  };
  return { electron, appHandlers, ipcHandlers, windows, permissionRequests, protocolHandler: () => protocolHandler };
}

function fakeTerminal() {
  const listeners = new Set<(e: TerminalEvent) => void>();
  const calls: [string, unknown][] = [];
  const api: TerminalApi = {
    call: async (method, input) => {
      calls.push([method, input]);
      return { ok: true, value: { echoed: method } } as never;
    },
    subscribe: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
  return { api, calls, emit: (e: TerminalEvent) => listeners.forEach((l) => l(e)), close: vi.fn(async () => undefined) };
}

const trusted: IpcEventLike = { sender: { id: 42 }, senderFrame: { url: `${APP_ORIGIN}/index.html` } };

describe('electron shell wiring', () => {
  it('opens one window with isolation, sandbox and no Node integration', async () => {
    const f = fakeElectron();
    const t = fakeTerminal();
    await startShell(f.electron, { rendererDir: '/r', preloadPath: '/p/preload.cjs', startTerminal: async () => t });
    expect(f.windows).toHaveLength(1);
    const prefs = f.windows[0].options.webPreferences;
    expect(prefs).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webviewTag: false, preload: '/p/preload.cjs' });
    expect(f.windows[0].loaded).toBe(`${APP_ORIGIN}/index.html`);
    expect(windowOptions('/x').webPreferences.nodeIntegrationInWorker).toBe(false);
  });

  it('routes API calls from our window to the core and refuses any other sender', async () => {
    const f = fakeElectron();
    const t = fakeTerminal();
    await startShell(f.electron, { rendererDir: '/r', preloadPath: '/p', startTerminal: async () => t });
    const handler = f.ipcHandlers.get(CALL_CHANNEL)!;
    expect(await handler(trusted, 'status', {})).toEqual({ ok: true, value: { echoed: 'status' } });
    expect(t.calls).toEqual([['status', {}]]);

    const otherWindow = await handler({ sender: { id: 7 }, senderFrame: trusted.senderFrame }, 'status', {});
    const otherOrigin = await handler({ sender: { id: 42 }, senderFrame: { url: 'https://evil.example/' } }, 'status', {});
    const noFrame = await handler({ sender: { id: 42 }, senderFrame: null }, 'status', {});
    for (const r of [otherWindow, otherOrigin, noFrame]) expect(r).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(t.calls).toHaveLength(1);
  });

  it('forwards core events to the window and denies every permission request', async () => {
    const f = fakeElectron();
    const t = fakeTerminal();
    await startShell(f.electron, { rendererDir: '/r', preloadPath: '/p', startTerminal: async () => t });
    t.emit({ type: 'readers', readers: [] });
    expect(f.windows[0].sent).toEqual([[EVENT_CHANNEL, { type: 'readers', readers: [] }]]);
    const answers: boolean[] = [];
    f.permissionRequests[0]!(null, 'media', (ok) => answers.push(ok));
    expect(answers).toEqual([false]);
  });

  it('serves the renderer with a strict CSP and never outside its folder', async () => {
    const f = fakeElectron();
    await startShell(f.electron, { rendererDir: '/r', preloadPath: '/p', startTerminal: async () => fakeTerminal() });
    const res = await f.protocolHandler()!(new Request(`${APP_ORIGIN}/index.html`));
    expect(res.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(rendererFileUrl('/r', `${APP_ORIGIN}/assets/a.js`)).toBe('file:///r/assets/a.js');
    expect(rendererFileUrl('/r', 'app://other/index.html')).toBeNull();
    expect(rendererFileUrl('/r', `${APP_ORIGIN}/%2e%2e/secret`)).toBe('file:///r/secret'); // URL parsing folds it inside
    expect(rendererFileUrl('/r', `${APP_ORIGIN}/..%2f..%2fetc%2fpasswd`)).toBeNull();
  });

  it('blocks navigation away from the app and new windows', async () => {
    const f = fakeElectron();
    await startShell(f.electron, { rendererDir: '/r', preloadPath: '/p', startTerminal: async () => fakeTerminal() });
    const handlers = new Map<string, (...a: any[]) => void>();
    let openHandler: ((d: { url: string }) => { action: string }) | null = null;
    f.appHandlers.get('web-contents-created')!(null, {
      setWindowOpenHandler: (h: typeof openHandler) => (openHandler = h),
      on: (e: string, l: (...a: any[]) => void) => handlers.set(e, l),
    });
    expect(openHandler!({ url: 'https://x' })).toEqual({ action: 'deny' });
    const prevented: string[] = [];
    handlers.get('will-navigate')!({ preventDefault: () => prevented.push('away') }, 'https://evil.example/');
    handlers.get('will-navigate')!({ preventDefault: () => prevented.push('home') }, `${APP_ORIGIN}/index.html`);
    handlers.get('will-attach-webview')!({ preventDefault: () => prevented.push('webview') });
    expect(prevented).toEqual(['away', 'webview']);
    expect(isTrustedSender(trusted, null)).toBe(false);
  });
});
