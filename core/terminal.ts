// The terminal core: one object, independent of its host (Electron, the browser host, the CLI,
// tests). It opens the ledger, loads the active program, owns the card readers and serves the
// typed API of protocol/api.ts. Screens do everything through `api`.
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ledger, type CardRecord } from '../db/ledger';
import { cardStateNeeds, cardTier, priceBasket, type Basket, type PricedBasket, type Program } from '../engine';
import { identifyCard, maskCardNumber } from '../drivers/parse';
import { ReaderManager } from '../drivers/manager';
import type { ReaderConfig, CardReadEvent, ReadErrorEvent } from '../drivers/types';
import { normalizePhone } from '../protocol/phone';
import {
  parseCall,
  type ApiError,
  type ApiInput,
  type ApiMethod,
  type ApiOutputs,
  type ApiResult,
  type CustomerView,
  type PricedView,
  type Product,
  type ReceiptView,
  type TerminalApi,
  type TerminalEvent,
  type TerminalStatus,
} from '../protocol/api';
import { loadActiveProgram, storedActiveProgram, type ActiveProgram } from './program';
import { seedDemo, demoCatalog } from './demo';
import { createLogger, type Logger } from './log';
import { SyncAgent } from '../sync/agent';
import { SyncHttpError } from '../sync/client';
import { SyncStore } from '../sync/store';
import { Maintenance } from '../db/maintenance';
import { Till, UserError, displayName, toReturnView } from './till';

export interface TerminalConfig {
  /** Folder for the ledger, its key, backups and logs. */
  dataDir: string;
  dbPath?: string;
  /** A program file to activate on start (otherwise the ledger's active one, else the demo). */
  programFile?: string;
  readers?: ReaderConfig[];
  hqUrl?: string | null;
  /** A one-time HQ registration code, used once if the terminal is not registered yet. */
  hqCode?: string;
  /** Seed demo cardholders and cards into an empty ledger. */
  demo?: boolean;
  clock?: () => Date;
  logger?: Logger;
}

export { UserError };

export class Terminal {
  readonly ledger: Ledger;
  readonly readers: ReaderManager;
  readonly api: TerminalApi;
  readonly log: Logger;
  readonly sync: SyncAgent | null;
  readonly maintenance: Maintenance;
  readonly till: Till;
  private program: ActiveProgram | null;
  private readonly events = new EventEmitter();
  private readonly clock: () => Date;
  private readonly catalog: Product[];
  /** The last card read that the ledger does not know, for binding at enrollment (kept 5 minutes). */
  private unknownCard: { number: string; at: number } | null = null;
  /** What HQ last said each card may pay with (online redemption). */
  private readonly hqRedeemable = new Map<string, number>();

  private constructor(config: TerminalConfig) {
    mkdirSync(config.dataDir, { recursive: true });
    this.log = config.logger ?? createLogger(config.dataDir);
    this.clock = config.clock ?? (() => new Date());
    this.ledger = new Ledger({ path: config.dbPath ?? join(config.dataDir, 'ledger.db') });
    this.program = loadActiveProgram(this.ledger, config.programFile, this.now());
    if (config.demo) seedDemo(this.ledger, this.now());
    this.catalog = demoCatalog();
    this.readers = new ReaderManager(config.readers ?? [{ type: 'simulated', id: 'sim-1' }]);
    const dbPath = config.dbPath ?? join(config.dataDir, 'ledger.db');
    this.sync = config.hqUrl
      ? new SyncAgent(this.ledger, { hqUrl: config.hqUrl, keyFile: `${dbPath}.sync-key`, clock: this.clock, onStatus: (sync) => this.emit({ type: 'sync', sync }) })
      : null;
    this.till = new Till(this.ledger, () => this.now());

    this.maintenance = new Maintenance(this.ledger, {
      dbPath,
      program: () => this.activeProgram()?.program ?? null,
      clock: this.clock,
      onError: (what, e) => this.log.error({ err: e }, `${what} failed`),
      onJobs: (report) => (report.expiredLots || report.burnedCardholders || report.prunedSales) && this.log.info(report, 'ledger jobs wrote entries or dropped old purchases elsewhere'),
    });
    this.readers.on('card', (ev: CardReadEvent) => this.onCardRead(ev));
    this.readers.on('error', (ev: ReadErrorEvent) => this.log.info({ readerId: ev.readerId, code: ev.code }, 'card read refused'));
    this.readers.on('error', (ev: ReadErrorEvent) => this.emit({ type: 'cardError', readerId: ev.readerId, message: ev.message, messageRu: ev.messageRu ?? ev.message }));
    this.readers.on('state', () => this.emit({ type: 'readers', readers: this.readers.states() }));
    this.api = {
      call: (method, input) => this.call(method, input),
      subscribe: (listener) => {
        this.events.on('event', listener);
        return () => this.events.off('event', listener);
      },
    };
  }

