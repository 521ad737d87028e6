// The preload exposes exactly the typed API and nothing else: no ipcRenderer, no Node.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { TerminalApi, TerminalEvent } from '../protocol/api';

const CALL_CHANNEL = 'loyalty:call';
const EVENT_CHANNEL = 'loyalty:event';

const api: TerminalApi = {
  call: (method, input) => ipcRenderer.invoke(CALL_CHANNEL, method, input),
  subscribe(listener) {
    const handler = (_e: IpcRendererEvent, event: TerminalEvent) => listener(event);
    ipcRenderer.on(EVENT_CHANNEL, handler);
    return () => ipcRenderer.removeListener(EVENT_CHANNEL, handler);
  },
};

contextBridge.exposeInMainWorld('loyalty', api);
