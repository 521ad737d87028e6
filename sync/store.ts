// The terminal's side of sync, all in the ledger's SQLite: the outbox (what to push), the
// acknowledgements, the pull cursor, and HQ's feed applied in one transaction per page.
// Everything needed to resume after a crash is in the database.
import { isAscii } from 'node:buffer';
import type { Ledger } from '../db/ledger';
import { describeErrors, validateProgram } from '../engine';
import type { PullResponse, PulledProgram, PushResponse } from '../protocol/sync';

/** An outbox row on its way to HQ; the payload as bytes: the JSON it was committed as, or for a
 *  sale, what its row names read from the ledger (Ledger.uploadPayloads). */
export interface PendingOp {
  seq: number;
  opId: string;
  kind: string;
  createdAt: string;
  payloadJson: Buffer;
}

/** How a payload that names its ledger rows begins (Ledger.writeReceipt writes `rows` first). */
const ROWS = Buffer.from('{"rows":');

export class SyncStore {
  private readonly stmts;

  constructor(private readonly ledger: Ledger) {
    const db = ledger.sqlite;
    this.stmts = {
      // The payload read as bytes: it goes into the request body as it is, never decoded into a string.
      pending: db.prepare('SELECT seq, op_id, kind, CAST(payload AS BLOB) AS payload, created_at FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?'),
      last: db.prepare('SELECT coalesce(max(seq), 0) FROM outbox').pluck(),
      createdAt: db.prepare('SELECT created_at FROM outbox WHERE seq = ?').pluck(),
      ackResult: db.prepare('UPDATE outbox SET acked_at = ?, result = ? WHERE seq = ?'),
      get: db.prepare('SELECT value FROM sync_state WHERE key = ?').pluck(),
      put: db.prepare('INSERT INTO sync_state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      remote: db.prepare(
        `INSERT INTO remote_entries (id, hq_seq, terminal_id, cardholder_id, kind, points, lot_id, activates_at, expires_at, created_at, chain_seq)
         VALUES (@id, @hqSeq, @terminalId, @cardholderId, @kind, @points, @lotId, @activatesAt, @expiresAt, @createdAt, @chainSeq) ON CONFLICT(id) DO NOTHING`,
      ),
    };
  }

  get(key: string): string | null {
    return (this.stmts.get.get(key) as string | undefined) ?? null;
  }

  put(key: string, value: string) {
    this.stmts.put.run(key, value);
  }

  /** The operations after `after` (default: the acknowledged mark), in order, ready to send. */
  pending(limit: number, after = this.ackedThrough()): PendingOp[] {
    const rows = this.stmts.pending.all(after, limit) as { seq: number; op_id: string; kind: string; payload: Buffer; created_at: string }[];
    // The sales' payloads name their rows: read for the whole page at once.
    const named = rows.filter((r) => r.payload.subarray(0, ROWS.length).equals(ROWS));
    const uploads = this.ledger.uploadPayloads(named.map((r) => JSON.parse(r.payload.toString('utf8')) as Record<string, unknown>));
    const uploadOf = new Map(named.map((r, i) => [r, uploads[i]!]));
    // A payload with non-ASCII text (a name, a reason) goes as ASCII JSON, its value the same.
    const ascii = (json: string) => Buffer.from(asciiText(json), 'latin1');
    return rows.map((r) => {
      const built = uploadOf.get(r) ?? (r.kind === 'enroll' ? this.withHolderOpened(r.payload) : undefined);
      const payloadJson = built ? ascii(JSON.stringify(built)) : isAscii(r.payload) ? r.payload : ascii(r.payload.toString('utf8'));
      return { seq: r.seq, opId: r.op_id, kind: r.kind, createdAt: r.created_at, payloadJson };
    });
  }

  /** An enrollment's payload with its holder opened, if it went into the outbox sealed. */
  private withHolderOpened(payload: Buffer): Record<string, unknown> | undefined {
    const { sealedHolder, ...rest } = JSON.parse(payload.toString('utf8')) as { sealedHolder?: string };
    return sealedHolder ? { ...rest, holder: this.ledger.openSealedHolder(sealedHolder) } : undefined;
  }

  /**
   * HQ's acknowledged mark. Operations are numbered without gaps and acknowledged in order, so
   * "acknowledged" is seq ≤ this mark (one settings row, not a rewrite of every outbox row).
   */
  ackedThrough(): number {
    return Number(this.get('acked_through') ?? 0);
  }

