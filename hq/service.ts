// HQ's rules: registration, request authentication, exactly-once application of the terminals'
// operations, and the pull feed that brings every terminal HQ's balances.
import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import { z } from 'zod';
import { SIGNATURE_MAX_SKEW_MS, signatureBase, type AllowancesResponse, type OpResult, type OutboxOp, type PullResponse, type PushResponse, type PulledCard, type PulledProgram, type RemoteEntry, type RemotePurchase, type ReturnElsewhere, type SaleElsewhere } from '../protocol/sync';
import { same, sql, unnest, type HqDb, type Query, type Row } from './db';
import { StoreDayTally } from './figures';
import { chainedRows, verifyOperation, type ChainHead } from './chain';
import { withReceiptFields } from '../protocol/chain';
import { Allowances } from './allowances';
import { describeErrors, validateProgram } from '../engine';

export class HqError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Why, for a terminal to act on (sent beside the message). */
    readonly code?: string,
  ) {
    super(message);
  }
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const FEED_LOCK = 7001;

/** A return receipt's units by line of the sale it reverses (`r` is the return). */
const RETURNED_LINES = sql.raw(`CASE WHEN r.kind = 'return' THEN (SELECT json_object_agg(l.line_no, l.qty) FROM receipt_lines l WHERE l.terminal_id = r.terminal_id AND l.receipt_id = r.id) END`);
// What a sale sold, [item, units] by line number: other terminals count it for repeat-purchase discounts.
const SOLD_LINES = sql.raw(`CASE WHEN r.kind = 'sale' THEN (SELECT json_object_agg(l.line_no, json_build_array(l.sku, l.qty)) FROM receipt_lines l WHERE l.terminal_id = r.terminal_id AND l.receipt_id = r.id) END`);

/** A json column as the driver gives it: parsed already, or as text. */
const jsonColumn = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;

function returnElsewhere(r: Row): ReturnElsewhere {
  const lines = jsonColumn<Record<string, number> | null>(r.returned_lines) ?? {};
  return { id: r.id as string, lines: Object.fromEntries(Object.entries(lines).map(([k, v]) => [k, Number(v)])), pointsTakenBack: Number(r.points_earned) };
}

/** The program version a withdrawal names: {id, version}. */
export function programVersionOf(body: unknown): [id: string, version: number] {
  const b = body as { id?: unknown; version?: unknown } | null;
  if (typeof b?.id !== 'string' || !b.id || !Number.isSafeInteger(b.version) || (b.version as number) < 1) {
    throw new HqError(400, 'name the version as {"id": "<program id>", "version": <a whole number from 1>}', 'program_invalid');
  }
  return [b.id, b.version as number];
}

/** A published program version, as HQ keeps it and the feed sends it. */
export type PublishedProgram = PulledProgram;

const PROGRAM_COLUMNS = sql.raw('hq_seq, program_id, version, hash, definition, published_at, active_from, withdrawn_at');

function publishedProgram(r: Row): PublishedProgram {
  const iso = (v: unknown) => new Date(v as string).toISOString();
  return {
    hqSeq: Number(r.hq_seq),
    id: r.program_id as string,
    version: Number(r.version),
    hash: r.hash as string,
    definition: jsonColumn(r.definition),
    publishedAt: iso(r.published_at),
    activeFrom: iso(r.active_from),
    ...(r.withdrawn_at ? { withdrawnAt: iso(r.withdrawn_at) } : {}),
  };
}

function soldLines(v: unknown): Record<string, [string, number]> {
  const lines = jsonColumn<Record<string, [string, number | string]>>(v);
  return Object.fromEntries(Object.entries(lines).map(([no, [sku, qty]]) => [no, [sku, Number(qty)]]));
}

const entryPayload = z.object({
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
});
type EntryPayload = z.infer<typeof entryPayload> & { receiptId: string | null; inactiveSince?: string | null };

const cardPayload = z.object({ cardId: z.string(), number: z.string(), chipUid: z.string().nullable(), status: z.string(), cardholderId: z.string() });
const cardOpPayload = z.object({ cards: z.array(cardPayload).min(1) });
/** Entries outside a sale; a burn's carry the start of the inactivity the terminal saw (its cutoff). */
const entriesOpPayload = z.object({ entries: z.array(entryPayload), inactiveSince: z.string().datetime().optional() });
const mergeOpPayload = z.object({ keepId: z.string(), duplicateId: z.string(), cards: z.array(cardPayload), entries: z.array(entryPayload) });
const anonymizeOpPayload = z.object({ cardholderId: z.string() });
const npsOpPayload = z.object({ id: z.string(), receiptId: z.string().nullable(), score: z.number().int().min(0).max(10), comment: z.string().max(1000).nullable(), createdAt: z.string() });

/** An entry HQ writes itself. */
type HqEntry = { cardholderId: string; id: string; points: number; lotId: string; activatesAt: string | null; expiresAt: string | null; createdAt: string };

type Delta = Map<string, { points: number; spend: number; count: number; last: string | null }>;

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
  /** The allowance an offline redemption was made under (not chained: HQ checks its signature). */
  allowance: z.object({ id: z.string(), terminalId: z.string(), cardholderId: z.string(), points: z.number().int(), issuedAt: z.string(), expiresAt: z.string(), signature: z.string() }).nullable().optional(),
  /** The points the card could have paid with at the till (refusal share). */
  redeemOffered: z.number().int().optional(),
  /** A return: the terminal of the sale it reverses. */
  originalTerminalId: z.string().max(64).optional(),
  /** How long the terminal had held that allowance when it redeemed (its own elapsed time, not its clock). */
  allowanceAgeMs: z.number().int().optional(),
  lines: z.array(
    z.object({
      lineNo: z.number().int(),
      sku: z.string(),
      category: z.string(),
      qty: z.number().int(),
      gross: z.number().int(),
      discount: z.number().int(),
      redeem: z.number().int(),
      net: z.number().int(),
      pointsEarned: z.number().int(),
      // What a return on another terminal needs (terminals before it did not send them).
      name: z.string().max(500).optional(),
      unitPrice: z.number().int().optional(),
      pointsRedeemed: z.number().int().optional(),
    }),
  ),
  entries: z.array(entryPayload),
});

const enrollPayload = z.object({
  cardholderId: z.string(),
  enrolledAt: z.string(),
  holder: z.record(z.string(), z.unknown()).default({}),
  card: z.object({ cardId: z.string(), number: z.string(), chipUid: z.string().nullable() }).nullable(),
});

const malformed = (op: OutboxOp, error: z.ZodError) => `malformed ${op.kind}: ${error.issues[0]?.path.join('.')} ${error.issues[0]?.message}`;

interface CheckedOp {
  op: OutboxOp;
  /** Why it is refused for integrity (tampered, out of turn, replayed), with the evidence. */
  refusal: { reason: string; evidence: unknown } | null;
  /** A sale's or return's payload, parsed. */
  receipt?: ReturnType<typeof receiptPayload.safeParse>;
}
interface RunCheck {
  checked: CheckedOp[];
  head: ChainHead;
}

/**
 * Where a batch says the terminal's chain stands before it: its first chained row's number and
 * previous hash. That row is a receipt or a full entry, never a compact one: no expansion needed.
 */
function claimedStart(ops: OutboxOp[]): ChainHead | null {
  for (const op of ops) {
    const [first] = chainedRows(op.kind, op.payload);
    if (first) return typeof first.chainSeq === 'number' && typeof first.prevHash === 'string' ? { seq: first.chainSeq - 1, hash: first.prevHash } : null;
  }
  return null;
}

