// The terminal's offline-redemption allowances: kept when HQ grants them (after checking HQ's
// signature against the key pinned the first time), and consulted while HQ is unreachable. An
// allowance's life is counted on this terminal from when it arrived, so a terminal whose clock is
// wrong cannot stretch it.
import { createPublicKey, verify } from 'node:crypto';
import type { Ledger } from '../db/ledger';
import type { SyncStore } from './store';
import { allowanceSigningText, type AllowancePolicy, type AllowancesResponse, type SignedAllowance } from '../protocol/sync';

export interface OfflineRedemption {
  /** Points this card may still pay with here (0 when none). */
  cap: number;
  /** Why it is 0, for the cashier. */
  reason: { ru: string; en: string } | null;
  allowance: { id: string; signed: SignedAllowance; ageMs: number } | null;
}

export class AllowanceStore {
  constructor(
    private readonly ledger: Ledger,
    /** Sync state (HQ's pinned key, the policy) lives where the rest of it does. */
    private readonly state: SyncStore,
  ) {}

  policy(): AllowancePolicy | null {
    const p = this.state.get('allowance_policy');
    return p ? (JSON.parse(p) as AllowancePolicy) : null;
  }

  /** Keeps what HQ granted; an allowance that HQ's pinned key did not sign is dropped. Returns how many were kept. */
  accept(response: AllowancesResponse, now: string): number {
    const pinned = this.state.get('hq_allowance_key');
    if (pinned && pinned !== response.publicKey) throw new Error('HQ presented a different allowance key than the one pinned at first contact');
    const key = createPublicKey({ key: Buffer.from(response.publicKey, 'base64'), format: 'der', type: 'spki' });
    let kept = 0;
    this.ledger.sqlite.transaction(() => {
      if (!pinned) this.state.put('hq_allowance_key', response.publicKey);
      this.state.put('allowance_policy', JSON.stringify(response.policy));
      for (const a of response.allowances) {
        if (a.terminalId !== this.ledger.terminalId || !verify(null, Buffer.from(allowanceSigningText(a)), key, Buffer.from(a.signature, 'base64'))) continue;
        // The newest allowance for a card replaces the older ones (HQ settled those).
        this.ledger.sqlite.prepare('DELETE FROM allowances WHERE cardholder_id = ?').run(a.cardholderId);
        this.ledger.sqlite
          .prepare('INSERT INTO allowances (id, cardholder_id, points, used, lifetime_ms, received_at, signed) VALUES (?, ?, ?, 0, ?, ?, ?)')
          .run(a.id, a.cardholderId, a.points, Date.parse(a.expiresAt) - Date.parse(a.issuedAt), now, JSON.stringify(a));
        kept++;
      }
    }).immediate();
    return kept;
  }

  /**
   * What a card may pay with offline: nothing once the terminal has been out of touch longer than
   * HQ's policy allows, else what is left of its allowance while the allowance lasts.
   */
  offlineRedemption(cardholderId: string, now: string, lastSuccessAt: string | null): OfflineRedemption {
    const none = (ru: string, en: string): OfflineRedemption => ({ cap: 0, reason: { ru, en }, allowance: null });
    const policy = this.policy();
    const t = Date.parse(now);
    if (!policy || !lastSuccessAt) return none('Нет связи с HQ и нет разрешения на оплату баллами без связи', 'HQ is unreachable and this terminal holds no offline allowance');
    if (t - Date.parse(lastSuccessAt) > policy.maxOfflineHours * 3600_000) {
      return none(`Нет связи с HQ дольше ${policy.maxOfflineHours} ч: оплата баллами недоступна`, `Out of touch with HQ for over ${policy.maxOfflineHours} h: no paying with points`);
    }
    const row = this.ledger.sqlite.prepare('SELECT * FROM allowances WHERE cardholder_id = ? ORDER BY received_at DESC LIMIT 1').get(cardholderId) as
      | { id: string; points: number; used: number; lifetime_ms: number; received_at: string; signed: string }
      | undefined;
    if (!row) return none('Нет связи с HQ: для этой карты нет разрешения на оплату баллами без связи', 'HQ is unreachable: no offline allowance for this card');
    const ageMs = Math.max(0, t - Date.parse(row.received_at));
    if (ageMs > row.lifetime_ms) return none('Нет связи с HQ: разрешение на оплату баллами без связи истекло', 'HQ is unreachable: the offline allowance for this card has expired');
    const cap = Math.max(0, row.points - row.used);
    return {
      cap,
      reason: cap > 0 ? null : { ru: 'Нет связи с HQ: разрешение на оплату баллами без связи исчерпано', en: 'HQ is unreachable: the offline allowance for this card is used up' },
      allowance: { id: row.id, signed: JSON.parse(row.signed) as SignedAllowance, ageMs },
    };
  }

  /** Cards worth an allowance here: those bought with at this terminal lately, and those asked for. */
  wanted(extra: Iterable<string>, now: string, days = 30): string[] {
    const since = new Date(Date.parse(now) - days * 86_400_000).toISOString();
    // The newest receipts by rowid (their written order): a bounded read, not a scan of a year's
    // receipts by an unindexed date at every round.
    const recent = (this.ledger.sqlite.prepare('SELECT cardholder_id, created_at FROM receipts ORDER BY rowid DESC LIMIT 5000').all() as { cardholder_id: string | null; created_at: string }[])
      .filter((r) => r.cardholder_id !== null && r.created_at >= since)
      .map((r) => r.cardholder_id!);
    return [...new Set([...extra, ...recent])].slice(0, 1000);
  }
}
