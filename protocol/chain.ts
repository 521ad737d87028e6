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