/** The chain check of a run of operations from `head`, and each sale's payload parsed; pure. */
function checkRun(head: ChainHead, run: OutboxOp[], seen: Set<string>): RunCheck {
  const ids = new Set(seen);
  const checked = run.map((op): CheckedOp => {
    const payload = withReceiptFields(op.kind, op.payload);
    const chain = verifyOperation(head, op.kind, payload);
    const refusal = ids.has(op.opId) ? { reason: `operation ${op.opId} was already applied under another number (replayed)`, evidence: { opId: op.opId, seq: op.seq } } : chain.ok ? null : chain;
    ids.add(op.opId);
    if (chain.ok && !refusal) head = chain.head;
    return { op, refusal, ...(op.kind === 'sale' || op.kind === 'return' ? { receipt: receiptPayload.safeParse(payload) } : {}) };
  });
  return { checked, head };
}

function account(delta: Delta, cardholderId: string) {
  let d = delta.get(cardholderId);
  if (!d) delta.set(cardholderId, (d = { points: 0, spend: 0, count: 0, last: null }));
  return d;
}

export interface Caller {
  terminalId: string;
  storeId: string;
}

export class HqService {
  private nonceSweep = 0;
  readonly allowances: Allowances;

  constructor(
    readonly db: HqDb,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.allowances = new Allowances(db, clock);
  }

