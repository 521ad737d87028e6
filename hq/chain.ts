// HQ's check of a terminal's hash chain: every chained row an operation carries (a receipt, point
// entries) must continue the chain HQ has verified so far — the next number, the previous row's
// hash, and a hash that matches the row's content. A gap, an altered row or a replayed one fails.
import { createHash } from 'node:crypto';
import { chainHash } from '../protocol/chain';

export interface ChainHead {
  seq: number;
  hash: string;
}

export type ChainCheck = { ok: true; head: ChainHead } | { ok: false; reason: string; evidence: Record<string, unknown> };

type Row = Record<string, unknown>;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The chained rows of an operation's payload, in the order the terminal wrote them. */
export function chainedRows(kind: string, payload: unknown): Row[] {
  const p = (payload ?? {}) as { receipt?: Row; entries?: Row[] };
  const rows = kind === 'sale' || kind === 'return' ? [p.receipt, ...(p.entries ?? [])] : kind === 'entries' || kind === 'merge' ? (p.entries ?? []) : [];
  return rows.filter((r): r is Row => !!r && typeof r === 'object');
}

/**
 * A receipt's point totals are chained with it, so its entries must add up to them: an entry
 * removed from the end of an operation is caught here, before the next row would show the gap.
 */
export function verifyOperation(head: ChainHead, kind: string, payload: unknown): ChainCheck {
  const rows = chainedRows(kind, payload);
  const chain = verifyChain(head, rows);
  if (!chain.ok || (kind !== 'sale' && kind !== 'return')) return chain;
  const [receipt, ...entries] = rows as [Row, ...Row[]];
  const sum = (f: (points: number, kind: unknown) => number) => entries.reduce((s, e) => s + f(Number(e.points), e.kind), 0);
  const earned = kind === 'sale' ? sum((p, k) => (k === 'earn' || k === 'welcome' ? p : 0)) : sum((p) => (p < 0 ? -p : 0));
  const redeemed = kind === 'sale' ? sum((p, k) => (k === 'redeem' ? -p : 0)) : sum((p) => (p > 0 ? p : 0));
  if (receipt.cardholderId && (earned !== receipt.pointsEarned || redeemed !== receipt.pointsRedeemed)) {
    return {
      ok: false,
      reason: `receipt ${String(receipt.id)} (chain_seq ${String(receipt.chainSeq)}): its point entries do not add up to it — a row is missing or was added`,
      evidence: { id: receipt.id, table: 'receipts', chainSeq: receipt.chainSeq, pointsEarned: receipt.pointsEarned, entriesEarned: earned, pointsRedeemed: receipt.pointsRedeemed, entriesRedeemed: redeemed },
    };
  }
  return chain;
}

export function verifyChain(head: ChainHead, rows: Row[]): ChainCheck {
  let h = head;
  for (const row of rows) {
    const { hash, prevHash, ...content } = row;
    const seq = content.chainSeq;
    const evidence = { id: content.id, table: 'number' in content ? 'receipts' : 'point_entries', chainSeq: seq, expectedChainSeq: h.seq + 1, prevHash, expectedPrevHash: h.hash, hash };
    if (seq !== h.seq + 1) {
      const why = typeof seq === 'number' && seq <= h.seq ? 'replays a row HQ already has' : 'comes after a missing row';
      return { ok: false, reason: `chain broken at ${String(content.id)} (chain_seq ${String(seq)}, expected ${h.seq + 1}): it ${why}`, evidence };
    }
    if (prevHash !== h.hash) return { ok: false, reason: `chain broken at ${String(content.id)} (chain_seq ${seq}): prev_hash does not match the row before it`, evidence };
    const expected = chainHash(String(prevHash), content, sha256);
    if (hash !== expected) return { ok: false, reason: `chain broken at ${String(content.id)} (chain_seq ${seq}): the row was altered after it was written`, evidence: { ...evidence, expectedHash: expected } };
    h = { seq, hash: String(hash) };
  }
  return { ok: true, head: h };
}
