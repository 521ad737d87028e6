// The terminal's sync loop: push the outbox in batches until HQ has acknowledged everything,
// then pull HQ's feed until the cursor is current. Offline, it backs off with jitter and tries
// again; every step is resumable from the database, so a crash at any point loses nothing and
// repeats nothing at HQ (HQ applies each operation once, keyed by (terminal, seq)).
import type { Ledger } from '../db/ledger';
import type { SyncStatus } from '../protocol/api';
import { HqClient, SyncHttpError } from './client';
import { loadOrCreateTerminalKey } from './keys';
import { SyncStore } from './store';
import { AllowanceStore, type OfflineRedemption } from './allowances';
import type { PushResponse } from '../protocol/sync';
import type { PendingOp } from './store';

interface Batch {
  ops: PendingOp[];
  response: Promise<Settled<PushResponse>>;
}
/** Batches in flight at once while pushing a backlog. */
const PIPELINE = 3;
type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };
const settle = <T>(p: Promise<T>): Promise<Settled<T>> => p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));

export interface SyncAgentOptions {
  hqUrl: string;
  /** Private key file (default `<ledger>.sync-key`). */
  keyFile: string;
  clock?: () => Date;
  random?: () => number;
  /** Pause between rounds when everything is in sync. */
  idleMs?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  timeoutMs?: number;
  onStatus?: (status: SyncStatus) => void;
}

export class SyncAgent {
  readonly store: SyncStore;
  readonly allowances: AllowanceStore;
  /** Cards identified here since the last round: they get an allowance next time. */
  private readonly wantedCards = new Set<string>();
  private readonly client: HqClient;
  private readonly clock: () => Date;
  private readonly random: () => number;
  private batch = 200;
  private failures = 0;
  private online = false;
  private lastSuccessAt: string | null = null;
  private lastError: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private turn: Promise<unknown> = Promise.resolve();
  private stopped = true;

  constructor(
    private readonly ledger: Ledger,
    private readonly opts: SyncAgentOptions,
  ) {
    this.store = new SyncStore(ledger);
    this.allowances = new AllowanceStore(ledger, this.store);
    this.lastSuccessAt = this.store.get('last_success_at');
    this.clock = opts.clock ?? (() => new Date());
    this.random = opts.random ?? Math.random;
    this.client = new HqClient(opts.hqUrl, ledger.terminalId, loadOrCreateTerminalKey(opts.keyFile), opts.timeoutMs ?? 15_000);
  }

  registered(): boolean {
    return this.store.get('hq_store_id') !== null;
  }

  async register(code: string) {
    const r = await this.client.register(code);
    this.store.put('hq_store_id', r.storeId);
    this.store.put('hq_url', this.opts.hqUrl);
    return r;
  }

  /** A card was identified at this terminal: it gets an offline allowance at the next round. */
  want(cardholderId: string) {
    this.wantedCards.add(cardholderId);
  }

  /**
   * Online: HQ's word on the points this card may pay with now, less what this terminal's sales
   * not yet at HQ already took. Null when HQ cannot answer (the offline rules apply then).
   */
  async onlineRedemption(cardholderId: string): Promise<number | null> {
    // Sales made under this card's allowance must reach HQ before HQ takes the allowance back.
    const pendingUnderAllowance = this.ledger.sqlite
      .prepare(`SELECT 1 FROM outbox o JOIN receipts r ON r.id = o.op_id WHERE o.seq > ? AND r.cardholder_id = ? AND o.payload LIKE '%"allowanceAgeMs"%' LIMIT 1`)
      .get(this.store.ackedThrough(), cardholderId);
    if (pendingUnderAllowance) return null;
    try {
      const { available } = await this.client.redeemCheck(cardholderId);
      this.ledger.sqlite.prepare('DELETE FROM allowances WHERE cardholder_id = ?').run(cardholderId);
      const unacked = this.ledger.sqlite
        .prepare(`SELECT coalesce(sum(r.points_redeemed), 0) FROM receipts r JOIN outbox o ON o.op_id = r.id WHERE r.cardholder_id = ? AND r.kind = 'sale' AND o.seq > ?`)
        .pluck()
        .get(cardholderId, this.store.ackedThrough()) as number;
      return Math.max(0, available - unacked);
    } catch (e) {
      this.failed(e);
      return null;
    }
  }

  /** While offline: what this card may pay with here, under HQ's allowance. */
  offlineRedemption(cardholderId: string): OfflineRedemption {
    return this.allowances.offlineRedemption(cardholderId, this.clock().toISOString(), this.lastSuccessAt);
  }

  status(): SyncStatus {
    const s = this.store.stats();
    return { online: this.online, hqUrl: this.opts.hqUrl, pendingOperations: s.pending, oldestPendingAt: s.oldestPendingAt, lastSuccessAt: this.lastSuccessAt, lastError: this.lastError };
  }

  /** One full round: push everything, then pull everything. Throws when HQ cannot be reached. */
  syncOnce(): Promise<{ pushed: number; pulled: number }> {
    return this.inTurn(() => this.round());
  }