  static async start(config: TerminalConfig): Promise<Terminal> {
    const terminal = new Terminal(config);
    await terminal.readers.start();
    terminal.maintenance.start();
    if (terminal.sync) {
      if (!terminal.sync.registered() && config.hqCode) {
        await terminal.sync.register(config.hqCode).catch((e: Error) => terminal.log.warn({ err: e.message }, 'HQ registration failed'));
      }
      terminal.sync.start();
    }
    return terminal;
  }

  async close() {
    this.maintenance.stop();
    await this.sync?.stop();
    await this.readers.stop();
    this.events.removeAllListeners();
    this.ledger.close();
  }

  private now(): string {
    return this.clock().toISOString();
  }

  private emit(event: TerminalEvent) {
    this.events.emit('event', event);
  }

  /** Every call is validated here, whatever transport brought it; user errors come back as values. */
  async call<M extends ApiMethod>(method: M, input: ApiInput<M>): Promise<ApiResult<ApiOutputs[M]>> {
    const parsed = parseCall(method, input);
    if (!parsed.ok) return parsed;
    try {
      const value = await this.dispatch(parsed.method, parsed.input);
      return { ok: true, value: value as ApiOutputs[M] };
    } catch (e) {
      return { ok: false, error: this.toApiError(e, method) };
    }
  }

  private toApiError(e: unknown, method: string): ApiError {
    if (e instanceof UserError) return { code: e.code, message: e.message, messageRu: e.messageRu, ...(e.field ? { field: e.field } : {}) };
    this.log.error({ err: e, method }, 'api call failed');
    return { code: 'internal', message: 'Something went wrong; nothing was saved. Try again.', messageRu: 'Произошла ошибка; ничего не сохранено. Повторите.' };
  }

  private async dispatch(method: ApiMethod, input: unknown): Promise<unknown> {
    switch (method) {
      case 'status':
        return this.status();
      case 'wedgeRead':
        return this.identifyRaw((input as ApiInput<'wedgeRead'>).text, 'wedge');
      case 'simulateSwipe': {
        const { raw, readerId } = input as ApiInput<'simulateSwipe'>;
        this.readers.simulate(raw, readerId);
        return { accepted: true };
      }
      case 'identify':
        return this.identifyTyped((input as ApiInput<'identify'>).query);
      case 'findProducts':
        return this.findProducts((input as ApiInput<'findProducts'>).query);
      case 'price': {
        const { cardId, lines, redeemPoints } = input as ApiInput<'price'>;
        const card = this.cardById(cardId);
        // Only when the customer wants to pay with points is HQ asked (online) — not on every swipe.
        if (card && (redeemPoints ?? 0) > 0) await this.askHq(card.cardholderId);
        return toPricedView(this.price(card, { lines }, redeemPoints ?? 0));
      }
      case 'checkout':
        return this.checkout(input as ApiInput<'checkout'>);
      case 'session':
        return this.till.session();
      case 'login':
        return this.till.login((input as ApiInput<'login'>).pin);
      case 'logout':
        return this.till.logout();
      case 'openShift':
        return this.till.openShift();
      case 'closeShift':
        return this.till.closeShift();
      case 'shiftReport':
        return this.till.shiftReport((input as ApiInput<'shiftReport'>).shiftId);
      case 'findReceipt':
        return this.findReceipt((input as ApiInput<'findReceipt'>).query);
      case 'previewReturn':
        return this.till.previewReturn(input as ApiInput<'previewReturn'>);
      case 'commitReturn':
        return this.commitReturn(input as ApiInput<'commitReturn'>);
      case 'enroll': {
        const request = input as ApiInput<'enroll'>;
        let number = request.cardNumber;
        if (request.bindSwipedCard) {
          if (!this.unknownCard || this.clock().getTime() - this.unknownCard.at > 5 * 60_000) throw new UserError('swipe_again', 'Swipe the new card again to bind it', 'Проведите новую карту ещё раз', 'cardNumber');
          number = this.unknownCard.number;
        }
        const cardholderId = this.till.enroll({ ...request, ...(number ? { cardNumber: number } : {}) });
        if (request.bindSwipedCard) this.unknownCard = null;
        this.afterWrite();
        return number ? this.customerFor(this.lookupCard(number)) : this.till.profile(cardholderId);
      }
      case 'searchCardholders':
        return this.till.search((input as ApiInput<'searchCardholders'>).query);
      case 'profile':
        return this.till.profile((input as ApiInput<'profile'>).cardholderId);
      case 'nps': {
        const { receiptId, score, comment } = input as ApiInput<'nps'>;
        this.till.requireShift();
        this.ledger.recordNps({ receiptId, score, comment: comment || null, now: this.now() });
        this.afterWrite();
        return { saved: true };
      }
      case 'admin': {
        const done = this.till.admin(input as ApiInput<'admin'>);
        this.afterWrite();
        return done;
      }
    }
  }

