// Offline redemption allowances. HQ reserves part of a card's balance for one terminal, signs the
// reservation with its own Ed25519 key, and never lets the reservations of a card add up to more
// than the card's balance (nor a terminal's to more than its total). A terminal that loses HQ may
// redeem a card's points only within its allowance, so however many terminals redeem the same
// card offline at once, the card cannot be overdrawn.
import { generateKeyPairSync, createPrivateKey, sign, verify, createPublicKey } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { allowanceSigningText, type AllowancePolicy, type SignedAllowance } from '../protocol/sync';
import { sql, type HqDb, type Query } from './db';

export const defaultPolicy: AllowancePolicy = { perCardPoints: 500, perTerminalPoints: 100_000, lifetimeHours: 24, maxOfflineHours: 12 };

export class Allowances {
  private keys: { privateKey: string; publicKey: string } | null = null;

  constructor(
    private readonly db: HqDb,
    private readonly clock: () => Date,
  ) {}

  private async setting(q: Query, key: string): Promise<string | null> {
    const [row] = await q.rows<{ value: string }>(sql`SELECT value FROM hq_settings WHERE key = ${key}`);
    return row?.value ?? null;
  }

  async policy(q: Query = this.db): Promise<AllowancePolicy> {
    const stored = await this.setting(q, 'allowance_policy');
    return stored ? { ...defaultPolicy, ...(JSON.parse(stored) as Partial<AllowancePolicy>) } : defaultPolicy;
  }

  async setPolicy(policy: Partial<AllowancePolicy>) {
    for (const [k, v] of Object.entries(policy)) if (!Number.isInteger(v) || (v as number) < 0) throw new Error(`allowance policy ${k} must be a whole number ≥ 0`);
    const merged = { ...(await this.policy()), ...policy };
    await this.db.rows(sql`INSERT INTO hq_settings (key, value) VALUES ('allowance_policy', ${JSON.stringify(merged)}) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`);
    return merged;
  }

  /** HQ's signing key, made once and kept in the database (base64 DER). */
  async signingKeys(q: Query = this.db): Promise<{ privateKey: string; publicKey: string }> {
    if (this.keys) return this.keys;
    const fresh = generateKeyPairSync('ed25519');
    const candidate = {
      privateKey: fresh.privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
      publicKey: fresh.publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
    };
    await q.rows(sql`INSERT INTO hq_settings (key, value) VALUES ('allowance_key', ${JSON.stringify(candidate)}) ON CONFLICT (key) DO NOTHING`);
    this.keys = JSON.parse((await this.setting(q, 'allowance_key'))!) as { privateKey: string; publicKey: string };
    return this.keys;
  }

  /** Checks an allowance a terminal presents: HQ's signature, this terminal, this card. */
  async check(q: Query, a: SignedAllowance, terminalId: string, cardholderId: string): Promise<string | null> {
    const { publicKey } = await this.signingKeys(q);
    const key = createPublicKey({ key: Buffer.from(publicKey, 'base64'), format: 'der', type: 'spki' });
    let good = false;
    try {
      good = verify(null, Buffer.from(allowanceSigningText(a)), key, Buffer.from(a.signature, 'base64'));
    } catch {
      good = false;
    }
    if (!good) return `allowance ${a.id} is forged (HQ's signature does not match)`;
    if (a.terminalId !== terminalId) return `allowance ${a.id} belongs to another terminal`;
    if (a.cardholderId !== cardholderId) return `allowance ${a.id} belongs to another card`;
    return null;
  }

