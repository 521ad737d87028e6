// The hash chain both the terminal (writing) and HQ (checking) compute over ledger rows.
// Canonical JSON (sorted keys, no whitespace) so that any two implementations agree byte for byte.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

export const GENESIS_HASH = '0'.repeat(64);

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
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
