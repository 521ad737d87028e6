// Who is at the till and what they may do beyond a sale: PIN login and shifts, returns,
// enrollment, cardholder search and profile, and the store admin's actions (each behind the
// admin's PIN, with a reason, in the audit log). Part of the terminal core; screens reach it only
// through the typed API.
import { checkCardNumber, maskCardNumber } from '../drivers/parse';
import type { Holder, Ledger, ReturnPoints } from '../db/ledger';
import { holderChain, ReturnRefused } from '../db/ledger';
import * as admin from '../db/admin';
import { normalizePhone } from '../protocol/phone';
import type { ApiInput, CardholderSummary, HolderInput, ProfileView, ReceiptView, ReturnView, SessionView, ShiftReportView, UserView } from '../protocol/api';
import { earnReversed, type PricedReturn } from '../engine';

/** A refusal the cashier should read; anything else thrown inside the core is a bug. */
export class UserError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly messageRu: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** Why HQ wrote an entry of its own (another terminal's entries have their reasons there). */
const HQ_REASON = `CASE WHEN terminal_id <> 'hq' THEN ''
  WHEN id GLOB 'w-*' AND points < 0 THEN 'HQ: приветственный бонус уже начислен на другой кассе, повторный отменён'
  WHEN id GLOB 'w-*' THEN 'HQ: отмена повторного приветственного бонуса уменьшена на сгоревшие баллы'
  WHEN id GLOB 'x-*' AND kind = 'burn' THEN 'HQ: сгорание пересчитано с учётом покупок и операций на другой кассе'
  WHEN id GLOB 'x-*' THEN 'HQ: списание по сроку пересчитано с учётом операций на другой кассе'
  ELSE 'HQ: объединение дублей анкеты' END`;

/** The questionnaire fields that count towards the profile-completeness meter. */
const QUESTIONNAIRE: (keyof HolderInput)[] = ['surname', 'firstName', 'patronymic', 'birthDate', 'sex', 'phone', 'phoneHome', 'phoneWork', 'email', 'address', 'socialCategory', 'weddingDate', 'interests', 'contactChannel', 'clientType', 'referrer'];

export function maskPhone(e164: string): string {
  return e164.length > 6 ? `${e164.slice(0, 5)}***-**-${e164.slice(-2)}` : '***';
}

export function maskEmail(email: string): string {
  const [user, domain] = email.split('@');
  return `${(user ?? '').slice(0, 1)}***@${domain ?? ''}`;
}

/** The name as a cashier may see it: first name and patronymic, or an initial. */
export function displayName(h: Holder): string {
  return [h.firstName, h.patronymic].filter(Boolean).join(' ') || (h.surname ? `${String(h.surname).slice(0, 1)}.` : '—');
}

/** A loyalty card number by the configured schemes; a bank card is refused without echoing it. */
function checkedCardNumber(number: string): string {
  const checked = checkCardNumber(number);
  if (!checked.ok) throw new UserError(checked.error.code, `Not a loyalty card number: ${checked.error.message}`, `Это не номер карты лояльности: ${checked.error.messageRu ?? checked.error.message}`, 'cardNumber');
  return checked.value.cardNumber;
}

/** A return as the cashier sees it: the points it takes back are those still there to take (what
 *  had expired or burned of its share is not taken again), and the reasons say what of the points
 *  paid with goes back to lots already past their expiry. */
export function toReturnView(r: PricedReturn, points: ReturnPoints): ReturnView {
  const taken = r.totals.pointsTakenBack - points.alreadyGone;
  const reasons = r.reasons.flatMap((reason) => {
    if (reason.code === 'earn_reversed' && points.alreadyGone) {
      return [
        ...(taken ? [earnReversed(taken)] : []),
        { code: 'earn_gone', ru: `Уже сгорели и повторно не списываются: ${points.alreadyGone}`, en: `Already expired, not taken back again: ${points.alreadyGone}` },
      ];
    }
    if (reason.code === 'redeem_restored' && points.restoredPastExpiry) {
      const n = points.restoredPastExpiry;
      return [reason, { code: 'restored_past_expiry', ru: `Срок действия ${n} из них уже истёк: они сгорят при ближайшем списании`, en: `${n} of them are past their expiry: the next expiry run writes them off` }];
    }
    return [reason];
  });
  return {
    lines: r.lines.map((l) => ({ lineNo: l.lineNo, name: l.name, qty: l.qty, refund: l.refund, discount: l.discount, pointsTakenBack: l.pointsTakenBack, pointsRestored: l.pointsRestored })),
    totals: { ...r.totals, pointsTakenBack: taken },
    complete: r.complete,
    reasons,
  };
}

export class Till {
  private user: UserView | null = null;

  constructor(
    private readonly ledger: Ledger,
    private readonly now: () => string,
  ) {}

  // ---- session and shifts --------------------------------------------------------------------

  session(): SessionView {
    const shift = admin.currentShift(this.ledger);
    return { user: this.user, shift: shift ? { id: shift.id, openedAt: shift.openedAt, cashierId: shift.cashierId } : null };
  }

  login(pin: string): SessionView {
    this.user = this.guard(() => admin.login(this.ledger, pin));
    return this.session();
  }

  logout(): SessionView {
    this.user = null;
    return this.session();
  }

  /** Someone logged in: the client base and the receipts are not for passers-by. */
  requireUser(): UserView {
    if (!this.user) throw new UserError('login_required', 'Log in with your PIN first', 'Сначала войдите по PIN');
    return this.user;
  }

  /** The cashier at the till with an open shift: sales, returns and enrollments need both. */
  requireShift(): { cashierId: string; shiftId: string } {
    const user = this.requireUser();
    const shift = admin.currentShift(this.ledger);
    if (!shift) throw new UserError('shift_required', 'Open a shift first (F8)', 'Сначала откройте смену (F8)');
    return { cashierId: user.id, shiftId: shift.id };
  }

  openShift(): SessionView {
    const user = this.requireUser();
    this.guard(() => admin.openShift(this.ledger, user.id, this.now()));
    return this.session();
  }

  closeShift(): ShiftReportView {
    const { shiftId } = this.requireShift();
    return this.guard(() => admin.closeShift(this.ledger, shiftId, this.now()));
  }

  shiftReport(shiftId?: string): ShiftReportView {
    this.requireUser();
    const id = shiftId ?? admin.currentShift(this.ledger)?.id ?? (this.ledger.sqlite.prepare('SELECT id FROM shifts ORDER BY opened_at DESC LIMIT 1').pluck().get() as string | undefined);
    if (!id) throw new UserError('shift_not_found', 'No shift has been opened on this terminal yet', 'На этой кассе ещё не было смен');
    return this.guard(() => admin.shiftReport(this.ledger, id));
  }

  // ---- returns -----------------------------------------------------------------------------

  findReceipt(query: string): ReceiptView {
    this.requireUser();
    const r = this.ledger.receipt(query.trim());
    if (!r || r.kind !== 'sale') throw new UserError('receipt_not_found', `No sale ${query} on this terminal`, `Чек продажи ${query} на этой кассе не найден`);
    const card = r.cardId ? this.ledger.findCard({ cardId: r.cardId }) : null;
    return {
      id: r.id,
      number: r.number,
      createdAt: r.createdAt,
      madeElsewhere: r.elsewhere !== null,
      customer: card ? { maskedNumber: maskCardNumber(card.number), displayName: displayName(card.holder) } : null,
      lines: r.priced.lines.map((l, i) => ({ lineNo: i + 1, name: l.name, qty: l.qty, returned: r.returned[i + 1] ?? 0, net: l.net, unitPrice: l.unitPrice })),
      totals: { toPay: r.priced.totals.toPay, pointsEarned: r.priced.totals.pointsEarned, pointsRedeemed: r.priced.totals.pointsRedeemed },
    };
  }

  /** What a return would reverse; nothing is written. */
  previewReturn(input: ApiInput<'previewReturn'>): ReturnView {
    this.requireUser();
    const { priced, points } = this.guard(() => this.ledger.priceReturnOf(input.receiptId, input.lines, this.now()));
    return toReturnView(priced, points);
  }

  commitReturn(input: ApiInput<'commitReturn'>) {
    const who = this.requireShift();
    return this.guard(() => this.ledger.commitReturn({ originalReceiptId: input.receiptId, lines: input.lines, now: this.now(), ...who }));
  }

  // ---- enrollment, search, profile -----------------------------------------------------------

  /** Enrolls a cardholder; returns the new cardholder's id. */
  enroll(input: ApiInput<'enroll'>): string {
    this.requireShift();
    const h = input.holder as HolderInput;
    if (!input.consentPd) throw new UserError('consent_required', 'The cardholder must consent to personal-data processing', 'Нужно согласие клиента на обработку персональных данных', 'consentPd');
    if (!h.phone && !h.firstName && !h.surname) throw new UserError('name_or_phone', 'Give at least a name or a phone number', 'Укажите хотя бы имя или телефон', 'firstName');
    for (const field of ['phone', 'phoneHome', 'phoneWork'] as const) {
      const value = h[field];
      if (!value) continue;
      const phone = normalizePhone(value);
      if (!phone.ok) throw new UserError('bad_phone', `${value}: ${phone.error}`, `${value}: неверный номер телефона`, `holder.${field}`);
    }
    for (const field of ['birthDate', 'weddingDate'] as const) {
      const value = h[field];
      if (value && (Number.isNaN(Date.parse(value)) || value > this.now().slice(0, 10) || value < '1900-01-01')) {
        throw new UserError('bad_date', `${value} is not a possible date`, `${value} — невозможная дата`, `holder.${field}`);
      }
    }
    if (h.phone && this.ledger.findCard({ phone: h.phone })) {
      throw new UserError('phone_taken', 'A cardholder with this phone is already enrolled — find them instead', 'Клиент с этим телефоном уже есть — найдите его', 'holder.phone');
    }
    if (input.cardNumber) checkedCardNumber(input.cardNumber);
    if (input.cardNumber && this.ledger.findCard({ number: input.cardNumber })) {
      throw new UserError('card_taken', 'This card is already issued', 'Эта карта уже выдана', 'cardNumber');
    }
    const holder = Object.fromEntries(Object.entries(h).filter(([, v]) => v !== undefined && v !== '')) as Holder;
    return this.ledger.enrollHolder({ holder, ...(input.cardNumber ? { cardNumber: input.cardNumber } : {}), now: this.now(), consentPd: true, consentMarketing: input.consentMarketing });
  }

  search(query: string): CardholderSummary[] {
    this.requireUser();
    const q = query.trim();
    const ids = new Set<string>();
    const digits = q.replace(/[\s()+-]/g, '');
    if (/^\d{8,19}$/.test(digits)) {
      const byNumber = this.ledger.findCard({ number: digits });
      if (byNumber) ids.add(byNumber.cardholderId);
    }
    const phone = normalizePhone(q);
    if (phone.ok) {
      const byPhone = this.ledger.findCard({ phone: phone.e164 });
      if (byPhone) ids.add(byPhone.cardholderId);
    }
    if (/\p{L}/u.test(q)) for (const id of this.ledger.searchByName(q, 20)) ids.add(id);
    return [...ids].map((id) => this.cardholder(id)).filter((c) => c !== null).map((c) => c.summary);
  }

  /** A cardholder's row, opened profile and the summary the search list shows. */
  private cardholder(cardholderId: string): { row: Record<string, unknown>; holder: Holder; summary: CardholderSummary } | null {
    const row = this.ledger.sqlite.prepare('SELECT * FROM cardholders WHERE id = ?').get(cardholderId) as Record<string, unknown> | undefined;
    if (!row) return null;
    const holder = row.pii ? this.ledger.keys.open<Holder>(row.pii as Buffer) : {};
    const cards = this.ledger.sqlite.prepare('SELECT id, number, status FROM cards WHERE cardholder_id = ? ORDER BY issued_at').all(cardholderId) as { id: string; number: string; status: string }[];
    const summary = {
      cardholderId,
      displayName: row.status === 'anonymized' ? '—' : [holder.surname, holder.firstName, holder.patronymic].filter(Boolean).join(' ') || '—',
      status: row.status as string,
      cards: cards.map((c) => ({ cardId: c.id, maskedNumber: maskCardNumber(c.number), status: c.status })),
      balance: this.ledger.balance(cardholderId),
    };
    return { row, holder, summary };
  }

  profile(cardholderId: string): ProfileView {
    this.requireUser();
    const found = this.cardholder(cardholderId);
    if (!found) throw new UserError('cardholder_not_found', 'No such cardholder', 'Клиент не найден');
    const { row, holder, summary } = found;
    const shown: Record<string, string> = {};
    for (const field of QUESTIONNAIRE) {
      const value = holder[field];
      if (value === undefined || value === null || value === '') continue;
      const text = String(value);
      const phone = field.startsWith('phone') ? normalizePhone(text) : null;
      shown[field] = phone ? maskPhone(phone.ok ? phone.e164 : text) : field === 'email' ? maskEmail(text) : text;
    }
    const filled = Object.keys(shown).length;
    const receipts = this.ledger.sqlite
      .prepare(
        `${holderChain('receipts', 100)} SELECT id, number, kind, created_at AS createdAt, to_pay AS toPay, points_earned AS pointsEarned, points_redeemed AS pointsRedeemed
         FROM chain JOIN receipts r ON r.rowid = chain.r ORDER BY created_at DESC`,
      )
      .all(cardholderId) as ProfileView['receipts'];
    const entries = this.ledger.sqlite
      .prepare(
        `${holderChain('point_entries', 200)} SELECT id, kind, points, reason, created_at AS createdAt, expires_at AS expiresAt FROM chain JOIN point_entries e ON e.rowid = chain.r
         UNION ALL SELECT id, kind, points, ${HQ_REASON}, created_at, expires_at FROM remote_entries WHERE cardholder_id = ?
         ORDER BY createdAt DESC LIMIT 200`,
      )
      .all(cardholderId, cardholderId) as ProfileView['entries'];
    return {
      ...summary,
      enrollmentNo: row.enrollment_no as string,
      enrolledAt: row.enrolled_at as string,
      holder: shown,
      completeness: Math.round((filled / QUESTIONNAIRE.length) * 100),
      consentPd: !!row.consent_pd_at,
      consentMarketing: !!row.consent_marketing_at,
      receipts,
      entries,
    };
  }

  // ---- admin actions -----------------------------------------------------------------------

  /** Checks the admin's PIN (the same lock-out as login), then does the action in one transaction. */
  admin(input: ApiInput<'admin'>): { done: string; profile: ProfileView | null } {
    this.requireUser();
    const user = this.guard(() => admin.login(this.ledger, input.adminPin));
    if (user.role !== 'admin') throw new UserError('admin_required', 'This needs a store admin\'s PIN', 'Нужен PIN администратора', 'adminPin');
    const actor = { userId: user.id, reason: input.reason };
    const now = this.now();
    const holderOfCard = (cardId: string) => this.ledger.sqlite.prepare('SELECT cardholder_id FROM cards WHERE id = ?').pluck().get(cardId) as string | undefined;
    const cardholderId = this.guard((): string | undefined => {
      switch (input.action) {
        case 'block':
          admin.blockCard(this.ledger, actor, input.cardId, now);
          return holderOfCard(input.cardId);
        case 'unblock':
          admin.unblockCard(this.ledger, actor, input.cardId, now);
          return holderOfCard(input.cardId);
        case 'issue':
          admin.issueCard(this.ledger, actor, input.cardholderId, checkedCardNumber(input.cardNumber), null, now);
          return input.cardholderId;
        case 'replace':
          return admin.replaceCard(this.ledger, actor, input.cardId, checkedCardNumber(input.cardNumber), null, now).cardholderId;
        case 'merge':
          admin.mergeCardholders(this.ledger, actor, input.keepId, input.duplicateId, now);
          return input.keepId;
        case 'adjust':
          admin.adjustPoints(this.ledger, actor, input.cardholderId, input.points, now);
          return input.cardholderId;
        case 'anonymize':
          admin.anonymize(this.ledger, actor, input.cardholderId, now);
          return input.cardholderId;
      }
    });
    return { done: input.action, profile: cardholderId ? this.profile(cardholderId) : null };
  }

  /** Turns the ledger's rule refusals into messages for the screen. */
  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof admin.LedgerRuleError) throw new UserError(e.code, e.message, e.messageRu);
      if (e instanceof ReturnRefused && e.errors[0]?.path === 'receipt') throw new UserError('receipt_not_found', e.message, e.errors[0].messageRu);
      if (e instanceof ReturnRefused) throw new UserError('return_refused', e.errors.map((x) => x.message).join('; '), e.errors.map((x) => x.messageRu).join('; '));
      throw e;
    }
  }
}

