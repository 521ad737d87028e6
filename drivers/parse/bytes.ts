// Byte helpers for pure code (Uint8Array, never Buffer).
import { fail, ok, type Result } from './result';

const HEX = '0123456789ABCDEF';

export function toHex(bytes: Uint8Array | readonly number[], separator = ''): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = (bytes[i] ?? 0) & 0xff;
    if (i > 0) out += separator;
    out += HEX[b >> 4]! + HEX[b & 15]!;
  }
  return out;
}

/**
 * Hex text → bytes. Accepts `0x` prefixes, spaces, colons, dashes and newlines between bytes
 * (what `usbhid-dump`, a terminal log or a spec table gives), an even number of hex digits.
 */
export function parseHex(text: string, maxBytes = 4096): Result<Uint8Array> {
  const cleaned = text.replace(/0x/gi, '').replace(/[\s:,-]+/g, '');
  if (cleaned.length === 0) return fail('bad_hex', 'no hex digits');
  if (cleaned.length % 2 !== 0) return fail('bad_hex', `odd number of hex digits (${cleaned.length})`);
  if (cleaned.length / 2 > maxBytes) return fail('bad_hex', `more than ${maxBytes} bytes`);
  if (!/^[0-9a-fA-F]+$/.test(cleaned)) return fail('bad_hex', 'non-hex character');
  const out = new Uint8Array(cleaned.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(cleaned.slice(i * 2, i * 2 + 2), 16);
  return ok(out);
}

/** Does the text look like hex bytes at all (for auto-detection)? */
export function looksLikeHex(text: string): boolean {
  const t = text.trim();
  if (!/^(0x)?[0-9a-fA-F]{2}([\s:,-]*(0x)?[0-9a-fA-F]{2})*$/.test(t)) return false;
  return true;
}

/** Bytes → text, one char per byte; bytes outside printable ASCII become U+FFFD so no parser mistakes them. */
export function asciiFromBytes(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let out = '';
  const stop = Math.min(end, bytes.length);
  for (let i = Math.max(0, start); i < stop; i++) {
    const b = bytes[i]!;
    out += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : b === 0x0d || b === 0x0a || b === 0x09 ? String.fromCharCode(b) : '\uFFFD';
  }
  return out;
}

export function asciiToBytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
