// The terminal ↔ HQ protocol. Every request is signed by the terminal's Ed25519 key over
// method, path, timestamp, nonce and the SHA-256 of the exact body bytes sent; HQ refuses stale
// timestamps and reused nonces, so a request cannot be altered or replayed.
import { z } from 'zod';

export const SIGNATURE_MAX_SKEW_MS = 5 * 60_000;

export function signatureBase(method: string, path: string, timestamp: string, nonce: string, bodySha256Hex: string): string {
  return `loyalty-sync-v1\n${method.toUpperCase()}\n${path}\n${timestamp}\n${nonce}\n${bodySha256Hex}`;
}

export const registerRequest = z.object({
  code: z.string().min(6).max(64),
  terminalId: z.string().min(1).max(64),
  publicKey: z.string().min(40).max(200), // Ed25519 SPKI, base64
});

export const outboxOp = z.object({
  seq: z.number().int().min(1),
  opId: z.string().min(1).max(64),
  kind: z.string().min(1).max(32),
  payload: z.unknown(),
  createdAt: z.string(),
});
export type OutboxOp = z.infer<typeof outboxOp>;

export const pushRequest = z.object({
  ops: z.array(outboxOp).max(10_000),
  /** What the terminal still has waiting, for HQ's sync-health view. */
  pending: z.number().int().min(0).optional(),
  oldestPendingAt: z.string().nullable().optional(),
});

export interface OpResult {
  seq: number;
  status: 'applied' | 'duplicate' | 'rejected' | 'gap';
  reason?: string;
}

export interface PushResponse {
  /** Every op with seq ≤ this is applied (or rejected as a business result) at HQ, exactly once. */
  ackedThrough: number;
  results: OpResult[];
}

/** A point entry made on another terminal, replicated so every terminal sees HQ's balances. */
export interface RemoteEntry {
  hqSeq: number;
  id: string;
  terminalId: string;
  cardholderId: string;
  kind: string;
  points: number;
  lotId: string | null;
  activatesAt: string | null;
  expiresAt: string | null;
  createdAt: string;
  /** Its place in its terminal's hash chain; none for HQ's own entries. */
  chainSeq?: number | null;
}

export interface PulledCard {
  hqSeq: number;
  cardId: string;
  number: string;
  chipUid: string | null;
  status: string;
  cardholderId: string;
  holder: Record<string, unknown>;
  enrolledAt: string;
}

export interface PullResponse {
  cursor: number;
  more: boolean;
  entries: RemoteEntry[];
  cards: PulledCard[];
  /** Sales and returns with a card made on other terminals (none from an HQ that did not send them). */
  purchases?: RemotePurchase[];
  /** Program versions HQ published, in the order published (none from an HQ that did not send them). */
  programs?: PulledProgram[];
}

/** A loyalty program version HQ published: the newest a terminal has pulled is the one it prices with. */
export interface PulledProgram {
  hqSeq: number;
  id: string;
  version: number;
  /** The hash of its validated form: the terminal validates the definition again and must get it. */
  hash: string;
  definition: unknown;
  publishedAt: string;
  /** When it comes into force: terminals that have it switch then, online or not. */
  activeFrom: string;
  /** Withdrawn before its moment: a terminal that holds it drops it, and it never comes into force. */
  withdrawnAt?: string;
}

/** A sale or return with a card made on another terminal: what it adds to the cardholder's history. */
export interface RemotePurchase {
  hqSeq: number;
  cardholderId: string;
  kind: 'sale' | 'return';
  /** Kopecks paid, money and points together (a return's refund counts against it). */
  spend: number;
  createdAt: string;
  /** A return: what it took back of the sale `saleId` (from an HQ that sends it). */
  returnOf?: ReturnElsewhere & { saleId: string };
  /** A sale: its id and what it sold, [item, units] by line number (repeat-purchase discounts;
   *  from an HQ that sends it). */
  sale?: { id: string; lines: Record<string, [sku: string, qty: number]> };
}

/** A return made on another terminal, as far as the sale it reverses is concerned. */
export interface ReturnElsewhere {
  /** The return receipt's id. */
  id: string;
  /** Units of each line of the sale (line number → units). */
  lines: Record<string, number>;
  pointsTakenBack: number;
}

/**
 * A sale made on another terminal, as HQ gives it to a terminal that is to take it back
 * (POST /v1/sale-for-return): its lines as priced there, the lots its points came from and went
 * to, and the returns made of it on terminals other than the asking one.
 */
export interface SaleElsewhere {
  id: string;
  number: string;
  terminalId: string;
  cardId: string | null;
  cardholderId: string;
  createdAt: string;
  program: { id: string; version: number; hash: string };
  lines: { sku: string; name: string; category: string; qty: number; unitPrice: number; gross: number; discount: number; redeem: number; net: number; pointsEarned: number; pointsRedeemed: number }[];
  totals: { toPay: number; pointsEarned: number; pointsRedeemed: number };
  /** The lots the points it was paid with came from, in the order drawn. */
  fromLots: { lotId: string; points: number }[];
  /** The lots it earned (not the welcome bonus), in the order written. */
  earnLots: { lotId: string; points: number }[];
  returns: ReturnElsewhere[];
  /** HQ's feed must have reached this place for the terminal to know the sale's entries. */
  feedThrough: number;
}

/** HQ's allowance policy (HQ configuration). */
export interface AllowancePolicy {
  /** Points reserved per card for one terminal. */
  perCardPoints: number;
  /** All of one terminal's reservations together. */
  perTerminalPoints: number;
  /** How long an allowance is good for, counted by the terminal from when it received it. */
  lifetimeHours: number;
  /** A terminal out of touch with HQ longer than this redeems nothing offline. */
  maxOfflineHours: number;
}

/** Points of a card HQ reserved for one terminal's offline redemptions, signed by HQ. */
export interface SignedAllowance {
  id: string;
  terminalId: string;
  cardholderId: string;
  points: number;
  issuedAt: string;
  expiresAt: string;
  /** Ed25519 over `allowanceSigningText`, base64. */
  signature: string;
}

export function allowanceSigningText(a: Omit<SignedAllowance, 'signature'>): string {
  return `loyalty-allowance-v1\n${a.id}\n${a.terminalId}\n${a.cardholderId}\n${a.points}\n${a.issuedAt}\n${a.expiresAt}`;
}

export const allowancesRequest = z.object({ cardholderIds: z.array(z.string().min(1).max(64)).max(1000) });

export interface AllowancesResponse {
  /** HQ's allowance-signing key (Ed25519 SPKI, base64); the terminal pins it the first time. */
  publicKey: string;
  policy: AllowancePolicy;
  allowances: SignedAllowance[];
}