  status(): TerminalStatus {
    const store = this.sync?.store ?? new SyncStore(this.ledger);
    const pending = store.stats();
    return {
      terminal: { id: this.ledger.terminalId, code: this.ledger.terminalCode, storeId: this.ledger.storeId },
      program: this.programView(store),
      readers: this.readers.states(),
      sync: this.sync?.status() ?? { online: false, hqUrl: null, pendingOperations: pending.pending, oldestPendingAt: pending.oldestPendingAt, lastSuccessAt: null, lastError: null },
    };
  }

  private onCardRead(ev: CardReadEvent) {
    try {
      const customer = this.customerFor(this.lookupCard(ev.cardNumber, ev.kind === 'contactless' ? ev.cardNumber : undefined));
      this.emit({ type: 'card', readerId: ev.readerId, customer });
    } catch (e) {
      const err = this.toApiError(e, 'card');
      this.emit({ type: 'cardError', readerId: ev.readerId, message: err.message, messageRu: err.messageRu });
    }
  }

  private identifyRaw(text: string, source: 'wedge'): CustomerView {
    const read = identifyCard(text, { format: 'auto' });
    if (!read.ok) this.log.info({ readerId: source, code: read.error.code, rawLength: text.length }, 'card read refused');
    if (!read.ok) throw new UserError(read.error.code, read.error.message, read.error.messageRu ?? read.error.message);
    const customer = this.customerFor(this.lookupCard(read.value.cardNumber));
    this.emit({ type: 'card', readerId: source, customer });
    return customer;
  }

  private identifyTyped(query: string): CustomerView {
    const digits = query.replace(/[\s-]/g, '');
    if (/^\d{12,19}$/.test(digits)) return this.customerFor(this.lookupCard(digits));
    const phone = normalizePhone(query);
    if (!phone.ok) throw new UserError('bad_query', 'Enter a card number or a phone number', 'Введите номер карты или телефона');
    const card = this.ledger.findCard({ phone: phone.e164 });
    if (!card) throw new UserError('not_found', 'No cardholder with this phone number', 'Клиент с таким телефоном не найден');
    return this.customerFor(card);
  }

  private lookupCard(number: string, chipUid?: string): CardRecord {
    const card = this.ledger.findCard({ number }) ?? (chipUid ? this.ledger.findCard({ chipUid }) : null);
    if (!card) {
      this.unknownCard = { number, at: this.clock().getTime() };
      this.emit({ type: 'unknownCard', maskedNumber: maskCardNumber(number) });
    }
    if (!card) throw new UserError('unknown_card', `Card ${maskCardNumber(number)} is not registered — offer enrollment`, `Карта ${maskCardNumber(number)} не зарегистрирована — предложите анкету`);
    if (card.status !== 'active') {
      throw new UserError('card_inactive', `Card ${maskCardNumber(number)} is ${card.status}: no discounts or points`, `Карта ${maskCardNumber(number)}: статус «${card.status}», скидки и баллы недоступны`);
    }
    return card;
  }

  private cardById(cardId: string | null): CardRecord | null {
    if (!cardId) return null;
    const card = this.ledger.findCard({ cardId });
    if (!card) throw new UserError('unknown_card', 'The card is no longer known — swipe it again', 'Карта не найдена — проведите её ещё раз');
    return this.lookupCard(card.number);
  }

