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

const pin = z.string().regex(/^\d{4,8}$/, 'a PIN is 4 to 8 digits');
const reason = z.string().trim().min(3, 'give a reason (at least 3 characters)').max(500);
const id = z.string().min(1).max(64);
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date is dd.mm.yyyy');

/** The questionnaire (§4): only a name or a phone is needed at the till; the rest can come later. */
export const holderInput = z
  .object({
    surname: z.string().trim().max(100).optional(),
    firstName: z.string().trim().max(100).optional(),
    patronymic: z.string().trim().max(100).optional(),
    birthDate: isoDate.optional(),
    sex: z.enum(['male', 'female']).optional(),
    phone: z.string().trim().max(32).optional(),
    phoneHome: z.string().trim().max(32).optional(),
    phoneWork: z.string().trim().max(32).optional(),
    email: z.string().trim().email('not an e-mail address').max(200).optional(),
    address: z.string().trim().max(300).optional(),
    socialCategory: z.enum(['pensioner', 'student', 'disabled', 'large_family', 'military']).optional(),
    weddingDate: isoDate.optional(),
    interests: z.string().trim().max(500).optional(),
    contactChannel: z.enum(['sms', 'email', 'phone', 'none']).optional(),
    clientType: z.enum(['individual', 'corporate']).optional(),
    referrer: z.string().trim().max(100).optional(),
  })
  .strict();
export type HolderInput = z.infer<typeof holderInput>;

/** Every admin action carries the admin's PIN and a reason; both land in the audit log (who, why). */
const adminAction = z.discriminatedUnion('action', [
  z.object({ action: z.literal('block'), cardId: id }),
  z.object({ action: z.literal('unblock'), cardId: id }),
  z.object({ action: z.literal('issue'), cardholderId: id, cardNumber: z.string().regex(/^\d{8,19}$/, 'a card number is 8 to 19 digits') }),
  z.object({ action: z.literal('replace'), cardId: id, cardNumber: z.string().regex(/^\d{8,19}$/, 'a card number is 8 to 19 digits') }),
  z.object({ action: z.literal('merge'), keepId: id, duplicateId: id }),
  z.object({ action: z.literal('adjust'), cardholderId: id, points: z.number().int().min(-1_000_000).max(1_000_000).refine((n) => n !== 0, 'not zero') }),
  z.object({ action: z.literal('anonymize'), cardholderId: id }),
]);

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
  /** `shown`: what the screen showed the customer (the latest price of this very basket); the
   *  payment is refused if the price has changed since, so the customer never pays another price. */
  checkout: saleInput.extend({
    shown: z
      .object({ toPay: z.number().int().min(0), pointsRedeemed: z.number().int().min(0), pointsEarned: z.number().int().min(0), programHash: z.string().max(64) })
      .strict()
      .optional(),
  }),
  session: z.object({}),
  login: z.object({ pin }),
  logout: z.object({}),
  openShift: z.object({}),
  closeShift: z.object({}),
  shiftReport: z.object({ shiftId: id.optional() }),
  /** A receipt by its number (typed or scanned) for a return. */
  findReceipt: z.object({ query: z.string().trim().min(1).max(64) }),
  previewReturn: z.object({ receiptId: id, lines: z.array(z.object({ lineNo: z.number().int().min(1), qty: z.number().int().min(1) })).min(1, 'choose at least one line').max(500) }),
  commitReturn: z.object({ receiptId: id, lines: z.array(z.object({ lineNo: z.number().int().min(1), qty: z.number().int().min(1) })).min(1, 'choose at least one line').max(500) }),
  enroll: z.object({
    holder: holderInput,
    consentPd: z.boolean(),
    consentMarketing: z.boolean().default(false),
    cardNumber: z.string().regex(/^\d{8,19}$/, 'a card number is 8 to 19 digits').optional(),
    /** Bind the unregistered card read last (swiped at the till a moment ago). */
    bindSwipedCard: z.boolean().default(false),
  }),
  searchCardholders: z.object({ query: z.string().trim().min(2, 'type at least 2 characters').max(64) }),
  profile: z.object({ cardholderId: id }),
  admin: z.intersection(adminAction, z.object({ adminPin: pin, reason })),
  /** The customer's answer to "would you recommend us?" after a sale (0–10, optional comment). */
  nps: z.object({ receiptId: id.nullable(), score: z.number().int().min(0).max(10), comment: z.string().trim().max(500).optional() }),
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
  /** The cumulative-discount tier the next purchase gets, if the program has one. */
  tier: { percent: number; ru: string; en: string } | null;
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
  program: {
    id: string;
    version: number;
    hash: string;
    name: string;
    /** Where it came from: HQ (the newest version HQ published), a file given at start-up, or the demo. */
    source: 'hq' | 'file' | 'demo' | null;
    /** Why the newest version HQ published is not in force here, if it is not. */
    refused: string | null;
    /** A version HQ published that comes into force later (this terminal switches then, online or not). */
    next: { id: string; version: number; name: string; activeFrom: string } | null;
  } | null;
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