  /** Signed offline-redemption allowances for the cards a terminal asks about. */
  async grantAllowances(caller: Caller, cardholderIds: string[]): Promise<AllowancesResponse> {
    const allowances = await this.db.tx(async (q) => {
      await q.rows(sql`SELECT pg_advisory_xact_lock(${FEED_LOCK})`);
      return this.allowances.grant(q, caller.terminalId, cardholderIds);
    });
    return { publicKey: (await this.allowances.signingKeys()).publicKey, policy: await this.allowances.policy(), allowances };
  }

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
    // Before the lock (while another batch may hold it): each payload parsed and the batch's chain
    // checked from where its first row says it starts. Under the lock that is used as it stands
    // when HQ's head is there and nothing in the batch was seen before; otherwise checked again.
    const start = claimedStart(sorted);
    const pre = start ? { start, ...checkRun(start, sorted, new Set()) } : null;
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
      const reasons = await this.applyRun(q, caller, run, run[0] === sorted[0] ? pre : null);
      const rejected = reasons.size;
      if (run.length) {
        await q.rows(
          // A replayed operation keeps its first row here; its refusal is in the quarantine.
          sql`INSERT INTO operations (terminal_id, seq, op_id, kind, status, reason, created_at)
              ${unnest(run, [
                ['text', same(caller.terminalId)], ['bigint', (op) => op.seq], ['text', (op) => op.opId], ['text', (op) => op.kind],
                ['text', (op) => (reasons.has(op.seq) ? 'rejected' : 'applied')], ['text', (op) => reasons.get(op.seq) ?? null], ['timestamptz', (op) => op.createdAt],
              ])}
              ON CONFLICT (terminal_id, op_id) DO NOTHING`,
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
  private async applyRun(q: Query, caller: Caller, run: OutboxOp[], pre: (RunCheck & { start: ChainHead }) | null): Promise<Map<number, string>> {
    const reasons = new Map<number, string>();
    if (!run.length) return reasons;
    const seen = new Set(
      (
        await q.rows<{ op_id: string }>(sql`SELECT op_id FROM operations WHERE terminal_id = ${caller.terminalId} AND op_id = ANY(${sql.param(run.map((op) => op.opId))}::text[])`)
      ).map((r) => r.op_id),
    );
    let receipts: z.infer<typeof receiptPayload>[] = [];
    const [t] = await q.rows<{ chain_seq: string | number; chain_hash: string }>(sql`SELECT chain_seq, chain_hash FROM terminals WHERE terminal_id = ${caller.terminalId}`);
    const days = new StoreDayTally();
    const head: ChainHead = { seq: Number(t!.chain_seq), hash: t!.chain_hash };
    // The check made before the lock holds only for the same operations from the same head.
    const reuse = pre && !seen.size && pre.checked.length === run.length && pre.start.seq === head.seq && pre.start.hash === head.hash;
    const { checked, head: after } = reuse ? pre : checkRun(head, run, seen);
    const quarantined: { op: OutboxOp; reason: string; evidence: unknown }[] = [];
    for (const { op, refusal, receipt: p } of checked) {
      if (refusal) {
        // Nothing of a tampered or replayed operation is applied; it is kept with the evidence.
        reasons.set(op.seq, refusal.reason);
        quarantined.push({ op, ...refusal });
        continue;
      }
      if (p) {
        if (!p.success) {
          reasons.set(op.seq, malformed(op, p.error));
          continue;
        }
        const refused = await this.checkAllowance(q, caller, p.data);
        if (refused) {
          reasons.set(op.seq, refused);
          quarantined.push({ op, reason: refused, evidence: { receiptId: p.data.receipt.id, allowance: p.data.allowance } });
          continue;
        }
        if (p.data.allowance) await this.allowances.settle(q, caller.terminalId, p.data.allowance.cardholderId, p.data.allowance.id, p.data.receipt.pointsRedeemed);
        receipts.push(p.data);
      } else {
        // Card operations apply in order with the sales around them: the sales before go first.
        if (receipts.length) await this.applyReceipts(q, caller, receipts, days);
        receipts = [];
        const reason = await this.applyOther(q, caller, op, malformed, days);
        if (reason) reasons.set(op.seq, reason);
      }
    }
    if (receipts.length) await this.applyReceipts(q, caller, receipts, days);
    await days.save(q, caller.storeId);
    await q.rows(sql`UPDATE terminals SET chain_seq = ${after.seq}, chain_hash = ${after.hash} WHERE terminal_id = ${caller.terminalId}`);
    if (quarantined.length) {
      await q.rows(
        sql`INSERT INTO quarantine (terminal_id, seq, op_id, kind, reason, evidence)
            ${unnest(quarantined, [['text', same(caller.terminalId)], ['bigint', (x) => x.op.seq], ['text', (x) => x.op.opId], ['text', (x) => x.op.kind], ['text', (x) => x.reason], ['jsonb', (x) => JSON.stringify(x.evidence)]])}
            ON CONFLICT DO NOTHING`,
      );
    }
    return reasons;
  }

  /** A sale paid with points offline names its allowance: HQ's signature, this terminal and card, in time. */
  private async checkAllowance(q: Query, caller: Caller, p: z.infer<typeof receiptPayload>): Promise<string | null> {
    const a = p.allowance;
    if (!a) return null;
    const wrong = await this.allowances.check(q, a, caller.terminalId, p.receipt.cardholderId ?? '');
    if (wrong) return wrong;
    const lifetimeMs = Date.parse(a.expiresAt) - Date.parse(a.issuedAt);
    if (!(p.allowanceAgeMs !== undefined && p.allowanceAgeMs >= 0 && p.allowanceAgeMs <= lifetimeMs)) return `allowance ${a.id} had expired when the sale redeemed under it`;
    return null;
  }

  /** Operations refused for integrity, newest first: which terminal, which operation and row, and why. */
  async integrityReport(limit = 500) {
    return this.db.rows<{ terminal_id: string; store_id: string; seq: string; op_id: string; kind: string; reason: string; evidence: unknown; at: unknown }>(
      sql`SELECT q.terminal_id, t.store_id, q.seq, q.op_id, q.kind, q.reason, q.evidence, q.at FROM quarantine q JOIN terminals t USING (terminal_id) ORDER BY q.at DESC, q.terminal_id, q.seq LIMIT ${limit}`,
    );
  }

  /**
   * Lines of the sales these returns reverse that have now come back more often than they were
   * sold (two tills, each unaware of the other's return): noted in over_returns, nothing refused.
   */
  private async noteOverReturns(q: Query, returns: z.infer<typeof receiptPayload>[]) {
    if (!returns.length) return;
    await q.rows(
      sql`INSERT INTO over_returns (terminal_id, sale_id, number, line_no, sold, returned)
          SELECT s.terminal_id, s.id, s.number, l.line_no, l.qty, sum(rl.qty)
          FROM (${unnest(returns, [['text', (p) => p.originalTerminalId!], ['text', (p) => p.receipt.originalReceiptId!]])}) AS o (terminal_id, id)
          JOIN receipts s ON s.terminal_id = o.terminal_id AND s.id = o.id
          JOIN receipt_lines l ON l.terminal_id = s.terminal_id AND l.receipt_id = s.id
          JOIN receipts r ON r.original_receipt_id = s.id AND r.kind = 'return'
          JOIN receipt_lines rl ON rl.terminal_id = r.terminal_id AND rl.receipt_id = r.id AND rl.line_no = l.line_no
          GROUP BY s.terminal_id, s.id, s.number, l.line_no, l.qty HAVING sum(rl.qty) > l.qty
          ON CONFLICT (terminal_id, sale_id, line_no) DO UPDATE SET returned = EXCLUDED.returned, noted_at = now()`,
    );
  }

  /** Sales with a line returned more often than it was sold, newest first. */
  async overReturns(limit = 500) {
    return this.db.rows<{ terminal_id: string; number: string; line_no: number; sold: number; returned: number }>(
      sql`SELECT terminal_id, number, line_no, sold, returned FROM over_returns ORDER BY noted_at DESC, number, line_no LIMIT ${limit}`,
    );
  }

  /** Enrollments and the store admin's card operations; returns a refusal or null. */
  private async applyOther(q: Query, caller: Caller, op: OutboxOp, malformed: (op: OutboxOp, e: z.ZodError) => string, days: StoreDayTally): Promise<string | null> {
    const parse = <T>(schema: z.ZodType<T>): { ok: true; data: T } | { ok: false; reason: string } => {
      const p = schema.safeParse(op.payload);
      return p.success ? { ok: true, data: p.data } : { ok: false, reason: malformed(op, p.error) };
    };
    switch (op.kind) {
      case 'enroll': {
        const p = parse(enrollPayload);
        return p.ok ? this.applyEnroll(q, caller, p.data) : p.reason;
      }
      case 'card': {
        const p = parse(cardOpPayload);
        return p.ok ? this.upsertCards(q, p.data.cards) : p.reason;
      }
      case 'entries': {
        const p = parse(entriesOpPayload);
        if (!p.ok) return p.reason;
        const delta: Delta = new Map();
        const { inactiveSince = null } = p.data;
        await this.insertEntries(q, caller.terminalId, p.data.entries.map((e) => ({ ...e, receiptId: null, inactiveSince: e.kind === 'burn' ? inactiveSince : null })), delta, days);
        await this.applyDelta(q, delta);
        return null;
      }
      case 'merge': {
        const p = parse(mergeOpPayload);
        if (!p.ok) return p.reason;
        const { keepId, duplicateId } = p.data;
        const known = await q.rows(sql`SELECT cardholder_id FROM cardholders WHERE cardholder_id IN (${keepId}, ${duplicateId})`);
        if (known.length < 2) return 'merge of a cardholder HQ does not know';
        const refused = await this.upsertCards(q, p.data.cards);
        if (refused) return refused;
        const delta: Delta = new Map();
        await this.insertEntries(q, caller.terminalId, p.data.entries.map((e) => ({ ...e, receiptId: null })), delta, days);
        // The duplicate's purchase history counts for the one kept.
        const [dup] = await q.rows<{ lifetime_spend: string; purchase_count: number; last_purchase_at: string | null }>(
          sql`SELECT lifetime_spend, purchase_count, last_purchase_at FROM balances WHERE cardholder_id = ${duplicateId}`,
        );
        if (dup) {
          const spend = Number(dup.lifetime_spend);
          const keep = delta.get(keepId) ?? { points: 0, spend: 0, count: 0, last: null };
          const gone = delta.get(duplicateId) ?? { points: 0, spend: 0, count: 0, last: null };
          delta.set(keepId, { ...keep, spend: keep.spend + spend, count: keep.count + Number(dup.purchase_count), last: dup.last_purchase_at ? new Date(dup.last_purchase_at).toISOString() : keep.last });
          delta.set(duplicateId, { ...gone, spend: gone.spend - spend, count: gone.count - Number(dup.purchase_count) });
        }
        await q.rows(sql`UPDATE cardholders SET merged_into = ${keepId} WHERE cardholder_id = ${duplicateId}`);
        // Two welcome lots may now be one person's: the later is taken back on its copy.
        await this.oneWelcomeEach(q, [keepId], delta);
        await this.applyDelta(q, delta);
        return null;
      }
      case 'nps': {
        const p = parse(npsOpPayload);
        if (!p.ok) return p.reason;
        await q.rows(
          sql`INSERT INTO nps (terminal_id, id, store_id, receipt_id, score, comment, created_at)
              VALUES (${caller.terminalId}, ${p.data.id}, ${caller.storeId}, ${p.data.receiptId}, ${p.data.score}, ${p.data.comment}, ${p.data.createdAt}) ON CONFLICT DO NOTHING`,
        );
        return null;
      }
      case 'anonymize': {
        const p = parse(anonymizeOpPayload);
        if (!p.ok) return p.reason;
        const done = await q.rows(sql`UPDATE cardholders SET holder = '{}'::jsonb WHERE cardholder_id = ${p.data.cardholderId} RETURNING cardholder_id`);
        if (!done.length) return 'anonymize of a cardholder HQ does not know';
        // The cards go round the feed again, so every terminal drops the personal data too.
        await q.rows(sql`UPDATE cards SET hq_seq = nextval('hq_feed') WHERE cardholder_id = ${p.data.cardholderId}`);
        return null;
      }
      default:
        return `unknown operation kind "${op.kind}"`;
    }
  }

  /** A card's new state (issued, blocked, replaced, moved to another cardholder); it goes back round the feed. */
  private async upsertCards(q: Query, cards: z.infer<typeof cardPayload>[]): Promise<string | null> {
    for (const c of cards) {
      const [taken] = await q.rows<{ card_id: string }>(sql`SELECT card_id FROM cards WHERE number = ${c.number} AND card_id <> ${c.cardId}`);
      if (taken) return `card ${c.number.slice(-4)} is already registered as another card`;
      const [holder] = await q.rows(sql`SELECT 1 FROM cardholders WHERE cardholder_id = ${c.cardholderId}`);
      if (!holder) return `card ${c.number.slice(-4)} names a cardholder HQ does not know`;
    }
    for (const c of cards) {
      await q.rows(sql`DELETE FROM cards WHERE card_id = ${c.cardId} AND cardholder_id <> ${c.cardholderId}`);
      await q.rows(
        sql`INSERT INTO cards (cardholder_id, card_id, number, chip_uid, status) VALUES (${c.cardholderId}, ${c.cardId}, ${c.number}, ${c.chipUid}, ${c.status})
            ON CONFLICT (cardholder_id, card_id) DO UPDATE SET number = EXCLUDED.number, chip_uid = EXCLUDED.chip_uid, status = EXCLUDED.status, hq_seq = nextval('hq_feed')`,
      );
    }
    return null;
  }

  private async applyReceipts(q: Query, caller: Caller, payloads: z.infer<typeof receiptPayload>[], days: StoreDayTally) {
    const T = caller.terminalId;
    const inserted = await q.rows<{ id: string }>(
      sql`INSERT INTO receipts (terminal_id, id, number, kind, original_receipt_id, store_id, card_id, cardholder_id, created_at, gross, discount, redeem_kopecks, to_pay,
            points_earned, points_redeemed, program_id, program_version, program_hash, chain_seq, hash, redeem_offered)
          ${unnest(payloads.map((p) => ({ ...p.receipt, redeemOffered: p.redeemOffered ?? 0 })), [
            ['text', same(T)], ['text', (r) => r.id], ['text', (r) => r.number], ['text', (r) => r.kind], ['text', (r) => r.originalReceiptId ?? null],
            ['text', same(caller.storeId)], ['text', (r) => r.cardId], ['text', (r) => r.cardholderId], ['timestamptz', (r) => r.createdAt],
            ['bigint', (r) => r.gross], ['bigint', (r) => r.discount], ['bigint', (r) => r.redeemKopecks], ['bigint', (r) => r.toPay],
            ['integer', (r) => r.pointsEarned], ['integer', (r) => r.pointsRedeemed], ['text', (r) => r.programId ?? null], ['integer', (r) => r.programVersion ?? null],
            ['text', (r) => r.programHash ?? null], ['bigint', (r) => r.chainSeq], ['text', (r) => r.hash], ['integer', (r) => r.redeemOffered],
          ])}
          ON CONFLICT DO NOTHING RETURNING id`,
    );
    const fresh = new Set(inserted.map((r) => r.id));
    const mine = payloads.filter((p) => fresh.has(p.receipt.id)); // a receipt already here brought its rows before
    const lines = mine.flatMap((p) => p.lines.map((l) => ({ ...l, receiptId: p.receipt.id })));
    if (lines.length) {
      await q.rows(
        sql`INSERT INTO receipt_lines (terminal_id, receipt_id, line_no, sku, category, qty, gross, discount, redeem, net, points_earned, name, unit_price, points_redeemed)
            ${unnest(lines, [
              ['text', same(T)], ['text', (l) => l.receiptId], ['integer', (l) => l.lineNo], ['text', (l) => l.sku], ['text', (l) => l.category], ['integer', (l) => l.qty],
              ['bigint', (l) => l.gross], ['bigint', (l) => l.discount], ['bigint', (l) => l.redeem], ['bigint', (l) => l.net], ['integer', (l) => l.pointsEarned],
              ['text', (l) => l.name ?? null], ['bigint', (l) => l.unitPrice ?? null], ['integer', (l) => l.pointsRedeemed ?? null],
            ])} ON CONFLICT DO NOTHING`,
      );
    }
    await this.noteOverReturns(q, mine.filter((p) => p.receipt.kind === 'return' && p.receipt.originalReceiptId && p.originalTerminalId));
    const delta: Delta = new Map();
    for (const p of mine) days.receipt({ ...p.receipt, redeemOffered: p.redeemOffered ?? 0 });
    await this.insertEntries(q, T, mine.flatMap((p) => p.entries.map((e) => ({ ...e, receiptId: p.receipt.id }))), delta, days);
    const merged = await this.mergedInto(q, mine.map((p) => p.receipt.cardholderId).filter((h): h is string => !!h));
    await this.settleWriteOffs(q, await this.burnsBefore(q, mine.map((p) => p.receipt), merged), delta);
    for (const { receipt: r } of mine) {
      if (!r.cardholderId) continue;
      const d = account(delta, merged.get(r.cardholderId) ?? r.cardholderId);
      const sale = r.kind === 'sale';
      d.spend += (sale ? 1 : -1) * (r.toPay + r.redeemKopecks);
      d.count += sale ? 1 : 0;
      if (sale && (!d.last || r.createdAt > d.last)) d.last = r.createdAt;
    }
    await this.applyDelta(q, delta);
  }

  /** Point entries not seen before (a retried batch adds nothing); their points go into `delta`. */
  private async insertEntries(q: Query, terminalId: string, entries: EntryPayload[], delta: Delta, days: StoreDayTally) {
    if (!entries.length) return;
    const added = await q.rows<{ id: string; cardholder_id: string; points: number }>(
      sql`INSERT INTO point_entries (cardholder_id, id, terminal_id, receipt_id, kind, points, lot_id, activates_at, expires_at, created_at, chain_seq, hash, inactive_since)
          ${unnest(entries, [
            ['text', (e) => e.cardholderId], ['text', (e) => e.id], ['text', same(terminalId)], ['text', (e) => e.receiptId], ['text', (e) => e.kind], ['integer', (e) => e.points],
            ['text', (e) => e.lotId], ['timestamptz', (e) => e.activatesAt], ['timestamptz', (e) => e.expiresAt], ['timestamptz', (e) => e.createdAt],
            ['bigint', (e) => e.chainSeq], ['text', (e) => e.hash], ['timestamptz', (e) => e.inactiveSince ?? null],
          ])} ON CONFLICT DO NOTHING RETURNING id, cardholder_id, points`,
    );
    for (const a of added) account(delta, a.cardholder_id).points += Number(a.points);
    const fresh = new Set(added.map((a) => a.id));
    for (const e of entries) if (fresh.has(e.id)) days.entry(e);
    // Entries a terminal wrote for a cardholder HQ has merged into another follow to the one kept.
    const merged = await this.mergedInto(q, added.map((a) => a.cardholder_id));
    const byKeep = new Map<string, EntryPayload[]>();
    for (const e of entries) {
      const keep = merged.get(e.cardholderId);
      if (keep && fresh.has(e.id)) byKeep.set(keep, [...(byKeep.get(keep) ?? []), e]);
    }
    for (const [keepId, list] of byKeep) await this.mirrorToKept(q, keepId, list, delta);
    // A welcome bonus, or a write-off of a lot HQ may have taken back as a second welcome: the
    // people (the cardholders kept) whose welcome lots to settle.
    const person = (id: string) => merged.get(id) ?? id;
    const welcomed = entries.filter((e) => fresh.has(e.id) && e.kind === 'welcome').map((e) => person(e.cardholderId));
    const writtenOff = entries.filter((e) => fresh.has(e.id) && (e.kind === 'expire' || e.kind === 'burn')).flatMap((e) => [e.cardholderId, person(e.cardholderId)]);
    const takenBack = writtenOff.length
      ? await q.rows<{ cardholder_id: string }>(sql`SELECT DISTINCT cardholder_id FROM point_entries WHERE cardholder_id = ANY(${sql.param([...new Set(writtenOff)])}::text[]) AND terminal_id = 'hq' AND kind = 'reverse'`)
      : [];
    await this.oneWelcomeEach(q, [...welcomed, ...takenBack.map((r) => person(r.cardholder_id))], delta);
    // Draws on lots (a write-off, a return, a spend) that may meet a write-off made without them.
    const drawn = entries.filter((e) => fresh.has(e.id) && e.lotId && e.lotId !== e.id && !merged.has(e.cardholderId));
    await this.settleWriteOffs(q, drawn.map((e) => ({ cardholderId: e.cardholderId, lotId: e.lotId! })), delta);
  }

  /**
   * A write-off and the draws it did not know of. Expiry or burn on one terminal writes off what is
   * left of a lot as that terminal sees it; a return of the sale that earned the lot takes back its
   * share (within what expiry has not already written off, as far as its terminal knows), and a
   * spend draws on the lot. Made on two terminals before either heard of the other, they take the
   * same points twice. Taken in any order on one terminal, a lot of p points, of which spends and
   * restores left p + d and returns took shares s in all, ends at min(0, p + d − s) once written
   * off: the customer keeps owing only what was spent of the points returned. HQ gives back what
   * took a lot below that, as a write-off entry of its own with positive points on the lot (so a
   * terminal counts it where it counts the write-off), and settles again as more draws arrive (it
   * may take back what it gave, never more). A return's share of a lot is where the sale's
   * returns (their nominal points, on their receipts) reach among the sale's earn lots in order.
   * Lots that a merge moved are left as they are.
   *
   * A burn after inactivity carries when the inactivity it saw began (`inactive_since`). A purchase
   * with the card (or that of a cardholder merged into it) between then and the burn, made on a
   * terminal the burning one had not heard from, shows there was no inactivity: HQ gives back all
   * the burn took, of an earned lot, a welcome bonus or a merge's copy of a lot on the cardholder
   * kept (HQ's "m+L", which the terminal that opened L burns, or the copy a terminal's own merge
   * opened), whichever of the two reaches it first. The write-offs that remain are settled as above.
   */
  private async settleWriteOffs(q: Query, lots: { cardholderId: string; lotId: string }[], delta: Delta) {
    if (!lots.length) return;
    const unique = [...new Map(lots.map((l) => [`${l.cardholderId} ${l.lotId}`, l])).values()];
    const rows = await q.rows<{ cardholder_id: string; lot_id: string; lot_kind: string; kind: string; owed: string; given: string; n: string }>(
      sql`WITH lots AS (
            SELECT o.cardholder_id, o.id AS lot_id, o.kind AS lot_kind, o.points AS p, o.terminal_id, o.receipt_id, o.chain_seq
            FROM (${unnest(unique, [['text', (l) => l.cardholderId], ['text', (l) => l.lotId]])}) AS c(cardholder_id, lot_id)
            JOIN point_entries o ON o.cardholder_id = c.cardholder_id AND o.id = c.lot_id AND o.kind IN ('earn', 'welcome', 'transfer')
          ), sums AS (
            SELECT l.cardholder_id, l.lot_id, l.lot_kind, l.p, l.terminal_id, l.receipt_id, l.chain_seq,
                   coalesce(sum(x.points) FILTER (WHERE x.kind IN ('expire', 'burn') AND x.terminal_id <> 'hq'), 0) AS w,
                   coalesce(sum(x.points) FILTER (WHERE x.kind = 'reverse' AND x.points < 0 AND x.terminal_id <> 'hq'), 0) AS b,
                   coalesce(sum(x.points) FILTER (WHERE x.kind IN ('expire', 'burn') AND x.terminal_id = 'hq'), 0) AS given,
                   count(*) FILTER (WHERE x.kind IN ('expire', 'burn') AND x.terminal_id = 'hq') AS n,
                   coalesce(sum(x.points) FILTER (WHERE NOT (x.kind IN ('expire', 'burn') OR (x.kind = 'reverse' AND x.points < 0 AND x.terminal_id <> 'hq'))), 0) AS d,
                   count(*) FILTER (WHERE x.kind = 'transfer') AS moved,
                   bool_or(x.kind = 'expire' AND x.terminal_id <> 'hq') AS expired,
                   coalesce(sum(CASE WHEN x.kind = 'burn' AND x.terminal_id <> 'hq' AND EXISTS (
                     SELECT 1 FROM receipts r
                     WHERE r.cardholder_id IN (SELECT l.cardholder_id UNION ALL SELECT m.cardholder_id FROM cardholders m WHERE m.merged_into = l.cardholder_id)
                       AND r.kind = 'sale' AND r.created_at >= x.inactive_since AND r.created_at < x.created_at)
                     THEN x.points END), 0) AS v
            FROM lots l LEFT JOIN point_entries x ON x.cardholder_id = l.cardholder_id AND x.lot_id = l.lot_id AND x.id <> l.lot_id
            GROUP BY l.cardholder_id, l.lot_id, l.lot_kind, l.p, l.terminal_id, l.receipt_id, l.chain_seq
          ), shares AS (
            SELECT s.*,
                   greatest(0, least(s.p, (SELECT coalesce(sum(r.points_earned), 0) FROM receipts r WHERE r.original_receipt_id = s.receipt_id AND r.kind = 'return')
                     - (SELECT coalesce(sum(e.points), 0) FROM point_entries e WHERE e.cardholder_id = s.cardholder_id AND e.receipt_id = s.receipt_id
                          AND e.terminal_id = s.terminal_id AND e.kind = 'earn' AND e.chain_seq < s.chain_seq))) AS share
            FROM sums s WHERE s.w < 0 AND s.moved = 0 AND (s.lot_kind = 'earn' AND s.receipt_id IS NOT NULL OR s.v < 0)
          )
          SELECT cardholder_id, lot_id, lot_kind, CASE WHEN expired THEN 'expire' ELSE 'burn' END AS kind,
                 -v + CASE WHEN lot_kind = 'earn' AND w - v < 0 THEN greatest(0, least(0, p + d - share) - (p + d + b + w - v)) ELSE 0 END AS owed, given, n
          FROM shares`,
    );
    const now = this.clock().toISOString();
    const settle = rows
      .filter((r) => Number(r.owed) !== Number(r.given))
      .map((r) => ({ kind: r.kind, lotKind: r.lot_kind, entry: { cardholderId: r.cardholder_id, id: Number(r.n) ? `x-${r.lot_id}.${Number(r.n)}` : `x-${r.lot_id}`, points: Number(r.owed) - Number(r.given), lotId: r.lot_id, activatesAt: null, expiresAt: null, createdAt: now } }));
    const written = [];
    for (const kind of ['expire', 'burn']) written.push(...(await this.writeOwnEntries(q, kind, settle.filter((x) => x.kind === kind).map((x) => x.entry), delta)));
    // Points burned that day at the store of the write-off's terminal are less what HQ gave back (as store_day_facts counts them).
    if (written.length) {
      await q.rows(
        sql`INSERT INTO store_days (store_id, day, burned)
            SELECT s.store_id, (s.created_at AT TIME ZONE 'UTC')::date, -sum(s.points)
            FROM hq_settlements s JOIN (${unnest(written, [['text', (a) => a.cardholder_id], ['text', (a) => a.id]])}) AS a(cardholder_id, id) USING (cardholder_id, id) GROUP BY 1, 2
            ON CONFLICT (store_id, day) DO UPDATE SET burned = store_days.burned + EXCLUDED.burned`,
      );
    }
    // A welcome lot (or HQ's copy of one) given back may be a second welcome, HQ's to take back now that nothing of it is written off.
    await this.oneWelcomeEach(q, settle.filter((x) => x.lotKind !== 'earn').map((x) => x.entry.cardholderId), delta);
  }

  /**
   * The lots burned for an inactivity that one of these sales falls in: the burning terminal had
   * not heard of it. A sale of a cardholder merged into another (`merged`) is that one's purchase.
   */
  private async burnsBefore(q: Query, receipts: { kind: string; cardholderId: string | null; createdAt: string }[], merged: Map<string, string>) {
    const sales = receipts.filter((r): r is typeof r & { cardholderId: string } => r.kind === 'sale' && !!r.cardholderId);
    if (!sales.length) return [];
    return q.rows<{ cardholderId: string; lotId: string }>(
      sql`SELECT DISTINCT x.cardholder_id AS "cardholderId", x.lot_id AS "lotId"
          FROM (${unnest(sales, [['text', (r) => merged.get(r.cardholderId) ?? r.cardholderId], ['timestamptz', (r) => r.createdAt]])}) AS s(cardholder_id, at)
          JOIN point_entries x ON x.cardholder_id = s.cardholder_id AND x.kind = 'burn' AND x.terminal_id <> 'hq' AND x.inactive_since <= s.at AND x.created_at > s.at`,
    );
  }

  /** Cardholders among `ids` that HQ merged into another: duplicate → kept. */
  private async mergedInto(q: Query, ids: string[]): Promise<Map<string, string>> {
    if (!ids.length) return new Map();
    const rows = await q.rows<{ cardholder_id: string; merged_into: string }>(
      sql`SELECT cardholder_id, merged_into FROM cardholders WHERE cardholder_id = ANY(${sql.param([...new Set(ids)])}::text[]) AND merged_into IS NOT NULL`,
    );
    return new Map(rows.map((r) => [r.cardholder_id, r.merged_into]));
  }

  /**
   * Moves a duplicate's entries to the cardholder kept, as HQ's own pair of transfer entries per
   * entry: one taking it off the duplicate, one putting it on the kept cardholder with the same
   * lot structure and expiry (lot L becomes lot "m+L"). The pairs reach every terminal through the
   * feed, so a terminal that sold on the duplicate ends up showing the merged balance.
   */
  private async mirrorToKept(q: Query, keepId: string, entries: Omit<EntryPayload, 'chainSeq' | 'hash'>[], delta: Delta) {
    const pairs = entries.flatMap((e): HqEntry[] => [
      { cardholderId: e.cardholderId, id: `m-${e.id}`, points: -e.points, lotId: e.lotId ?? e.id, activatesAt: null, expiresAt: null, createdAt: e.createdAt },
      { cardholderId: keepId, id: `m+${e.id}`, points: e.points, lotId: `m+${e.lotId ?? e.id}`, activatesAt: e.activatesAt, expiresAt: e.expiresAt, createdAt: e.createdAt },
    ]);
    await this.writeOwnEntries(q, 'transfer', pairs, delta);
  }

  /** Entries HQ writes itself (terminal 'hq', no chain): each id once, however often it is asked; their points go into `delta`. */
  private async writeOwnEntries(q: Query, kind: string, entries: HqEntry[], delta: Delta): Promise<{ cardholder_id: string; id: string }[]> {
    if (!entries.length) return [];
    const added = await q.rows<{ cardholder_id: string; id: string; points: number }>(
      sql`INSERT INTO point_entries (cardholder_id, id, terminal_id, receipt_id, kind, points, lot_id, activates_at, expires_at, created_at)
          ${unnest(entries, [
            ['text', (e) => e.cardholderId], ['text', (e) => e.id], ['text', same('hq')], ['text', same(null)], ['text', same(kind)], ['integer', (e) => e.points],
            ['text', (e) => e.lotId], ['timestamptz', (e) => e.activatesAt], ['timestamptz', (e) => e.expiresAt], ['timestamptz', (e) => e.createdAt],
          ])} ON CONFLICT DO NOTHING RETURNING cardholder_id, id, points`,
    );
    for (const a of added) account(delta, a.cardholder_id).points += Number(a.points);
    return added;
  }

  /**
   * One welcome bonus per person. A terminal that has not yet heard of a cardholder's first
   * purchase elsewhere (offline, or before its next pull) gives the bonus again; so can two
   * terminals that enrolled one person twice, which HQ then merged. Of a person's welcome lots
   * (the cardholder kept's and those of the cardholders HQ merged into it, whose points are on
   * their copies "m+L") the first to reach HQ stays. HQ takes each later one back with `reverse`
   * entries of its own on the lot, which reach every terminal through the feed: all of the lot
   * but what its expiry or burn wrote off (that is gone already), so it is called again when such
   * an entry arrives after the reversal. What was spent from the lot is taken back too: the
   * balance may go below zero, as after a return. `persons` are cardholders kept (the caller has
   * followed merges); the caller holds the feed lock.
   */
  private async oneWelcomeEach(q: Query, persons: string[], delta: Delta) {
    if (!persons.length) return;
    const people = sql.param([...new Set(persons)]);
    const lots = await q.rows<{ person: string; id: string; live: string; target: string; taken: string; n: string }>(
      sql`WITH members AS (
            SELECT person, person AS cardholder_id FROM unnest(${people}::text[]) AS person
            UNION SELECT merged_into, cardholder_id FROM cardholders WHERE merged_into = ANY(${people}::text[])
          ), lots AS (
            -- Where a merged cardholder's lot lives on the one kept: HQ's merge mirrored it as "m+<lot>";
            -- a terminal's merge closed it with a transfer draw and opened the copy next in its chain.
            SELECT m.person, e.cardholder_id, e.id, e.points,
                   CASE WHEN e.cardholder_id = m.person THEN e.id ELSE coalesce(
                     (SELECT c.id FROM point_entries c WHERE c.cardholder_id = m.person AND c.id = 'm+' || e.id),
                     (SELECT c.id FROM point_entries t JOIN point_entries c
                        ON c.cardholder_id = m.person AND c.terminal_id = t.terminal_id AND c.chain_seq = t.chain_seq + 1 AND c.kind = 'transfer' AND c.lot_id = c.id
                      WHERE t.cardholder_id = e.cardholder_id AND t.lot_id = e.id AND t.kind = 'transfer' AND t.points < 0
                      ORDER BY t.hq_seq DESC LIMIT 1)) END AS live,
                   row_number() OVER (PARTITION BY m.person ORDER BY e.hq_seq) AS nth
            FROM members m JOIN point_entries e ON e.cardholder_id = m.cardholder_id AND e.kind = 'welcome'
          ), later AS (
            SELECT * FROM lots l WHERE l.nth > 1 AND l.live IS NOT NULL
          )
          SELECT l.person, l.id, l.live,
                 greatest(0, l.points + (SELECT coalesce(sum(d.points), 0) FROM point_entries d WHERE d.kind IN ('expire', 'burn')
                   AND d.cardholder_id IN (l.cardholder_id, l.person) AND d.lot_id IN (l.id, l.live))) AS target,
                 r.taken, r.n
          FROM later l CROSS JOIN LATERAL (
            SELECT coalesce(-sum(r.points), 0) AS taken, count(*) AS n FROM point_entries r
            WHERE r.cardholder_id IN (l.cardholder_id, l.person) AND r.terminal_id = 'hq' AND r.kind = 'reverse' AND r.lot_id IN (l.id, l.live)
          ) r`,
    );
    const now = this.clock().toISOString();
    const entries = lots
      .filter((l) => Number(l.target) !== Number(l.taken))
      .map((l): HqEntry => {
        const n = Number(l.n);
        return { cardholderId: l.person, id: n ? `w-${l.id}.${n}` : `w-${l.id}`, points: Number(l.taken) - Number(l.target), lotId: l.live, activatesAt: null, expiresAt: null, createdAt: now };
      });
    await this.writeOwnEntries(q, 'reverse', entries, delta);
  }

  /**
   * Offline enrollment on two terminals can make two cardholders of one person. HQ finds them by
   * phone and keeps the one enrolled first: the duplicate's cards move to it (and go round the
   * feed, so every terminal rebinds them), its entries and purchase history follow.
   */
  private async mergeDuplicateByPhone(q: Query, cardholderId: string, phone: string) {
    const [keep] = await q.rows<{ cardholder_id: string }>(
      sql`SELECT cardholder_id FROM cardholders WHERE holder->>'phone' = ${phone} AND merged_into IS NULL AND cardholder_id <> ${cardholderId}
          ORDER BY enrolled_at, cardholder_id LIMIT 1`,
    );
    if (!keep) return;
    const keepId = keep.cardholder_id;
    await q.rows(sql`UPDATE cardholders SET merged_into = ${keepId} WHERE cardholder_id = ${cardholderId}`);
    await q.rows(
      sql`WITH moved AS (DELETE FROM cards WHERE cardholder_id = ${cardholderId} RETURNING card_id, number, chip_uid, status)
          INSERT INTO cards (cardholder_id, card_id, number, chip_uid, status) SELECT ${keepId}, card_id, number, chip_uid, status FROM moved`,
    );
    const delta: Delta = new Map();
    const existing = await q.rows<{ id: string; points: number; lot_id: string | null; activates_at: unknown; expires_at: unknown; created_at: unknown }>(
      sql`SELECT id, points, lot_id, activates_at, expires_at, created_at FROM point_entries WHERE cardholder_id = ${cardholderId} AND (terminal_id <> 'hq' OR id LIKE 'w-%')`, // HQ's welcome reversals move too
    );
    const iso = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string).toISOString());
    await this.mirrorToKept(
      q,
      keepId,
      existing.map((e) => ({ id: e.id, cardholderId, kind: 'transfer', points: Number(e.points), lotId: e.lot_id, activatesAt: iso(e.activates_at), expiresAt: iso(e.expires_at), createdAt: iso(e.created_at)!, receiptId: null })),
      delta,
    );
    if (existing.length) await this.oneWelcomeEach(q, [keepId], delta);
    const [dup] = await q.rows<{ lifetime_spend: string; purchase_count: number; last_purchase_at: unknown }>(sql`SELECT lifetime_spend, purchase_count, last_purchase_at FROM balances WHERE cardholder_id = ${cardholderId}`);
    if (dup) {
      const keepD = account(delta, keepId);
      const dupD = account(delta, cardholderId);
      keepD.spend += Number(dup.lifetime_spend);
      keepD.count += Number(dup.purchase_count);
      keepD.last = iso(dup.last_purchase_at);
      dupD.spend -= Number(dup.lifetime_spend);
      dupD.count -= Number(dup.purchase_count);
    }
    await this.applyDelta(q, delta);
  }