  private customerFor(card: CardRecord): CustomerView {
    this.sync?.want(card.cardholderId); // so this terminal holds an offline allowance for the card
    const state = this.ledger.cardState(card);
    const now = this.now();
    const program = this.activeProgram();
    const balance = state.lots.reduce((s, l) => s + l.points, 0);
    const available = state.lots.filter((l) => l.points > 0 && l.activatesAt <= now && (!l.expiresAt || l.expiresAt > now)).reduce((s, l) => s + l.points, 0);
    const pending = state.lots.filter((l) => l.points > 0 && l.activatesAt > now).reduce((s, l) => s + l.points, 0);
    return {
      cardId: card.cardId,
      maskedNumber: maskCardNumber(card.number),
      cardStatus: card.status,
      displayName: displayName(card.holder),
      balance,
      availablePoints: Math.min(available, Math.max(balance, 0)),
      pendingPoints: pending,
      purchaseCount: state.purchaseCount,
      lifetimeSpend: state.lifetimeSpend,
      tier: program ? cardTier(program.program, state) : null,
    };
  }

  private findProducts(query: string): Product[] {
    const q = query.trim().toLowerCase();
    if (!q) return this.catalog.slice(0, 20);
    return this.catalog.filter((p) => p.barcode === q || p.sku.toLowerCase() === q || p.name.toLowerCase().includes(q)).slice(0, 20);
  }

  /** The program the tills price with: the ledger's active version, taken up again when another
   *  becomes active (a version HQ published, brought by the feed, whose moment has come: online
   *  or not), so the next pricing uses it. */
  private activeProgram(): ActiveProgram | null {
    const hash = this.ledger.programInForce(this.now());
    if (hash && hash !== this.program?.hash) {
      const next = storedActiveProgram(this.ledger);
      if (next) {
        this.log.info({ program: next.program.id, version: next.program.version, hash: next.hash }, 'another program is in force');
        this.program = next;
      }
    }
    return this.program;
  }

  private programView(store: SyncStore): TerminalStatus['program'] {
    const active = this.activeProgram();
    if (!active) return null;
    const { id, version, name } = active.program;
    return { id, version, hash: active.hash, name, source: this.ledger.activeProgram()?.source ?? null, refused: store.programRefused(), next: this.ledger.nextProgram(this.now()) };
  }

  private requireProgram(): ActiveProgram {
    const active = this.activeProgram();
    if (!active) throw new UserError('no_program', 'No loyalty program is active on this terminal', 'На терминале нет активной программы лояльности');
    return active;
  }

  price(card: CardRecord | null, basket: Basket, redeemPoints: number): PricedBasket {
    const { program, hash } = this.requireProgram();
    const limit = this.redemptionLimit(card);
    const now = this.now();
    return priceBasket(program as Program, hash, card ? this.ledger.cardState(card, cardStateNeeds(program as Program, now, basket)) : null, basket, {
      now,
      redeemPoints,
      ...(limit ? { redeemCap: limit.cap, ...(limit.reason ? { redeemCapReason: limit.reason } : {}) } : {}),
    });
  }

  /**
   * With HQ configured: online, redemption is bounded by what HQ last said the card may pay with
   * (asked again at checkout); offline, by HQ's signed allowance for the card on this terminal.
   */
  private redemptionLimit(card: CardRecord | null) {
    if (!card || !this.sync) return null;
    if (!this.sync.status().online) return this.sync.offlineRedemption(card.cardholderId);
    const cap = this.hqRedeemable.get(card.cardholderId);
    if (cap === undefined) return null;
    return { cap, reason: { ru: 'HQ: свободных баллов нет (часть зарезервирована для других касс)', en: 'HQ: no points free to pay with (some are reserved for other tills)' }, allowance: null };
  }

  /** Asks HQ (online) what the card may pay with; remembered for pricing until the next ask. */
  private async askHq(cardholderId: string) {
    if (!this.sync?.status().online) return;
    const cap = await this.sync.onlineRedemption(cardholderId);
    if (cap === null) this.hqRedeemable.delete(cardholderId);
    else this.hqRedeemable.set(cardholderId, cap);
  }

  /** A written operation waits in the outbox: nudge the upload and tell the screens. */
  private afterWrite() {
    this.sync?.kick();
    this.emit({ type: 'sync', sync: this.status().sync });
  }

