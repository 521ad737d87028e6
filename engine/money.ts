// Integer money arithmetic. Amounts are kopecks, points are whole points, rates are basis points
// (1% = 100). Every division says how it rounds; nothing here ever produces a fraction.
import type { Bp, Kopecks } from './types';

export type Rounding = 'down' | 'halfUp';

/** a·b/c for non-negative integers, rounded as asked (exact while a·b < 2^53). */
export function mulDiv(a: number, b: number, c: number, rounding: Rounding = 'down'): number {
  if (c <= 0) throw new RangeError('mulDiv: divisor must be positive');
  const n = a * b;
  if (!Number.isSafeInteger(n)) return Number((BigInt(a) * BigInt(b) + (rounding === 'halfUp' ? BigInt(c) / 2n : 0n)) / BigInt(c));
  return rounding === 'halfUp' ? Math.floor((n + Math.floor(c / 2)) / c) : Math.floor(n / c);
}

/** `bp` basis points of `amount`. */
export function percentOf(amount: Kopecks, bp: Bp, rounding: Rounding = 'halfUp'): Kopecks {
  return mulDiv(amount, bp, 10_000, rounding);
}

/** Percent as written in a program (up to two decimals) → basis points. */
export function toBp(percent: number): Bp {
  return Math.round(percent * 100);
}

/**
 * Split `total` over `weights` pro-rata in whole units, largest remainder first (ties to the
 * earlier index), so the parts always add up to `total` exactly. A zero weight gets nothing.
 * When `caps` is given no part exceeds its cap (the surplus moves to lines with room).
 */
export function allocate(total: number, weights: readonly number[], caps?: readonly number[]): number[] {
  const parts = weights.map(() => 0);
  const sumW = weights.reduce((s, w) => s + w, 0);
  if (total <= 0 || sumW <= 0) return parts;
  let given = 0;
  const rema: { i: number; r: number }[] = [];
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i]!;
    if (w <= 0) continue;
    const exact = total * w;
    const q = Number.isSafeInteger(exact) ? Math.floor(exact / sumW) : Number((BigInt(total) * BigInt(w)) / BigInt(sumW));
    const r = Number.isSafeInteger(exact) ? exact - q * sumW : Number((BigInt(total) * BigInt(w)) % BigInt(sumW));
    parts[i] = q;
    given += q;
    rema.push({ i, r });
  }
  rema.sort((a, b) => b.r - a.r || a.i - b.i);
  for (let k = 0; given < total && k < rema.length; k++, given++) parts[rema[k]!.i]! += 1;
  if (caps) {
    let surplus = 0;
    for (let i = 0; i < parts.length; i++) {
      const cap = caps[i] ?? Infinity;
      if (parts[i]! > cap) {
        surplus += parts[i]! - cap;
        parts[i] = cap;
      }
    }
    for (let i = 0; surplus > 0 && i < parts.length; i++) {
      const room = (caps[i] ?? Infinity) - parts[i]!;
      if (weights[i]! <= 0 || room <= 0) continue;
      const take = Math.min(room, surplus);
      parts[i]! += take;
      surplus -= take;
    }
  }
  return parts;
}

/** "12 345,67 ₽" / "12,345.67 RUB" for reasons (the UI formats by locale itself). */
export function formatRub(kopecks: Kopecks, lang: 'ru' | 'en'): string {
  const neg = kopecks < 0;
  const abs = Math.abs(kopecks);
  const rub = Math.floor(abs / 100);
  const kop = String(abs % 100).padStart(2, '0');
  const grouped = String(rub).replace(/\B(?=(\d{3})+(?!\d))/g, lang === 'ru' ? '\u00a0' : ',');
  return `${neg ? '−' : ''}${grouped}${lang === 'ru' ? ',' : '.'}${kop}${lang === 'ru' ? '\u00a0₽' : ' RUB'}`;
}

export function formatPercent(bp: Bp, lang: 'ru' | 'en'): string {
  const whole = Math.floor(bp / 100);
  const frac = bp % 100;
  const text = frac === 0 ? String(whole) : `${whole}${lang === 'ru' ? ',' : '.'}${String(frac).padStart(2, '0').replace(/0$/, '')}`;
  return `${text}%`;
}

/** "1 балл", "3 балла", "11 баллов", "21 балл" — Russian plural of points. */
export function pointsRu(n: number): string {
  const a = Math.abs(n) % 100;
  const b = a % 10;
  const word = a >= 11 && a <= 14 ? 'баллов' : b === 1 ? 'балл' : b >= 2 && b <= 4 ? 'балла' : 'баллов';
  return `${n} ${word}`;
}

export function pointsEn(n: number): string {
  return `${n} point${Math.abs(n) === 1 ? '' : 's'}`;
}