  private async applyDelta(q: Query, delta: Delta) {
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
    const fresh = await q.rows(
      sql`INSERT INTO cardholders (cardholder_id, holder, enrolled_at, store_id) VALUES (${e.cardholderId}, ${JSON.stringify(e.holder)}::jsonb, ${e.enrolledAt}, ${caller.storeId})
          ON CONFLICT DO NOTHING RETURNING cardholder_id`,
    );
    if (e.card) {
      await q.rows(sql`INSERT INTO cards (cardholder_id, card_id, number, chip_uid, status) VALUES (${e.cardholderId}, ${e.card.cardId}, ${e.card.number}, ${e.card.chipUid}, 'active') ON CONFLICT DO NOTHING`);
    }
    if (fresh.length && typeof e.holder.phone === 'string' && e.holder.phone) await this.mergeDuplicateByPhone(q, e.cardholderId, e.holder.phone);
    return null;
  }

  /** HQ-side enrollment (a chain's existing card base, or the demo). */
  async enrollAtHq(e: { cardholderId: string; holder: Record<string, unknown>; enrolledAt: string; card: { cardId: string; number: string; chipUid: string | null } }) {
    await this.db.tx(async (q) => {
      await q.rows(sql`SELECT pg_advisory_xact_lock(${FEED_LOCK})`);
      await this.applyEnroll(q, { terminalId: 'hq', storeId: 'hq' }, e);
    });
  }