  /**
   * A sale made on another terminal, from HQ, kept in the ledger to be returned here; then HQ's
   * feed is pulled as far as the sale's entries (a return made elsewhere meanwhile comes with it,
   * and is kept now that the sale is; should the pull fail, the ledger refuses the return until a
   * later round has brought them). Throws SyncHttpError: 404 when the chain has no such sale, 409
   * when it is not to be returned here, no status when HQ cannot be reached.
   */
  async fetchSaleElsewhere(number: string): Promise<void> {
    if (!this.registered()) throw new SyncHttpError(null, 'this terminal is not registered with HQ');
    const sale = await this.client.saleForReturn(number).catch((e: unknown) => {
      if (e instanceof SyncHttpError && e.status === null) this.failed(e);
      throw e;
    });
    this.ledger.keepSaleElsewhere(sale, this.clock().toISOString());
    if (sale.feedThrough > this.store.cursor()) await this.inTurn(() => this.pullAll()).catch((e: unknown) => this.failed(e));
  }

  /** Rounds and pulls one at a time: two pulls from one cursor would count a page twice. */
  private inTurn<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.turn.then(fn, fn);
    this.turn = run.catch(() => undefined);
    return run;
  }

  private async pullAll(): Promise<number> {
    let pulled = 0;
    // The program in force here (one HQ scheduled comes into force even with no pricing since), told
    // to HQ once a round, with its first page.
    let program = this.ledger.programInForce(this.clock().toISOString());
    for (;;) {
      const page = await this.client.pull(this.store.cursor(), 5000, program);
      program = null;
      this.store.applyPull(page, this.clock().toISOString());
      pulled += page.entries.length + page.cards.length;
      if (!page.more) return pulled;
    }
  }

  private async round(): Promise<{ pushed: number; pulled: number }> {
    if (!this.registered()) throw new SyncHttpError(null, 'this terminal is not registered with HQ: run `loyalty sync --register CODE`');
    let pushed = 0;
    let pulled = 0;
    try {
      pushed = await this.pushAll();
      pulled = await this.pullAll();
      // Offline-redemption allowances for the cards this terminal sees, now that its sales are in.
      const ids = this.allowances.wanted(this.wantedCards, this.clock().toISOString());
      if (ids.length) {
        this.allowances.accept(await this.client.allowances(ids), this.clock().toISOString());
        this.wantedCards.clear();
      }
      this.succeeded();
      return { pushed, pulled };
    } catch (e) {
      this.failed(e);
      throw e;
    }
  }

  /**
   * Pushes the outbox up to its end. Up to PIPELINE batches are in flight at once: the next ones are
   * read and sent while HQ applies the one before (HQ takes them in turn under its lock). Should a
   * batch overtake the one before it, HQ answers it with gaps and changes nothing; the outbox is
   * then sent again from HQ's mark, one batch at a time. Only acknowledged operations count as done.
   */
  private async pushAll(): Promise<number> {
    let pushed = 0;
    let depth = PIPELINE;
    let after = this.store.ackedThrough();
    const inFlight: Batch[] = [];
    const settleAll = () => Promise.all(inFlight.splice(0).map((b) => b.response)); // whatever they did, HQ applies each operation once
    for (;;) {
      while (inFlight.length < depth) {
        const ops = this.store.pending(this.batch, after);
        if (!ops.length) break;
        const stats = this.store.stats();
        inFlight.push({ ops, response: settle(this.client.push(ops, stats.pending, stats.oldestPendingAt)) });
        after = ops.at(-1)!.seq;
      }
      const batch = inFlight.shift();
      if (!batch) return pushed;
      const answer = await batch.response;
      if (!answer.ok) {
        await settleAll();
        throw answer.error;
      }
      const sent = batch.ops;
      const response = answer.value;
      pushed += this.store.acknowledge(sent, response, this.clock().toISOString());
      this.batch = Math.min(this.batch * 2, 5000); // it went through: send more at once
      if (response.ackedThrough < sent.at(-1)!.seq) {
        await settleAll();
        if (depth === 1 && response.ackedThrough < sent[0]!.seq) throw new SyncHttpError(409, `HQ expects operation ${response.ackedThrough + 1}, the outbox starts at ${sent[0]!.seq}`);
        // Overtaken by a batch after it (or HQ's mark is elsewhere): again from HQ's mark, one at a time.
        depth = 1;
        after = this.store.ackedThrough();
      }
    }
  }

  private succeeded() {
    this.online = true;
    this.failures = 0;
    this.lastSuccessAt = this.clock().toISOString();
    this.store.put('last_success_at', this.lastSuccessAt);
    this.lastError = null;
    this.opts.onStatus?.(this.status());
  }

  private failed(e: unknown) {
    this.online = false;
    this.failures++;
    this.batch = Math.max(10, Math.floor(this.batch / 2)); // a timeout may be the batch's size
    this.lastError = (e as Error).message;
    this.opts.onStatus?.(this.status());
  }

  /** Exponential backoff with full jitter: random in [min, min·2^failures], capped. */
  nextDelayMs(): number {
    const min = this.opts.minBackoffMs ?? 500;
    if (this.failures === 0) return this.opts.idleMs ?? 2000;
    const cap = Math.min(this.opts.maxBackoffMs ?? 30_000, min * 2 ** Math.min(this.failures, 16));
    return Math.round(min + this.random() * (cap - min));
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    const round = () => {
      this.running = this.syncOnce()
        .then(() => undefined, () => undefined)
        .finally(() => {
          this.running = null;
          if (!this.stopped) this.timer = setTimeout(round, this.nextDelayMs());
        });
    };
    round();
  }

  /** Sync now (e.g. right after a sale), without waiting for the timer. */
  kick() {
    if (this.stopped || this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.stopped && !this.running) {
        this.stopped = true;
        this.start();
      }
    }, 0);
  }

  async stop() {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