  /**
   * A sale to return: this terminal's, else (online) one made on another terminal of the chain,
   * which HQ gives and the ledger keeps (SPEC §3: a return on a different terminal works the same).
   */
  private async findReceipt(query: string): Promise<ReceiptView> {
    try {
      return this.till.findReceipt(query);
    } catch (e) {
      if (!(e instanceof UserError) || e.code !== 'receipt_not_found' || !this.sync?.registered()) throw e;
    }
    const number = query.trim();
    try {
      await this.sync.fetchSaleElsewhere(number);
    } catch (e) {
      if (!(e instanceof SyncHttpError)) throw e;
      if (e.status === 404) throw new UserError('receipt_not_found', `No sale ${number} on any terminal of the chain`, `Чек продажи ${number} не найден ни на одной кассе сети`);
      if (e.code === 'sale_without_card') throw new UserError('receipt_elsewhere', `Sale ${number} was made without a card on another terminal: return it there`, `Чек ${number} пробит без карты на другой кассе: возврат — на той кассе`);
      if (e.code === 'sale_without_lines') throw new UserError('receipt_elsewhere', `Sale ${number} reached HQ before returns on other terminals were possible: return it on its own terminal`, `Чек ${number} выгружен в центр до того, как стал возможен возврат на других кассах: возврат — на кассе, где он пробит`);
      if (e.code === 'sale_of_caller') throw new UserError('receipt_not_found', `Sale ${number} was made on this terminal but is not in its ledger`, `Чек ${number} пробит на этой кассе, но его нет в её базе`);
      throw new UserError('hq_unreachable', `No sale ${number} on this terminal, and HQ cannot be reached to find it on the others: try again when the network is back`, `Чека продажи ${number} нет на этой кассе, а связи с центром нет, чтобы найти его на других: повторите, когда связь появится`);
    }
    return this.till.findReceipt(number);
  }

  private commitReturn(input: ApiInput<'commitReturn'>) {
    this.requireSoundLedger();
    const done = this.till.commitReturn(input);
    this.afterWrite();
    const record = done.cardId ? this.ledger.findCard({ cardId: done.cardId }) : null;
    return { receiptNumber: done.receiptNumber, priced: toReturnView(done.priced, done.points), customer: record ? this.customerFor(record) : null };
  }

  private requireSoundLedger() {
    const integrity = this.ledger.integrity;
    if (integrity.status === 'failed') throw new UserError('ledger_damaged', integrity.message, 'Журнал кассы повреждён: продажи не записываются. Восстановите последнюю резервную копию (см. README).');
  }

  private async checkout(input: ApiInput<'checkout'>) {
    this.requireSoundLedger();
    const who = this.till.requireShift();
    const card = this.cardById(input.cardId);
    if (card && (input.redeemPoints ?? 0) > 0) await this.askHq(card.cardholderId); // online: HQ's word, now
    const priced = this.price(card, { lines: input.lines }, input.redeemPoints ?? 0);
    if (input.shown) requireAsShown(input.shown, priced);
    const allowance = priced.totals.pointsRedeemed > 0 ? (this.redemptionLimit(card)?.allowance ?? null) : null;
    const committed = this.ledger.commitSale({ card, priced, now: this.now(), ...who, allowance });
    this.afterWrite();
    return {
      receiptNumber: committed.receiptNumber,
      receiptId: committed.receiptId,
      priced: toPricedView(priced),
      customer: card ? this.customerFor(this.lookupCard(card.number)) : null,
    };
  }
}

/**
 * The customer pays what the screen showed: a price that has changed since (a program version
 * came into force, HQ's word on what the card may pay with) is refused, to be shown and confirmed.
 */
function requireAsShown(shown: NonNullable<ApiInput<'checkout'>['shown']>, priced: PricedBasket) {
  const { toPay, pointsRedeemed, pointsEarned } = priced.totals;
  if (shown.toPay === toPay && shown.pointsRedeemed === pointsRedeemed && shown.pointsEarned === pointsEarned && shown.programHash === priced.program.hash) return;
  const program = shown.programHash === priced.program.hash ? null : `program ${priced.program.id} version ${priced.program.version}`;
  throw new UserError(
    'price_changed',
    `The price changed since it was shown${program ? ` (${program} is now in force)` : ''}: nothing was charged; check the new price with the customer and confirm again`,
    `Цена изменилась после показа${program ? ` (теперь действует программа ${priced.program.id}, версия ${priced.program.version})` : ''}: оплата не проведена; сверьте новую цену с покупателем и подтвердите снова`,
  );
}

export function toPricedView(p: PricedBasket): PricedView {
  return {
    program: p.program,
    lines: p.lines.map((l) => ({
      sku: l.sku,
      name: l.name,
      category: l.category,
      qty: l.qty,
      unitPrice: l.unitPrice,
      gross: l.gross,
      discount: l.discount,
      redeem: l.redeem,
      net: l.net,
      pointsEarned: l.pointsEarned,
      reasons: l.reasons,
    })),
    totals: p.totals,
    maxRedeemPoints: p.redemption.maxPoints,
    redeemRefused: p.redemption.refusedReason ?? null,
    reasons: p.reasons,
  };
}
