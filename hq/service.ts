// HQ's rules: registration, request authentication, exactly-once application of the terminals'
// operations, and the pull feed that brings every terminal HQ's balances.
import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import { z } from 'zod';
import { SIGNATURE_MAX_SKEW_MS, signatureBase, type OpResult, type OutboxOp, type PullResponse, type PushResponse, type PulledCard, type RemoteEntry } from '../protocol/sync';
import { sql, type HqDb, type Query, type Row } from './db';
import type { SQL } from 'drizzle-orm';

export class HqError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** `SELECT * FROM unnest($1::type[], …)`: many rows in one statement with one parameter per column. */
function unnest<T>(rows: T[], columns: [string, (row: T) => unknown][]): SQL {
  return sql`SELECT * FROM unnest(${sql.join(
    columns.map(([type, get]) => sql`${sql.param(rows.map(get))}::${sql.raw(type)}[]`),
    sql`, `,
  )})`;
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const FEED_LOCK = 7001;

const receiptPayload = z.object({
  receipt: z.object({
    id: z.string(),
    number: z.string(),
    kind: z.string(),
    originalReceiptId: z.string().nullable().optional(),
    cardId: z.string().nullable(),
    cardholderId: z.string().nullable(),
    createdAt: z.string(),
    gross: z.number().int(),
    discount: z.number().int(),
    redeemKopecks: z.number().int(),
    toPay: z.number().int(),
    pointsEarned: z.number().int(),
    pointsRedeemed: z.number().int(),
    programId: z.string().nullable().optional(),
    programVersion: z.number().int().nullable().optional(),
    programHash: z.string().nullable().optional(),
    chainSeq: z.number().int(),
    hash: z.string(),
  }),
  lines: z.array(z.object({ lineNo: z.number().int(), sku: z.string(), category: z.string(), qty: z.number().int(), gross: z.number().int(), discount: z.number().int(), redeem: z.number().int(), net: z.number().int(), pointsEarned: z.number().int() })),
  entries: z.array(
    z.object({
      id: z.string(),
      cardholderId: z.string(),
      kind: z.string(),
      points: z.number().int(),
      lotId: z.string().nullable(),
      activatesAt: z.string().nullable(),
      expiresAt: z.string().nullable(),
      createdAt: z.string(),
      chainSeq: z.number().int(),
      hash: z.string(),
    }),
  ),
});

const enrollPayload = z.object({
  cardholderId: z.string(),
  enrolledAt: z.string(),
  holder: z.record(z.string(), z.unknown()).default({}),
  card: z.object({ cardId: z.string(), number: z.string(), chipUid: z.string().nullable() }).nullable(),
});

export interface Caller {
  terminalId: string;
  storeId: string;
}

export class HqService {
  private nonceSweep = 0;

  constructor(
    readonly db: HqDb,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  // ---- stores, codes, terminals ------------------------------------------------------------

  async ensureStore(id: string, name = id) {
    await this.db.rows(sql`INSERT INTO stores (id, name) VALUES (${id}, ${name}) ON CONFLICT (id) DO NOTHING`);
  }

  /** A one-time code a store admin types into a new terminal. */
  async createRegistrationCode(storeId: string, ttlHours = 24): Promise<string> {
    await this.ensureStore(storeId);
    const code = randomBytes(8).toString('base64url').replace(/[-_]/g, 'x').slice(0, 10).toUpperCase();
    const expires = new Date(this.clock().getTime() + ttlHours * 3600_000).toISOString();
    await this.db.rows(sql`INSERT INTO registration_codes (store_id, code_hash, expires_at) VALUES (${storeId}, ${sha256(code)}, ${expires})`);
    return code;
  }

  async register(input: { code: string; terminalId: string; publicKey: string }): Promise<Caller> {
    try {
      createPublicKey({ key: Buffer.from(input.publicKey, 'base64'), format: 'der', type: 'spki' });
    } catch {
      throw new HqError(400, 'publicKey is not an Ed25519 SPKI key');
    }
    return this.db.tx(async (q) => {
      const [code] = await q.rows<{ store_id: string; expires_at: string | Date; used_at: unknown; terminal_id: string | null }>(
        sql`SELECT store_id, expires_at, used_at, terminal_id FROM registration_codes WHERE code_hash = ${sha256(input.code.trim().toUpperCase())} FOR UPDATE`,
      );
      if (!code || new Date(code.expires_at).getTime() < this.clock().getTime()) throw new HqError(401, 'unknown or expired registration code');
      if (code.used_at && code.terminal_id !== input.terminalId) throw new HqError(401, 'registration code already used');
      const [existing] = await q.rows<{ public_key: string }>(sql`SELECT public_key FROM terminals WHERE terminal_id = ${input.terminalId}`);
      if (existing && existing.public_key !== input.publicKey) throw new HqError(409, 'terminal already registered with another key');
      await q.rows(sql`INSERT INTO terminals (terminal_id, store_id, public_key) VALUES (${input.terminalId}, ${code.store_id}, ${input.publicKey}) ON CONFLICT (terminal_id) DO NOTHING`);
      await q.rows(sql`UPDATE registration_codes SET used_at = now(), terminal_id = ${input.terminalId} WHERE code_hash = ${sha256(input.code.trim().toUpperCase())}`);
      return { terminalId: input.terminalId, storeId: code.store_id };
    });
  }

  async revoke(terminalId: string) {
    await this.db.rows(sql`UPDATE terminals SET revoked_at = now() WHERE terminal_id = ${terminalId}`);
  }

  /** Checks a signed request; anything wrong is a 401 and changes nothing but the nonce ledger. */
  async authenticate(h: { terminalId?: string; timestamp?: string; nonce?: string; signature?: string; method: string; path: string; body: Buffer }): Promise<Caller> {
    if (!h.terminalId || !h.timestamp || !h.nonce || !h.signature) throw new HqError(401, 'unsigned request');
    if (!/^[A-Za-z0-9_-]{16,64}$/.test(h.nonce)) throw new HqError(401, 'bad nonce');
    const ts = Date.parse(h.timestamp);
    if (Number.isNaN(ts) || Math.abs(ts - this.clock().getTime()) > SIGNATURE_MAX_SKEW_MS) throw new HqError(401, 'stale or future timestamp');
    const [t] = await this.db.rows<{ store_id: string; public_key: string; revoked_at: unknown }>(sql`SELECT store_id, public_key, revoked_at FROM terminals WHERE terminal_id = ${h.terminalId}`);
    if (!t || t.revoked_at) throw new HqError(401, 'unknown or revoked terminal');
    const key = createPublicKey({ key: Buffer.from(t.public_key, 'base64'), format: 'der', type: 'spki' });
    const base = signatureBase(h.method, h.path, h.timestamp, h.nonce, sha256(h.body));
    let good = false;
    try {
      good = verify(null, Buffer.from(base), key, Buffer.from(h.signature, 'base64'));
    } catch {
      good = false;
    }
    if (!good) throw new HqError(401, 'bad signature');
    const fresh = await this.db.rows(sql`INSERT INTO request_nonces (terminal_id, nonce) VALUES (${h.terminalId}, ${h.nonce}) ON CONFLICT DO NOTHING RETURNING nonce`);
    if (!fresh.length) throw new HqError(401, 'replayed request');
    if (++this.nonceSweep % 500 === 0) {
      const before = new Date(this.clock().getTime() - 2 * SIGNATURE_MAX_SKEW_MS).toISOString();
      await this.db.rows(sql`DELETE FROM request_nonces WHERE seen_at < ${before}`);
    }
    return { terminalId: h.terminalId, storeId: t.store_id };
  }

  // ---- push: exactly once ------------------------------------------------------------------

  async push(caller: Caller, ops: OutboxOp[], report: { pending?: number; oldestPendingAt?: string | null } = {}): Promise<PushResponse> {
    const sorted = [...ops].sort((a, b) => a.seq - b.seq);
    return this.db.tx(async (q) => {
      await q.rows(sql`SELECT pg_advisory_xact_lock(${FEED_LOCK})`);
      const [t] = await q.rows<{ acked_seq: string | number }>(sql`SELECT acked_seq FROM terminals WHERE terminal_id = ${caller.terminalId} FOR UPDATE`);
      let acked = Number(t!.acked_seq);
      const results: OpResult[] = [];
      // The run of operations that continues HQ's mark without a gap; the rest is answered as is.
      const run: OutboxOp[] = [];
      for (const op of sorted) {
        if (op.seq <= acked) results.push({ seq: op.seq, status: 'duplicate' });
        else if (op.seq !== acked + 1 + run.length) results.push({ seq: op.seq, status: 'gap', reason: `expected operation ${acked + 1 + run.length}` });
        else run.push(op);
      }
      const reasons = await this.applyRun(q, caller, run);
      const rejected = reasons.size;
      if (run.length) {
        await q.rows(
          sql`INSERT INTO operations (terminal_id, seq, op_id, kind, status, reason, created_at)
              ${unnest(run, [
                ['text', () => caller.terminalId], ['bigint', (op) => op.seq], ['text', (op) => op.opId], ['text', (op) => op.kind],
                ['text', (op) => (reasons.has(op.seq) ? 'rejected' : 'applied')], ['text', (op) => reasons.get(op.seq) ?? null], ['timestamptz', (op) => op.createdAt],
              ])}`,
        );
      }
      for (const op of run) {
        const reason = reasons.get(op.seq);
        results.push(reason ? { seq: op.seq, status: 'rejected', reason } : { seq: op.seq, status: 'applied' });
      }
      if (run.length) acked = run.at(-1)!.seq;
      await q.rows(
        sql`UPDATE terminals SET acked_seq = ${acked}, last_contact_at = now(), rejected_ops = rejected_ops + ${rejected},
              pending_reported = ${report.pending ?? null}, oldest_pending_at = ${report.oldestPendingAt ?? null}
            WHERE terminal_id = ${caller.terminalId}`,
      );
      results.sort((a, b) => a.seq - b.seq);
      return { ackedThrough: acked, results };
    });
  }

  /**
   * Applies a gapless run of operations with a few multi-row statements (a batch of thousands of
   * sales is a handful of round trips). Returns the business refusals by seq; those operations
   * change nothing but are acknowledged, so the queue moves on.
   */
  private async applyRun(q: Query, caller: Caller, run: OutboxOp[]): Promise<Map<number, string>> {
    const reasons = new Map<number, string>();
    if (!run.length) return reasons;
    const seen = new Set(
      (
        await q.rows<{ op_id: string }>(sql`SELECT op_id FROM operations WHERE terminal_id = ${caller.terminalId} AND op_id = ANY(${sql.param(run.map((op) => op.opId))}::text[])`)
      ).map((r) => r.op_id),
    );
    const receipts: z.infer<typeof receiptPayload>[] = [];
    for (const op of run) {
      if (seen.has(op.opId)) reasons.set(op.seq, `operation ${op.opId} was already applied under another number`);
      else if (op.kind === 'sale' || op.kind === 'return') {
        const p = receiptPayload.safeParse(op.payload);
        if (p.success) receipts.push(p.data);
        else reasons.set(op.seq, `malformed ${op.kind}: ${p.error.issues[0]?.path.join('.')} ${p.error.issues[0]?.message}`);
      } else if (op.kind === 'enroll') {
        const p = enrollPayload.safeParse(op.payload);
        const reason = p.success ? await this.applyEnroll(q, caller, p.data) : `malformed enroll: ${p.error.issues[0]?.path.join('.')} ${p.error.issues[0]?.message}`;
        if (reason) reasons.set(op.seq, reason);
      } else reasons.set(op.seq, `unknown operation kind "${op.kind}"`);
      seen.add(op.opId);
    }
    if (receipts.length) await this.applyReceipts(q, caller, receipts);
    return reasons;
  }

  private async applyReceipts(q: Query, caller: Caller, payloads: z.infer<typeof receiptPayload>[]) {
    const T = caller.terminalId;
    const inserted = await q.rows<{ id: string }>(
      sql`INSERT INTO receipts (terminal_id, id, number, kind, original_receipt_id, store_id, card_id, cardholder_id, created_at, gross, discount, redeem_kopecks, to_pay,
            points_earned, points_redeemed, program_id, program_version, program_hash, chain_seq, hash)
          ${unnest(payloads.map((p) => p.receipt), [
            ['text', () => T], ['text', (r) => r.id], ['text', (r) => r.number], ['text', (r) => r.kind], ['text', (r) => r.originalReceiptId ?? null],
            ['text', () => caller.storeId], ['text', (r) => r.cardId], ['text', (r) => r.cardholderId], ['timestamptz', (r) => r.createdAt],
            ['bigint', (r) => r.gross], ['bigint', (r) => r.discount], ['bigint', (r) => r.redeemKopecks], ['bigint', (r) => r.toPay],
            ['integer', (r) => r.pointsEarned], ['integer', (r) => r.pointsRedeemed], ['text', (r) => r.programId ?? null], ['integer', (r) => r.programVersion ?? null],
            ['text', (r) => r.programHash ?? null], ['bigint', (r) => r.chainSeq], ['text', (r) => r.hash],
          ])}
          ON CONFLICT DO NOTHING RETURNING id`,
    );
    const fresh = new Set(inserted.map((r) => r.id));
    const mine = payloads.filter((p) => fresh.has(p.receipt.id)); // a receipt already here brought its rows before
    const lines = mine.flatMap((p) => p.lines.map((l) => ({ ...l, receiptId: p.receipt.id })));
    if (lines.length) {
      await q.rows(
        sql`INSERT INTO receipt_lines (terminal_id, receipt_id, line_no, sku, category, qty, gross, discount, redeem, net, points_earned)
            ${unnest(lines, [
              ['text', () => T], ['text', (l) => l.receiptId], ['integer', (l) => l.lineNo], ['text', (l) => l.sku], ['text', (l) => l.category], ['integer', (l) => l.qty],
              ['bigint', (l) => l.gross], ['bigint', (l) => l.discount], ['bigint', (l) => l.redeem], ['bigint', (l) => l.net], ['integer', (l) => l.pointsEarned],
            ])} ON CONFLICT DO NOTHING`,
      );
    }
    const delta = new Map<string, { points: number; spend: number; count: number; last: string | null }>();
    const account = (h: string) => delta.get(h) ?? (delta.set(h, { points: 0, spend: 0, count: 0, last: null }), delta.get(h)!);
    const entries = mine.flatMap((p) => p.entries.map((e) => ({ ...e, receiptId: p.receipt.id })));
    if (entries.length) {
      const added = await q.rows<{ cardholder_id: string; points: number }>(
        sql`INSERT INTO point_entries (cardholder_id, id, terminal_id, receipt_id, kind, points, lot_id, activates_at, expires_at, created_at, chain_seq, hash)
            ${unnest(entries, [
              ['text', (e) => e.cardholderId], ['text', (e) => e.id], ['text', () => T], ['text', (e) => e.receiptId], ['text', (e) => e.kind], ['integer', (e) => e.points],
              ['text', (e) => e.lotId], ['timestamptz', (e) => e.activatesAt], ['timestamptz', (e) => e.expiresAt], ['timestamptz', (e) => e.createdAt],
              ['bigint', (e) => e.chainSeq], ['text', (e) => e.hash],
            ])} ON CONFLICT DO NOTHING RETURNING cardholder_id, points`,
      );
      for (const a of added) account(a.cardholder_id).points += Number(a.points);
    }
    for (const { receipt: r } of mine) {
      if (!r.cardholderId) continue;
      const d = account(r.cardholderId);
      const sale = r.kind === 'sale';
      d.spend += (sale ? 1 : -1) * (r.toPay + r.redeemKopecks);
      d.count += sale ? 1 : 0;
      if (sale && (!d.last || r.createdAt > d.last)) d.last = r.createdAt;
    }
    if (!delta.size) return;
    await q.rows(
      sql`INSERT INTO balances (cardholder_id, points, lifetime_spend, purchase_count, last_purchase_at)
          ${unnest([...delta.entries()], [['text', ([h]) => h], ['bigint', ([, d]) => d.points], ['bigint', ([, d]) => d.spend], ['integer', ([, d]) => d.count], ['timestamptz', ([, d]) => d.last]])}
          ON CONFLICT (cardholder_id) DO UPDATE SET points = balances.points + EXCLUDED.points, lifetime_spend = balances.lifetime_spend + EXCLUDED.lifetime_spend,
            purchase_count = balances.purchase_count + EXCLUDED.purchase_count, last_purchase_at = greatest(balances.last_purchase_at, EXCLUDED.last_purchase_at)`,
    );
  }

  private async applyEnroll(q: Query, caller: Caller, e: z.infer<typeof enrollPayload>): Promise<string | null> {
    if (e.card) {
      const [taken] = await q.rows<{ cardholder_id: string }>(sql`SELECT cardholder_id FROM cards WHERE number = ${e.card.number}`);
      if (taken && taken.cardholder_id !== e.cardholderId) return `card ${e.card.number.slice(-4)} is already registered to another cardholder`;
    }
    await q.rows(
      sql`INSERT INTO cardholders (cardholder_id, holder, enrolled_at, store_id) VALUES (${e.cardholderId}, ${JSON.stringify(e.holder)}::jsonb, ${e.enrolledAt}, ${caller.storeId})
          ON CONFLICT DO NOTHING`,
    );
    if (e.card) {
      await q.rows(sql`INSERT INTO cards (cardholder_id, card_id, number, chip_uid, status) VALUES (${e.cardholderId}, ${e.card.cardId}, ${e.card.number}, ${e.card.chipUid}, 'active') ON CONFLICT DO NOTHING`);
    }
    return null;
  }

  /** HQ-side enrollment (a chain's existing card base, or the demo). */
  async enrollAtHq(e: { cardholderId: string; holder: Record<string, unknown>; enrolledAt: string; card: { cardId: string; number: string; chipUid: string | null } }) {
    await this.db.tx(async (q) => {
      await q.rows(sql`SELECT pg_advisory_xact_lock(${FEED_LOCK})`);
      await this.applyEnroll(q, { terminalId: 'hq', storeId: 'hq' }, e);
    });
  }

  // ---- pull: the feed --------------------------------------------------------------------------

  async pull(caller: Caller, cursor: number, limit = 5000): Promise<PullResponse> {
    const entries = await this.db.rows<Row>(
      sql`SELECT hq_seq, id, terminal_id, cardholder_id, kind, points, lot_id, activates_at, expires_at, created_at
          FROM point_entries WHERE hq_seq > ${cursor} ORDER BY hq_seq LIMIT ${limit + 1}`,
    );
    const cards = await this.db.rows<Row>(
      sql`SELECT c.hq_seq, c.card_id, c.number, c.chip_uid, c.status, c.cardholder_id, h.holder, h.enrolled_at
          FROM cards c JOIN cardholders h ON h.cardholder_id = c.cardholder_id WHERE c.hq_seq > ${cursor} ORDER BY c.hq_seq LIMIT ${limit + 1}`,
    );
    const merged = [...entries.map((e) => ({ seq: Number(e.hq_seq), e })), ...cards.map((c) => ({ seq: Number(c.hq_seq), c }))].sort((a, b) => a.seq - b.seq);
    const page = merged.slice(0, limit);
    const iso = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string).toISOString());
    const out: PullResponse = { cursor: page.at(-1)?.seq ?? cursor, more: merged.length > limit, entries: [], cards: [] };
    for (const item of page) {
      if ('e' in item) {
        const e = item.e;
        if (e.terminal_id === caller.terminalId) continue; // the terminal has its own entries
        out.entries.push({
          hqSeq: item.seq,
          id: e.id as string,
          terminalId: e.terminal_id as string,
          cardholderId: e.cardholder_id as string,
          kind: e.kind as string,
          points: Number(e.points),
          lotId: (e.lot_id as string | null) ?? null,
          activatesAt: iso(e.activates_at),
          expiresAt: iso(e.expires_at),
          createdAt: iso(e.created_at)!,
        } satisfies RemoteEntry);
      } else {
        const c = item.c;
        out.cards.push({
          hqSeq: item.seq,
          cardId: c.card_id as string,
          number: c.number as string,
          chipUid: (c.chip_uid as string | null) ?? null,
          status: c.status as string,
          cardholderId: c.cardholder_id as string,
          holder: (typeof c.holder === 'string' ? JSON.parse(c.holder) : c.holder) as Record<string, unknown>,
          enrolledAt: iso(c.enrolled_at)!,
        } satisfies PulledCard);
      }
    }
    return out;
  }

  // ---- views -------------------------------------------------------------------------------

  async balances(): Promise<Map<string, number>> {
    const rows = await this.db.rows<{ cardholder_id: string; points: string | number }>(sql`SELECT cardholder_id, points FROM balances`);
    return new Map(rows.map((r) => [r.cardholder_id, Number(r.points)]));
  }

  async terminalsHealth() {
    return this.db.rows(
      sql`SELECT t.terminal_id, t.store_id, t.last_contact_at, t.acked_seq, t.pending_reported, t.oldest_pending_at, t.rejected_ops, t.revoked_at IS NOT NULL AS revoked
          FROM terminals t ORDER BY t.store_id, t.terminal_id`,
    );
  }
}
