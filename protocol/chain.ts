// The hash chain both the terminal (writing) and HQ (checking) compute over ledger rows.
// Canonical JSON (sorted keys, no whitespace) so that any two implementations agree byte for byte.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

export const GENESIS_HASH = '0'.repeat(64);

export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      return JSON.stringify(value ?? null);
  }
  if (value === null) return 'null';
  let s: string;
  if (Array.isArray(value)) {
    s = '[';
    for (let i = 0; i < value.length; i++) s += (i ? ',' : '') + canonicalJson(value[i]);
    return `${s}]`;
  }
  const o = value as Record<string, unknown>;
  const { keys, heads } = shapeOf(o);
  s = '{';
  for (let i = 0; i < keys.length; i++) {
    const v = o[keys[i]!];
    if (v === undefined) continue;
    s += (s.length > 1 ? ',' : '') + heads[i]! + canonicalJson(v);
  }
  return `${s}}`;
}

// The terminal chains rows of a few fixed shapes, thousands of times: each shape's sorted keys and
// their quoted `"key":` heads are worked out once (a bounded cache, checked key by key on a hit).
interface Shape {
  own: string[];
  keys: string[];
  heads: string[];
}
const shapes = new Map<string, Shape>();
function shapeOf(o: Record<string, unknown>): Shape {
  const own = Object.keys(o);
  const signature = own.join('\u0001');
  const hit = shapes.get(signature);
  if (hit && hit.own.length === own.length && hit.own.every((k, i) => k === own[i])) return hit;
  const keys = [...own].sort();
  const shape = { own, keys, heads: keys.map((k) => `${JSON.stringify(k)}:`) };
  if (shapes.size < 512) shapes.set(signature, shape);
  return shape;
}

export function sha256Hex(text: string): string {
  return bytesToHex(sha256(utf8ToBytes(text)));
}

/**
 * hash(n) = sha256(hash(n-1) + "\n" + canonical(row without its hash)). Node callers pass
 * node:crypto's SHA-256 (same digest, ten times faster than the portable one).
 */
export function chainHash(prevHash: string, row: Record<string, unknown>, sha: (text: string) => string = sha256Hex): string {
  return sha(`${prevHash}\n${canonicalJson(row)}`);
}

const SHARED_WITH_RECEIPT = new Set(['terminalId', 'cardholderId', 'cardId', 'receiptId', 'createdAt', 'prevHash']);

/**
 * A sale's (or return's) point entries share their terminal, card, cardholder, receipt and time
 * with the receipt, and each one's previous hash is the row before it: the outbox payload leaves
 * those out of each entry (a third of its bytes).
 */
export function compactEntry(entry: Record<string, unknown>): Record<string, unknown> {
  // Built key by key (a copy with keys deleted would be a slow dictionary-mode object).
  const out: Record<string, unknown> = {};
  for (const k in entry) if (!SHARED_WITH_RECEIPT.has(k)) out[k] = entry[k];
  return out;
}

/**
 * The inverse of compactEntry over a sale's or return's payload: each entry as the terminal chained
 * it. Entries already in full (outbox rows written before compaction) stay as they are.
 */
export function withReceiptFields(kind: string, payload: unknown): unknown {
  if (kind !== 'sale' && kind !== 'return') return payload;
  const p = payload as { receipt?: Record<string, unknown>; entries?: unknown } | null;
  if (!p || typeof p !== 'object' || !p.receipt || typeof p.receipt !== 'object' || !Array.isArray(p.entries)) return payload;
  const r = p.receipt;
  let prevHash = r.hash;
  const entries = p.entries.map((e: unknown) => {
    if (!e || typeof e !== 'object') return e;
    const entry = e as Record<string, unknown>;
    const full = 'terminalId' in entry ? entry : { terminalId: r.terminalId, cardholderId: r.cardholderId, cardId: r.cardId, receiptId: r.id, createdAt: r.createdAt, ...entry, prevHash };
    prevHash = entry.hash;
    return full;
  });
  return { ...p, entries };
}
