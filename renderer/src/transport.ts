// How the renderer reaches the core: Electron's preload exposes `window.loyalty`; in the browser
// host the same calls travel over a WebSocket to 127.0.0.1. Screens only see `TerminalApi`.
import type { ApiError, ApiInput, ApiMethod, ApiOutputs, ApiResult, TerminalApi, TerminalEvent } from '../../protocol/api';
import type { HostReply } from '../../protocol/host';

declare global {
  interface Window {
    loyalty?: TerminalApi;
  }
}

const disconnected: ApiError = { code: 'disconnected', message: 'The terminal core is not reachable', messageRu: 'Нет связи с ядром терминала' };

function websocketApi(url: string): TerminalApi {
  const listeners = new Set<(e: TerminalEvent) => void>();
  const pending = new Map<number, (r: ApiResult<unknown>) => void>();
  let nextId = 1;
  let socket: WebSocket;
  let ready: Promise<void>;

  const connect = () => {
    socket = new WebSocket(url);
    ready = new Promise((resolve) => socket.addEventListener('open', () => resolve(), { once: true }));
    socket.addEventListener('message', (m) => {
      const reply = JSON.parse(String(m.data)) as HostReply;
      if (reply.kind === 'event') listeners.forEach((l) => l(reply.event));
      else if (reply.id !== null) {
        pending.get(reply.id)?.(reply.result);
        pending.delete(reply.id);
      }
    });
    socket.addEventListener('close', () => {
      pending.forEach((resolve) => resolve({ ok: false, error: disconnected }));
      pending.clear();
      setTimeout(connect, 500);
    });
  };
  connect();

  return {
    async call<M extends ApiMethod>(method: M, input: ApiInput<M>) {
      await ready;
      const id = nextId++;
      return new Promise<ApiResult<ApiOutputs[M]>>((resolve) => {
        pending.set(id, resolve as (r: ApiResult<unknown>) => void);
        socket.send(JSON.stringify({ id, method, input }));
      });
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

export const api: TerminalApi = window.loyalty ?? websocketApi(`ws://${location.host}/api`);
