// The one API between any screen and the terminal core. Typed once here, validated at the
// boundary (every transport calls `parseCall` before the core sees the input), and carried over
// Electron IPC or the browser host's WebSocket unchanged.
import { z } from 'zod';

const money = z.number().int().min(0).max(1_000_000_000_00);

export const basketLineInput = z.object({
  sku: z.string().min(1).max(64),
  name: z.string().min(1).max(200),
  category: z.string().min(1).max(64),
  qty: z.number().int().min(1).max(100_000),
  unitPrice: money,
});

const saleInput = z.object({
  cardId: z.string().max(64).nullable(),
  lines: z.array(basketLineInput).min(1, 'The basket is empty').max(500),
  redeemPoints: z.number().int().min(0).max(1_000_000_000).optional(),
});

export const apiInputs = {
  status: z.object({}),
  /** A reader burst the renderer's keyboard-wedge decoder recognised (never typed into a field). */
  wedgeRead: z.object({ text: z.string().min(1).max(2000) }),
  /** Demo and test path: the simulated reader "swipes" these raw reader bytes as text. */
  simulateSwipe: z.object({ raw: z.string().min(1).max(2000), readerId: z.string().max(64).optional() }),
  /** The cashier typed a card number or a phone number. */
  identify: z.object({ query: z.string().min(1).max(64) }),
  findProducts: z.object({ query: z.string().max(64) }),
  price: saleInput,
  checkout: saleInput,
} as const;

export type ApiMethod = keyof typeof apiInputs;
export type ApiInput<M extends ApiMethod> = z.input<(typeof apiInputs)[M]>;

export interface Reason {
  code: string;
  ru: string;
  en: string;
  kopecks?: number;
  points?: number;
}

export interface ReaderStatus {
  readerId: string;
  kind: string;
  status: 'connected' | 'disconnected' | 'error' | 'connecting';
  reason?: string;
  since: string;
}

export interface SyncStatus {
  online: boolean;
  hqUrl: string | null;
  pendingOperations: number;
  oldestPendingAt: string | null;
  lastSuccessAt: string | null;
  lastError: string | null;
}

/** What a cashier may see of a cardholder: no full card number, no contact details. */
export interface CustomerView {
  cardId: string;
  maskedNumber: string;
  cardStatus: string;
  displayName: string;
  balance: number;
  availablePoints: number;
  pendingPoints: number;
  purchaseCount: number;
  lifetimeSpend: number;
}

export interface PricedLineView {
  sku: string;
  name: string;
  category: string;
  qty: number;
  unitPrice: number;
  gross: number;
  discount: number;
  redeem: number;
  net: number;
  pointsEarned: number;
  reasons: Reason[];
}

export interface PricedView {
  program: { id: string; version: number; hash: string };
  lines: PricedLineView[];
  totals: { gross: number; discount: number; redeemKopecks: number; toPay: number; pointsRedeemed: number; pointsEarned: number };
  maxRedeemPoints: number;
  redeemRefused: Reason | null;
  reasons: Reason[];
}

export interface TerminalStatus {
  terminal: { id: string; code: string; storeId: string };
  program: { id: string; version: number; hash: string; name: string } | null;
  readers: ReaderStatus[];
  sync: SyncStatus;
}

export interface CheckoutResult {
  receiptNumber: string;
  receiptId: string;
  priced: PricedView;
  customer: CustomerView | null;
}

export interface Product {
  sku: string;
  barcode: string;
  name: string;
  category: string;
  unitPrice: number;
}

export interface ApiOutputs {
  status: TerminalStatus;
  wedgeRead: CustomerView;
  simulateSwipe: { accepted: true };
  identify: CustomerView;
  findProducts: Product[];
  price: PricedView;
  checkout: CheckoutResult;
}

export interface ApiError {
  code: string;
  message: string;
  messageRu: string;
}

export type ApiResult<T> = { ok: true; value: T } | { ok: false; error: ApiError };

/** Events the core pushes to every connected screen. */
export type TerminalEvent =
  | { type: 'card'; readerId: string; customer: CustomerView }
  | { type: 'cardError'; readerId: string; message: string; messageRu: string }
  | { type: 'readers'; readers: ReaderStatus[] }
  | { type: 'sync'; sync: SyncStatus };

export interface TerminalApi {
  call<M extends ApiMethod>(method: M, input: ApiInput<M>): Promise<ApiResult<ApiOutputs[M]>>;
  subscribe(listener: (event: TerminalEvent) => void): () => void;
}

export function isApiMethod(name: unknown): name is ApiMethod {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(apiInputs, name);
}

/** Validates an untrusted call; the error names the field and says what is wrong. */
export function parseCall(method: unknown, input: unknown): { ok: true; method: ApiMethod; input: unknown } | { ok: false; error: ApiError } {
  if (!isApiMethod(method)) {
    return { ok: false, error: { code: 'unknown_method', message: `Unknown API method: ${String(method).slice(0, 40)}`, messageRu: 'Неизвестная операция' } };
  }
  const parsed = apiInputs[method].safeParse(input ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    return {
      ok: false,
      error: { code: 'bad_input', message: `${where}${issue?.message ?? 'invalid input'}`, messageRu: `Неверные данные: ${where}${issue?.message ?? ''}` },
    };
  }
  return { ok: true, method, input: parsed.data };
}