  // ---- programs -----------------------------------------------------------------------------

  /**
   * Publishes a loyalty program version to every terminal (through the feed), in force from
   * `activeFrom` (at once by default): validated as the terminals validate it, each version once.
   * The same version again is a no-op; other content under a published version, or a version
   * below the newest of that program, is refused.
   */
  async publishProgram(json: unknown, opts: { activeFrom?: string } = {}): Promise<PublishedProgram & { published: boolean }> {
    const checked = validateProgram(json);
    if (!checked.ok) throw new HqError(400, `the program is invalid: ${describeErrors(checked.errors)}`, 'program_invalid');
    const { program, hash } = checked;
    const now = this.clock().toISOString();
    const activeFrom = opts.activeFrom ?? now;
    if (!/^\d{4}-\d{2}-\d{2}T/.test(activeFrom) || Number.isNaN(Date.parse(activeFrom))) {
      throw new HqError(400, `activeFrom must be a date and time (ISO 8601, e.g. 2027-01-01T00:00:00+03:00), not "${activeFrom}"`, 'program_invalid');
    }
    return this.db.tx(async (q) => {
      await q.rows(sql`SELECT pg_advisory_xact_lock(${FEED_LOCK})`);
      const versions = await q.rows<Row>(sql`SELECT ${PROGRAM_COLUMNS} FROM programs WHERE program_id = ${program.id} ORDER BY version DESC`);
      const taken = versions.find((v) => Number(v.version) === program.version);
      const newest = versions[0] ? Number(versions[0].version) : 0;
      if (taken?.withdrawn_at) throw new HqError(409, `version ${program.version} of program ${program.id} was withdrawn: publish it as version ${newest + 1}`, 'program_version_taken');
      if (taken && taken.hash === hash) return { ...publishedProgram(taken), published: false };
      if (taken) throw new HqError(409, `version ${program.version} of program ${program.id} is already published with other content: publish the change as version ${newest + 1}`, 'program_version_taken');
      if (program.version < newest) throw new HqError(409, `program ${program.id} is at version ${newest}: publish a higher version (${newest + 1})`, 'program_version_old');
      const [row] = await q.rows<Row>(
        sql`INSERT INTO programs (program_id, version, hash, definition, published_at, active_from)
            VALUES (${program.id}, ${program.version}, ${hash}, ${JSON.stringify(program)}::jsonb, ${now}, ${new Date(activeFrom).toISOString()})
            RETURNING ${PROGRAM_COLUMNS}`,
      );
      return { ...publishedProgram(row!), published: true };
    });
  }

