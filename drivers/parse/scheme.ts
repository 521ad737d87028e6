// Loyalty card number schemes, bank-card detection and masking.
//
// A chain configures which numbers are its loyalty cards. A number is checked against the schemes
// in order; the first whose prefix and length fit decides whether a check digit applies. Before
// that, anything shaped like a payment card is refused and its number dropped on the spot: the
// caller gets an error that carries no digits at all.
import { gs1Valid, luhnValid } from './luhn';
import { fail, ok, type Result } from './result';

export interface LoyaltyScheme {
  id: string;
  /** Numbers must start with one of these (none = any). A prefix also claims a number that would otherwise look like a bank PAN. */
  prefixes?: string[];
  minLength: number;
  maxLength: number;
  /** `luhn` (ISO 7812), `gs1` (EAN-13 style barcode check digit) or none. */
  check: 'luhn' | 'gs1' | 'none';
}

/**
 * Default schemes: the demo cards (13 digits starting 7789, Luhn) and, as a fallback, any number of
 * 6–19 digits without a check digit (barcodes, RFID numbers, legacy cards).
 */
export const defaultSchemes: readonly LoyaltyScheme[] = [
  { id: 'demo', prefixes: ['7789'], minLength: 13, maxLength: 13, check: 'luhn' },
  { id: 'generic', minLength: 6, maxLength: 19, check: 'none' },
];

/** Issuer ranges of the payment networks (Visa, Mastercard, Mir, Amex, Diners, JCB, Discover, UnionPay, Maestro). */
export function isPaymentIin(pan: string): boolean {
  if (!/^\d{6,}/.test(pan)) return false;
  const d1 = pan[0]!;
  if (d1 === '4' || d1 === '5' || d1 === '6') return true;
  const p2 = Number(pan.slice(0, 2));
  const p3 = Number(pan.slice(0, 3));
  const p4 = Number(pan.slice(0, 4));
  if (d1 === '3') return p2 === 34 || p2 === 37 || p2 === 36 || p2 === 38 || p2 === 39 || (p3 >= 300 && p3 <= 305) || p4 === 3095 || (p4 >= 3528 && p4 <= 3589);
  if (d1 === '2') return (p4 >= 2200 && p4 <= 2204) || (p4 >= 2221 && p4 <= 2720);
  return false;
}

export interface PanContext {
  /** Track 1 format code, when the number came from track 1. */
  formatCode?: string;
  /** Service code, when the track carried one. */
  serviceCode?: string;
  /** The number came off a magnetic track or a chip (not typed or scanned). */
  fromCard?: boolean;
}

/**
 * Does this number (with its track context) look like a payment card?
 * - Track 1 format code `B` + Luhn-valid PAN + a service code: always (ISO 7813 financial card).
 * - A Luhn-valid number in a payment network's issuer range, 13–19 digits off a card (14–19 when
 *   typed or scanned, so an EAN-13 barcode is not mistaken for one), unless a configured loyalty
 *   scheme claims its prefix.
 */
export function looksLikePaymentCard(pan: string, ctx: PanContext = {}, schemes: readonly LoyaltyScheme[] = defaultSchemes): boolean {
  if (!/^\d{12,19}$/.test(pan) || !luhnValid(pan)) return false;
  if (ctx.formatCode === 'B' && ctx.serviceCode !== undefined && /^\d{3}$/.test(ctx.serviceCode)) return true;
  if (pan.length < (ctx.fromCard ? 13 : 14)) return false;
  if (!isPaymentIin(pan)) return false;
  return !schemes.some((s) => s.prefixes?.some((p) => p.length > 0 && pan.startsWith(p)) && pan.length >= s.minLength && pan.length <= s.maxLength);
}

export interface CheckedNumber {
  cardNumber: string;
  scheme: string;
}

/** Validate a card number against the schemes; refuses bank cards without echoing the number. */
export function checkCardNumber(number: string, ctx: PanContext = {}, schemes: readonly LoyaltyScheme[] = defaultSchemes): Result<CheckedNumber> {
  if (number.length === 0) return fail('empty', 'no card number');
  if (!/^\d+$/.test(number)) return fail('bad_number', 'card number has non-digits');
  if (looksLikePaymentCard(number, ctx, schemes)) return fail('bank_card', 'payment card shape');
  // A scheme with prefixes claims them: a number with its prefix but the wrong length is refused,
  // not passed on to a catch-all scheme.
  let claimedByPrefix = false;
  for (const s of schemes) {
    const hasPrefixes = !!s.prefixes && s.prefixes.length > 0;
    if (hasPrefixes ? !s.prefixes!.some((p) => number.startsWith(p)) : claimedByPrefix) continue;
    if (number.length < s.minLength || number.length > s.maxLength) {
      if (hasPrefixes) claimedByPrefix = true;
      continue;
    }
    if (s.check === 'luhn' && !luhnValid(number)) return fail('bad_check_digit', `scheme ${s.id}: Luhn check failed`);
    if (s.check === 'gs1' && !gs1Valid(number)) return fail('bad_check_digit', `scheme ${s.id}: GS1 check failed`);
    return ok({ cardNumber: number, scheme: s.id });
  }
  if (number.length > 19) return fail('too_long', `number of ${number.length} digits`);
  return fail('bad_number', claimedByPrefix ? `length ${number.length} does not fit the scheme of its prefix` : `no scheme for ${number.length} digits`);
}

/** `•••• 1234`: only the last four characters of a card number are ever shown. */
export function maskCardNumber(n: string | null | undefined): string {
  const s = String(n ?? '').replace(/[\s-]/g, '');
  if (s.length <= 4) return '••••';
  return `•••• ${s.slice(-4)}`;
}