  /**
   * Grants (or keeps) one allowance per card for the terminal, inside HQ's feed lock: a card's
   * reservations never exceed its balance, the terminal's never exceed its total.
   */
  async grant(q: Query, terminalId: string, cardholderIds: string[]): Promise<SignedAllowance[]> {
    const policy = await this.policy(q);
    const now = this.clock();
    const nowIso = now.toISOString();
    const ids = [...new Set(cardholderIds)].slice(0, 1000);
    if (!ids.length || policy.perCardPoints === 0) return [];
    // A reservation stops holding points when it expires: no terminal may redeem under it after.
    await q.rows(sql`UPDATE allowances SET settled_at = ${nowIso} WHERE settled_at IS NULL AND expires_at <= ${nowIso} AND cardholder_id = ANY(${sql.param(ids)}::text[])`);
    const [t] = await q.rows<{ outstanding: string | null }>(
      sql`SELECT sum(points - used) AS outstanding FROM allowances WHERE terminal_id = ${terminalId} AND settled_at IS NULL AND expires_at > ${nowIso}`,
    );
    let terminalLeft = policy.perTerminalPoints - Number(t?.outstanding ?? 0);
    const cards = await q.rows<{ cardholder_id: string; balance: string | null; outstanding: string | null; mine_id: string | null }>(
      sql`SELECT h.id AS cardholder_id, b.points AS balance,
                 (SELECT sum(a.points - a.used) FROM allowances a WHERE a.cardholder_id = h.id AND a.settled_at IS NULL) AS outstanding,
                 (SELECT a.id FROM allowances a WHERE a.cardholder_id = h.id AND a.terminal_id = ${terminalId} AND a.settled_at IS NULL ORDER BY a.issued_at DESC LIMIT 1) AS mine_id
          FROM unnest(${sql.param(ids)}::text[]) AS h(id) LEFT JOIN balances b ON b.cardholder_id = h.id`,
    );
    const lifetimeMs = policy.lifetimeHours * 3600_000;
    const out: SignedAllowance[] = [];
    for (const c of cards) {
      // The terminal asks again only after it has uploaded its sales: its old reservation is
      // settled (what it used is already in the balance) and a fresh one is cut.
      if (c.mine_id) await q.rows(sql`UPDATE allowances SET settled_at = ${nowIso} WHERE cardholder_id = ${c.cardholder_id} AND id = ${c.mine_id}`);
      const [again] = c.mine_id
        ? await q.rows<{ outstanding: string | null }>(sql`SELECT sum(points - used) AS outstanding FROM allowances WHERE cardholder_id = ${c.cardholder_id} AND settled_at IS NULL`)
        : [{ outstanding: c.outstanding }];
      const free = Number(c.balance ?? 0) - Number(again?.outstanding ?? 0);
      const points = Math.min(policy.perCardPoints, free, terminalLeft);
      if (points <= 0) continue;
      const a = { id: uuidv7(), terminalId, cardholderId: c.cardholder_id, points, issuedAt: nowIso, expiresAt: new Date(now.getTime() + lifetimeMs).toISOString() };
      await q.rows(sql`INSERT INTO allowances (cardholder_id, id, terminal_id, points, issued_at, expires_at) VALUES (${a.cardholderId}, ${a.id}, ${terminalId}, ${points}, ${a.issuedAt}, ${a.expiresAt})`);
      terminalLeft -= points;
      out.push({ ...a, signature: await this.sign(q, a) });
    }
    return out;
  }

  private async sign(q: Query, a: Omit<SignedAllowance, 'signature'>): Promise<string> {
    const { privateKey } = await this.signingKeys(q);
    const key = createPrivateKey({ key: Buffer.from(privateKey, 'base64'), format: 'der', type: 'pkcs8' });
    return sign(null, Buffer.from(allowanceSigningText(a)), key).toString('base64');
  }

  /**
   * Online redemption: the points of a card this terminal may pay with now — HQ's balance less
   * what other terminals hold in unexpired allowances (they may be spending those offline). The
   * terminal asks only when all its sales under an allowance for the card are at HQ.
   */
  async available(terminalId: string, cardholderId: string): Promise<number> {
    const now = this.clock().toISOString();
    // Online, this terminal asks HQ instead of using its own allowance: HQ takes that back (the
    // terminal drops it too) so the same points are never both reserved and spent online.
    await this.db.rows(sql`UPDATE allowances SET settled_at = ${now} WHERE cardholder_id = ${cardholderId} AND terminal_id = ${terminalId} AND settled_at IS NULL`);
    const [row] = await this.db.rows<{ balance: string | null; others: string | null }>(
      sql`SELECT (SELECT points FROM balances WHERE cardholder_id = ${cardholderId}) AS balance,
                 (SELECT sum(points - used) FROM allowances WHERE cardholder_id = ${cardholderId} AND terminal_id <> ${terminalId} AND settled_at IS NULL AND expires_at > ${now}) AS others`,
    );
    return Math.max(0, Number(row?.balance ?? 0) - Number(row?.others ?? 0));
  }

  /** Records points redeemed under an allowance (settlement); more than it holds is an overdraft. */
  async settle(q: Query, terminalId: string, cardholderId: string, allowanceId: string, points: number) {
    await q.rows(sql`UPDATE allowances SET used = used + ${points} WHERE cardholder_id = ${cardholderId} AND id = ${allowanceId} AND terminal_id = ${terminalId}`);
  }

  /** Overdrafts: cards whose HQ balance went below zero, allowances used past what they held. */
  async report() {
    const cards = await this.db.rows<{ cardholder_id: string; points: string }>(sql`SELECT cardholder_id, points FROM balances WHERE points < 0 ORDER BY cardholder_id`);
    const terminals = await this.db.rows<{ terminal_id: string; cardholder_id: string; id: string; points: number; used: number }>(
      sql`SELECT terminal_id, cardholder_id, id, points, used FROM allowances WHERE used > points ORDER BY terminal_id, cardholder_id`,
    );
    return {
      cardOverdrafts: cards.map((c) => ({ cardholderId: c.cardholder_id, balance: Number(c.points) })),
      terminalOverdrafts: terminals.map((t) => ({ terminalId: t.terminal_id, cardholderId: t.cardholder_id, allowanceId: t.id, points: Number(t.points), used: Number(t.used) })),
    };
  }
}