export interface UserView {
  id: string;
  name: string;
  role: 'cashier' | 'admin';
}

export interface SessionView {
  user: UserView | null;
  shift: { id: string; openedAt: string; cashierId: string } | null;
}

export interface ShiftReportView {
  shiftId: string;
  openedAt: string;
  closedAt: string | null;
  cashiers: { cashierId: string; name: string; receipts: number; returns: number; gross: number; discount: number; toPay: number; pointsEarned: number; pointsRedeemed: number }[];
  totals: { receipts: number; returns: number; gross: number; discount: number; toPay: number; pointsEarned: number; pointsRedeemed: number; enrollments: number };
}

export interface ReceiptView {
  id: string;
  number: string;
  createdAt: string;
  /** Sold on another terminal of the chain (HQ gave it). */
  madeElsewhere: boolean;
  customer: { maskedNumber: string; displayName: string } | null;
  lines: { lineNo: number; name: string; qty: number; returned: number; net: number; unitPrice: number }[];
  totals: { toPay: number; pointsEarned: number; pointsRedeemed: number };
}

export interface ReturnView {
  lines: { lineNo: number; name: string; qty: number; refund: number; discount: number; pointsTakenBack: number; pointsRestored: number }[];
  totals: { gross: number; discount: number; redeemKopecks: number; refund: number; pointsTakenBack: number; pointsRestored: number };
  complete: boolean;
  reasons: Reason[];
}

export interface CardholderSummary {
  cardholderId: string;
  displayName: string;
  status: string;
  cards: { cardId: string; maskedNumber: string; status: string }[];
  balance: number;
}

export interface ProfileView extends CardholderSummary {
  enrollmentNo: string;
  enrolledAt: string;
  /** Questionnaire fields, phone and e-mail masked for the till. */
  holder: Record<string, string>;
  completeness: number;
  consentPd: boolean;
  consentMarketing: boolean;
  receipts: { id: string; number: string; kind: string; createdAt: string; toPay: number; pointsEarned: number; pointsRedeemed: number }[];
  entries: { id: string; kind: string; points: number; reason: string; createdAt: string; expiresAt: string | null }[];
}

export interface ApiOutputs {
  status: TerminalStatus;
  wedgeRead: CustomerView;
  simulateSwipe: { accepted: true };
  identify: CustomerView;
  findProducts: Product[];
  price: PricedView;
  checkout: CheckoutResult;
  session: SessionView;
  login: SessionView;
  logout: SessionView;
  openShift: SessionView;
  closeShift: ShiftReportView;
  shiftReport: ShiftReportView;
  findReceipt: ReceiptView;
  previewReturn: ReturnView;
  commitReturn: { receiptNumber: string; priced: ReturnView; customer: CustomerView | null };
  enroll: CustomerView | ProfileView;
  searchCardholders: CardholderSummary[];
  profile: ProfileView;
  admin: { done: string; profile: ProfileView | null };
  nps: { saved: true };
}

export interface ApiError {
  code: string;
  message: string;
  messageRu: string;
  /** The input field the message is about (shown beside it). */
  field?: string;
}

export type ApiResult<T> = { ok: true; value: T } | { ok: false; error: ApiError };

/** Events the core pushes to every connected screen. */
export type TerminalEvent =
  | { type: 'card'; readerId: string; customer: CustomerView }
  | { type: 'cardError'; readerId: string; message: string; messageRu: string }
  /** A card the ledger does not know was read: the enrollment form can bind it (the core keeps the number). */
  | { type: 'unknownCard'; maskedNumber: string }
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
    const field = issue?.path.join('.') ?? '';
    const where = field ? `${field}: ` : '';
    return {
      ok: false,
      error: { code: 'bad_input', message: `${where}${issue?.message ?? 'invalid input'}`, messageRu: `Неверные данные: ${where}${ruMessage(issue?.message ?? '')}`, ...(field ? { field } : {}) },
    };
  }
  return { ok: true, method, input: parsed.data };
}

const ruMessages: Record<string, string> = {
  'a PIN is 4 to 8 digits': 'PIN — от 4 до 8 цифр',
  'give a reason (at least 3 characters)': 'укажите причину (не короче 3 символов)',
  'a date is dd.mm.yyyy': 'дата в формате дд.мм.гггг',
  'not an e-mail address': 'это не адрес электронной почты',
  'a card number is 8 to 19 digits': 'номер карты — от 8 до 19 цифр',
  'choose at least one line': 'выберите хотя бы одну позицию',
  'type at least 2 characters': 'введите хотя бы 2 символа',
  'The basket is empty': 'корзина пуста',
};
const ruMessage = (m: string) => ruMessages[m] ?? m;