  /**
   * Withdraws a version whose moment has not come: it never comes into force. It takes a new place
   * in the feed, so each terminal that pulled it drops it (one whose clock ran ahead and put it in
   * force goes back to the version HQ has in force). A version already in force, or whose moment
   * has passed, is not withdrawn: a new version changes the program from then on.
   */
  async withdrawProgram(id: string, version: number): Promise<PublishedProgram & { withdrawn: boolean }> {
    return this.db.tx(async (q) => {
      await q.rows(sql`SELECT pg_advisory_xact_lock(${FEED_LOCK})`);
      const [row] = await q.rows<Row>(sql`SELECT ${PROGRAM_COLUMNS} FROM programs WHERE program_id = ${id} AND version = ${version}`);
      if (!row) throw new HqError(404, `program ${id} has no version ${version}`, 'program_unknown');
      if (row.withdrawn_at) return { ...publishedProgram(row), withdrawn: false };
      const now = this.clock();
      const activeFrom = new Date(row.active_from as string);
      if (activeFrom <= now) {
        throw new HqError(409, `version ${version} of program ${id} has been in force since ${activeFrom.toISOString()}: publish a new version (from a moment) to change the program`, 'program_in_force');
      }
      const [withdrawn] = await q.rows<Row>(
        sql`UPDATE programs SET withdrawn_at = ${now.toISOString()}, hq_seq = nextval('hq_feed') WHERE program_id = ${id} AND version = ${version} RETURNING ${PROGRAM_COLUMNS}`,
      );
      return { ...publishedProgram(withdrawn!), withdrawn: true };
    });
  }

