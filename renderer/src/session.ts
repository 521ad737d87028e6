// Who is at the till and which screen is open. The session itself lives in the core; this mirrors it.
import { create } from 'zustand';
import type { ApiError, SessionView } from '../../protocol/api';
import { api } from './transport';

export type Screen = 'sale' | 'return' | 'enroll' | 'clients' | 'shift';

/** Function keys for the screens (every action has a key). */
export const screenKeys: Record<string, Screen> = { F1: 'sale', F4: 'return', F5: 'enroll', F6: 'clients', F8: 'shift' };

interface SessionState {
  session: SessionView | null;
  screen: Screen;
  /** The unregistered card swiped last, masked (the core keeps the number for binding). */
  swipedCard: string | null;
  error: ApiError | null;
  refresh(): Promise<void>;
  login(pin: string): Promise<boolean>;
  logout(): Promise<void>;
  openShift(): Promise<void>;
  go(screen: Screen): void;
  setSwipedCard(masked: string | null): void;
}

export const useSession = create<SessionState>((set) => ({
  session: null,
  screen: 'sale',
  swipedCard: null,
  error: null,
  async refresh() {
    const r = await api.call('session', {});
    if (r.ok) set({ session: r.value });
  },
  async login(pin) {
    const r = await api.call('login', { pin });
    if (r.ok) set({ session: r.value, error: null, screen: 'sale' });
    else set({ error: r.error });
    return r.ok;
  },
  async logout() {
    const r = await api.call('logout', {});
    if (r.ok) set({ session: r.value, error: null });
  },
  async openShift() {
    const r = await api.call('openShift', {});
    if (r.ok) set({ session: r.value, error: null });
    else set({ error: r.error });
  },
  go(screen) {
    set({ screen, error: null });
  },
  setSwipedCard(swipedCard) {
    set({ swipedCard });
  },
}));
