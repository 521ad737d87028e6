// Checkout state: the basket and card live here; every price comes from the core, never from the UI.
import { create } from 'zustand';
import type { ApiError, CheckoutResult, CustomerView, PricedView, Product, TerminalStatus } from '../../protocol/api';
import { api } from './transport';

export interface BasketLine {
  sku: string;
  name: string;
  category: string;
  qty: number;
  unitPrice: number;
}

interface CheckoutState {
  status: TerminalStatus | null;
  lines: BasketLine[];
  customer: CustomerView | null;
  priced: PricedView | null;
  redeemPoints: number;
  receipt: CheckoutResult | null;
  error: ApiError | null;
  busy: boolean;
  addProduct(p: Product, qty?: number): Promise<void>;
  removeLine(index: number): Promise<void>;
  setCustomer(c: CustomerView | null): Promise<void>;
  setRedeem(points: number): Promise<void>;
  identify(query: string): Promise<void>;
  checkout(): Promise<void>;
  newSale(): void;
  refreshStatus(): Promise<void>;
  showError(e: ApiError | null): void;
}

export const useCheckout = create<CheckoutState>((set, get) => {
  // Prices can come back out of order when items are scanned fast; only the latest request's
  // answer is shown, so the basket on screen is always priced as it stands.
  let latest = 0;
  let shownFor = 0; // the request whose price is on screen
  const reprice = async () => {
    const { lines, customer, redeemPoints } = get();
    const mine = ++latest;
    if (!lines.length) {
      set({ priced: null });
      return;
    }
    const r = await api.call('price', { cardId: customer?.cardId ?? null, lines, redeemPoints });
    if (mine !== latest) return;
    if (r.ok) {
      shownFor = mine;
      set({ priced: r.value, error: null });
    } else set({ error: r.error });
  };
  /** What the customer was shown for the basket as it stands (none while its price is on its way). */
  const shown = () => {
    const { priced } = get();
    if (!priced || shownFor !== latest) return {};
    const { toPay, pointsRedeemed, pointsEarned } = priced.totals;
    return { shown: { toPay, pointsRedeemed, pointsEarned, programHash: priced.program.hash } };
  };

  return {
    status: null,
    lines: [],
    customer: null,
    priced: null,
    redeemPoints: 0,
    receipt: null,
    error: null,
    busy: false,
    async addProduct(p, qty = 1) {
      const lines = [...get().lines];
      const same = lines.findIndex((l) => l.sku === p.sku);
      if (same >= 0) lines[same] = { ...lines[same]!, qty: lines[same]!.qty + qty };
      else lines.push({ sku: p.sku, name: p.name, category: p.category, qty, unitPrice: p.unitPrice });
      set({ lines, receipt: null });
      await reprice();
    },
    async removeLine(index) {
      set({ lines: get().lines.filter((_, i) => i !== index) });
      await reprice();
    },
    async setCustomer(customer) {
      set({ customer, redeemPoints: 0, receipt: get().lines.length ? null : get().receipt });
      await reprice();
    },
    async setRedeem(points) {
      set({ redeemPoints: Math.max(0, Math.trunc(points) || 0) });
      await reprice();
    },
    async identify(query) {
      const r = await api.call('identify', { query });
      if (r.ok) await get().setCustomer(r.value);
      else set({ error: r.error });
    },
    async checkout() {
      const { lines, customer, redeemPoints, busy } = get();
      if (busy || !lines.length) return;
      set({ busy: true });
      const r = await api.call('checkout', { cardId: customer?.cardId ?? null, lines, redeemPoints, ...shown() });
      if (r.ok) set({ receipt: r.value, lines: [], priced: null, customer: r.value.customer, redeemPoints: 0, error: null, busy: false });
      else {
        if (r.error.code === 'price_changed') await reprice(); // the new price on screen, for the cashier to confirm
        set({ error: r.error, busy: false });
      }
      void get().refreshStatus();
    },
    newSale() {
      set({ lines: [], customer: null, priced: null, redeemPoints: 0, receipt: null, error: null });
    },
    async refreshStatus() {
      const r = await api.call('status', {});
      if (r.ok) set({ status: r.value });
    },
    showError(error) {
      set({ error });
    },
  };
});