  /**
   * Every published version, newest first, with its state: the one in force now (the newest
   * published whose moment has come), those still to come, those replaced (or that never will be
   * in force: a version published after them comes into force first), and those withdrawn.
   */
  async programs(): Promise<(PublishedProgram & { state: 'in force' | 'to come' | 'replaced' | 'withdrawn' })[]> {
    const now = this.clock().getTime();
    const all = (await this.db.rows<Row>(sql`SELECT ${PROGRAM_COLUMNS} FROM programs ORDER BY hq_seq DESC`)).map(publishedProgram);
    const versions = all.filter((p) => !p.withdrawnAt);
    const inForce = versions.find((p) => Date.parse(p.activeFrom) <= now);
    const toCome = (p: PublishedProgram) => Date.parse(p.activeFrom) > now && !versions.some((q) => q.hqSeq > p.hqSeq && q.activeFrom <= p.activeFrom);
    return all.map((p) => ({ ...p, state: p.withdrawnAt ? 'withdrawn' : p === inForce ? 'in force' : toCome(p) ? 'to come' : 'replaced' }));
  }

  // ---- pull: the feed --------------------------------------------------------------------------

  /** A page of the feed after `cursor`; `program`: the hash of the program the caller prices with, kept for the terminals' view. */
  async pull(caller: Caller, cursor: number, limit = 5000, program: string | null = null): Promise<PullResponse> {
    // Written only when it changed: terminals pull every few seconds.
    if (program) await this.db.rows(sql`UPDATE terminals SET program_hash = ${program} WHERE terminal_id = ${caller.terminalId} AND program_hash IS DISTINCT FROM ${program}`);
    const entries = await this.db.rows<Row>(
      sql`SELECT hq_seq, id, terminal_id, cardholder_id, kind, points, lot_id, activates_at, expires_at, created_at, chain_seq
          FROM point_entries WHERE hq_seq > ${cursor} ORDER BY hq_seq LIMIT ${limit + 1}`,
    );
    const cards = await this.db.rows<Row>(
      sql`SELECT c.hq_seq, c.card_id, c.number, c.chip_uid, c.status, c.cardholder_id, h.holder, h.enrolled_at
          FROM cards c JOIN cardholders h ON h.cardholder_id = c.cardholder_id WHERE c.hq_seq > ${cursor} ORDER BY c.hq_seq LIMIT ${limit + 1}`,
    );
    // Receipts of other terminals only (the caller counts its own), and none past the place where
    // a full page of entries or cards ends: the page cannot reach them, and a terminal pulling
    // after its own backlog does not read through every receipt it sent, page after page.
    const ends = [entries, cards].filter((rows) => rows.length > limit).map((rows) => Number(rows[limit]!.hq_seq));
    const bound = ends.length ? Math.min(...ends) : Number.MAX_SAFE_INTEGER;
    const receipts = await this.db.rows<Row>(
      // Counted for the cardholder kept, if HQ has merged the one the receipt names since.
      sql`SELECT r.hq_seq, coalesce(h.merged_into, r.cardholder_id) AS cardholder_id, r.kind, r.to_pay + r.redeem_kopecks AS spend, r.created_at,
                 r.id, r.original_receipt_id, r.points_earned, ${RETURNED_LINES} AS returned_lines, ${SOLD_LINES} AS sold_lines
          FROM receipts r LEFT JOIN cardholders h ON h.cardholder_id = r.cardholder_id
          WHERE r.hq_seq > ${cursor} AND r.hq_seq < ${bound} AND r.cardholder_id IS NOT NULL AND r.terminal_id <> ${caller.terminalId}
          ORDER BY r.hq_seq LIMIT ${limit + 1}`,
    );
    const programs = await this.db.rows<Row>(sql`SELECT ${PROGRAM_COLUMNS} FROM programs WHERE hq_seq > ${cursor} AND hq_seq < ${bound} ORDER BY hq_seq LIMIT ${limit + 1}`);
    const merged = [
      ...entries.map((e) => ({ seq: Number(e.hq_seq), e })),
      ...cards.map((c) => ({ seq: Number(c.hq_seq), c })),
      ...receipts.map((r) => ({ seq: Number(r.hq_seq), r })),
      ...programs.map((p) => ({ seq: Number(p.hq_seq), p })),
    ].sort((a, b) => a.seq - b.seq);
    const page = merged.slice(0, limit);
    const iso = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string).toISOString());
    const purchases: RemotePurchase[] = [];
    const out: PullResponse = { cursor: page.at(-1)?.seq ?? cursor, more: merged.length > limit, entries: [], cards: [], purchases, programs: [] };
    for (const item of page) {
      if ('p' in item) {
        out.programs!.push(publishedProgram(item.p));
      } else if ('r' in item) {
        const r = item.r;
        const spend = Number(r.spend);
        const returnOf = r.kind === 'return' && r.original_receipt_id ? { returnOf: { saleId: r.original_receipt_id as string, ...returnElsewhere(r) } } : {};
        const sale = r.sold_lines ? { sale: { id: r.id as string, lines: soldLines(r.sold_lines) } } : {};
        purchases.push({ hqSeq: item.seq, cardholderId: r.cardholder_id as string, kind: r.kind as 'sale' | 'return', spend: r.kind === 'return' ? -spend : spend, createdAt: iso(r.created_at)!, ...returnOf, ...sale });
      } else if ('e' in item) {
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
          chainSeq: e.chain_seq === null || e.chain_seq === undefined ? null : Number(e.chain_seq),
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

  /**
   * A sale made on another terminal, for the caller to take back: by the number on the receipt.
   * Only a sale with a card (the feed tells its terminal of returns made elsewhere only then), and
   * only one whose lines carry what a return needs (uploaded since HQ keeps it).
   */
  async saleForReturn(caller: Caller, number: string): Promise<SaleElsewhere> {
    const [r] = await this.db.rows<Row>(
      sql`SELECT r.terminal_id, r.id, r.number, r.card_id, r.cardholder_id, r.created_at, r.program_id, r.program_version, r.program_hash, r.to_pay,
                 r.points_earned, r.points_redeemed, r.hq_seq
          FROM receipts r WHERE r.number = ${number} AND r.kind = 'sale' ORDER BY r.created_at DESC LIMIT 1`,
    );
    if (!r) throw new HqError(404, `no sale ${number} in the chain`);
    if (r.terminal_id === caller.terminalId) throw new HqError(409, `sale ${number} was made on this terminal, but its ledger does not have it`, 'sale_of_caller');
    if (!r.cardholder_id) throw new HqError(409, `sale ${number} was made without a card: it is returned on its own terminal`, 'sale_without_card');
    const T = r.terminal_id as string;
    const lines = await this.db.rows<Row>(
      sql`SELECT sku, name, category, qty, unit_price, gross, discount, redeem, net, points_earned, points_redeemed FROM receipt_lines
          WHERE terminal_id = ${T} AND receipt_id = ${r.id} ORDER BY line_no`,
    );
    if (lines.some((l) => l.name === null || l.points_redeemed === null)) throw new HqError(409, `sale ${number} was uploaded before HQ kept what a return needs: it is returned on its own terminal`, 'sale_without_lines');
    const entries = await this.db.rows<Row>(
      sql`SELECT kind, points, coalesce(lot_id, id) AS lot_id, hq_seq FROM point_entries
          WHERE cardholder_id = ${r.cardholder_id} AND receipt_id = ${r.id} AND terminal_id = ${T} ORDER BY chain_seq`,
    );
    const returns = await this.db.rows<Row>(
      sql`SELECT r.id, r.points_earned, ${RETURNED_LINES} AS returned_lines FROM receipts r
          WHERE r.original_receipt_id = ${r.id} AND r.kind = 'return' AND r.terminal_id <> ${caller.terminalId} ORDER BY r.hq_seq`,
    );
    const n = (v: unknown) => Number(v);
    return {
      id: r.id as string,
      number: r.number as string,
      terminalId: T,
      cardId: (r.card_id as string | null) ?? null,
      cardholderId: r.cardholder_id as string,
      createdAt: new Date(r.created_at as string).toISOString(),
      program: { id: String(r.program_id ?? ''), version: n(r.program_version ?? 0), hash: String(r.program_hash ?? '') },
      lines: lines.map((l) => ({
        sku: l.sku as string,
        name: l.name as string,
        category: l.category as string,
        qty: n(l.qty),
        unitPrice: n(l.unit_price ?? 0),
        gross: n(l.gross),
        discount: n(l.discount),
        redeem: n(l.redeem),
        net: n(l.net),
        pointsEarned: n(l.points_earned),
        pointsRedeemed: n(l.points_redeemed),
      })),
      totals: { toPay: n(r.to_pay), pointsEarned: n(r.points_earned), pointsRedeemed: n(r.points_redeemed) },
      fromLots: entries.filter((e) => e.kind === 'redeem').map((e) => ({ lotId: e.lot_id as string, points: -n(e.points) })),
      earnLots: entries.filter((e) => e.kind === 'earn').map((e) => ({ lotId: e.lot_id as string, points: n(e.points) })),
      returns: returns.map(returnElsewhere),
      feedThrough: Math.max(n(r.hq_seq), ...entries.map((e) => n(e.hq_seq))),
    };
  }

  // ---- views -------------------------------------------------------------------------------

  async balances(): Promise<Map<string, number>> {
    const rows = await this.db.rows<{ cardholder_id: string; points: string | number }>(sql`SELECT cardholder_id, points FROM balances`);
    return new Map(rows.map((r) => [r.cardholder_id, Number(r.points)]));
  }

  /** Each terminal's sync health, and the program it prices with: HQ's version (in force now or
   *  not), or one HQ did not publish (a file or the demo: its hash alone). */
  async terminalsHealth() {
    const inForce = (await this.programs()).find((p) => p.state === 'in force')?.hash ?? null;
    return this.db.rows(
      sql`SELECT t.terminal_id, t.store_id, t.last_contact_at, t.acked_seq, t.pending_reported, t.oldest_pending_at, t.rejected_ops, t.revoked_at IS NOT NULL AS revoked,
                 t.program_hash, p.program_id, p.version AS program_version, CASE WHEN p.hash IS NOT NULL THEN p.hash = ${inForce} END AS program_in_force
          FROM terminals t LEFT JOIN programs p ON p.hash = t.program_hash ORDER BY t.store_id, t.terminal_id`,
    );
  }
}