  stats(): { pending: number; oldestPendingAt: string | null } {
    const acked = this.ackedThrough();
    const pending = (this.stmts.last.get() as number) - acked;
    return { pending, oldestPendingAt: pending > 0 ? ((this.stmts.createdAt.get(acked + 1) as string | undefined) ?? null) : null };
  }

  /** Moves the mark to what HQ acknowledged; a refused operation keeps HQ's reason on its row. */
  acknowledge(sent: PendingOp[], response: PushResponse, now: string): number {
    const before = this.ackedThrough();
    const through = Math.min(response.ackedThrough, sent.at(-1)?.seq ?? before);
    if (through <= before) return 0;
    this.ledger.sqlite.transaction(() => {
      this.put('acked_through', String(through));
      for (const r of response.results) if (r.status === 'rejected' && r.seq > before && r.seq <= through) this.stmts.ackResult.run(now, JSON.stringify(r), r.seq);
    }).immediate();
    return through - before;
  }

  cursor(): number {
    return Number(this.get('hq_cursor') ?? 0);
  }

  /** One page of HQ's feed and the cursor after it, together or not at all. */
  applyPull(page: PullResponse, now: string = new Date().toISOString()) {
    this.ledger.sqlite.transaction(() => {
      for (const c of page.cards) this.ledger.importCard({ ...c, holder: c.holder as never });
      for (const e of page.entries) this.stmts.remote.run({ ...e, chainSeq: e.chainSeq ?? null });
      for (const p of page.purchases ?? []) {
        this.ledger.countRemotePurchase(p);
        if (p.returnOf) this.ledger.noteReturnElsewhere(p.returnOf.saleId, p.returnOf);
      }
      for (const p of page.programs ?? []) this.takeProgram(p, now);
      if (page.programs?.length) this.ledger.activateDueProgram(now);
      this.put('hq_cursor', String(page.cursor));
    }).immediate();
  }

  /**
   * A program version HQ published is kept, and becomes the one the tills price with when its
   * moment comes (at once, if it has), once it validates here as it did at HQ (the same hash).
   * One that does not (a terminal older than the program's format) is refused, and the tills keep
   * the program they have; the refusal is kept for the status screen. Either way the feed moves on.
   * A version HQ withdrew before its moment is dropped.
   */
  private takeProgram(p: PulledProgram, now: string) {
    if (p.withdrawnAt) {
      this.ledger.dropHqProgram(p.id, p.version, now);
      if (this.programRefused()?.startsWith(notValid(p))) this.put('program_refused', '');
      return;
    }
    const checked = validateProgram(p.definition);
    const from = Date.parse(p.activeFrom);
    if (checked.ok && checked.hash === p.hash && Number.isSafeInteger(p.hqSeq) && !Number.isNaN(from)) {
      this.ledger.keepHqProgram({ program: checked.program, hash: checked.hash, hqSeq: p.hqSeq, activeFrom: new Date(from).toISOString() }, now);
      this.put('program_refused', '');
      return;
    }
    const why = !checked.ok ? describeErrors(checked.errors) : checked.hash !== p.hash ? `its hash here is ${checked.hash}, at HQ ${p.hash}` : `no moment to come into force: ${String(p.activeFrom)}`;
    this.put('program_refused', `${notValid(p)} (${why}); the tills keep the program they had`);
  }

  /** Why the newest program HQ published is not in force here, if it is not. */
  programRefused(): string | null {
    return this.get('program_refused') || null;
  }
}

const notValid = (p: PulledProgram) => `HQ's program ${p.id} version ${p.version} does not validate on this terminal`;

/**
 * JSON text with every non-ASCII character written as a \u escape: the same value, but text that
 * stays one byte per character on its way to HQ (decoded and parsed there without the slow paths
 * a Cyrillic reason or product name would otherwise put every batch on).
 */
function asciiText(json: string): string {
  return json.replace(/[\u007f-\uffff]+/g, escapeRun);
}

/** A run of non-ASCII characters as \u escapes (one call per word, not one per character). */
function escapeRun(run: string): string {
  let out = '';
  for (let i = 0; i < run.length; i++) out += `\\u${run.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return out;
}
