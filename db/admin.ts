// What a store admin does to cards and cardholders, and who is at the till. Every card operation
// is one transaction: the change, its point entries (chained), an outbox row for HQ and an
// audit-log row naming who did it and why — or nothing at all.
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { uuidv7 } from './ids';
import type { Ledger } from './ledger';
import type { ShiftReportView } from '../protocol/api';

export class LedgerRuleError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly messageRu: string,
  ) {
    super(message);
  }
}

export interface Actor {
  userId: string;
  reason: string;
}

type Row = Record<string, unknown>;

function requireReason(actor: Actor) {
  if (!actor.reason || actor.reason.trim().length < 3) throw new LedgerRuleError('reason_required', 'Give a reason (at least 3 characters)', 'Укажите причину (не короче 3 символов)');
}

function audit(ledger: Ledger, actor: Actor, action: string, target: string, details: unknown, now: string) {
  ledger.sqlite
    .prepare('INSERT INTO audit_log (id, at, user_id, action, target, reason, details) VALUES (?, ?, ?, ?, ?, ?, ?)')
    .run(uuidv7(), now, actor.userId, action, target, actor.reason.trim(), JSON.stringify(details));
}

function card(ledger: Ledger, cardId: string): Row {
  const row = ledger.sqlite.prepare('SELECT * FROM cards WHERE id = ?').get(cardId) as Row | undefined;
  if (!row) throw new LedgerRuleError('card_not_found', 'No such card', 'Карта не найдена');
  return row;
}

function holder(ledger: Ledger, cardholderId: string): Row {
  const row = ledger.sqlite.prepare('SELECT * FROM cardholders WHERE id = ?').get(cardholderId) as Row | undefined;
  if (!row) throw new LedgerRuleError('cardholder_not_found', 'No such cardholder', 'Клиент не найден');
  if (row.status === 'merged') throw new LedgerRuleError('cardholder_merged', 'This cardholder was merged into another', 'Этот клиент объединён с другим');
  return row;
}

const cardView = (c: Row) => ({ cardId: c.id as string, number: c.number as string, chipUid: (c.chip_uid as string | null) ?? null, status: c.status as string, cardholderId: c.cardholder_id as string });

function numberFree(ledger: Ledger, number: string, chipUid: string | null) {
  if (ledger.sqlite.prepare('SELECT 1 FROM cards WHERE number = ?').get(number)) throw new LedgerRuleError('card_taken', 'This card number is already issued', 'Карта с этим номером уже выдана');
  if (chipUid && ledger.sqlite.prepare('SELECT 1 FROM cards WHERE chip_uid = ?').get(chipUid)) throw new LedgerRuleError('card_taken', 'This chip is already bound to a card', 'Этот чип уже привязан к карте');
}

function setCardStatus(ledger: Ledger, cardId: string, status: string, now: string, replacedBy: string | null = null) {
  ledger.sqlite.prepare('UPDATE cards SET status = ?, replaced_by = coalesce(?, replaced_by), updated_at = ? WHERE id = ?').run(status, replacedBy, now, cardId);
}

/** Issues (binds) a new card to an existing cardholder. */
export function issueCard(ledger: Ledger, actor: Actor, cardholderId: string, number: string, chipUid: string | null, now: string) {
  requireReason(actor);
  return ledger.atomically(() => {
    holder(ledger, cardholderId);
    numberFree(ledger, number, chipUid);
    const cardId = uuidv7();
    ledger.sqlite.prepare('INSERT INTO cards (id, number, chip_uid, status, cardholder_id, issued_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(cardId, number, chipUid, 'active', cardholderId, now, now);
    const c = cardView(card(ledger, cardId));
    ledger.appendOutbox('card', uuidv7(), now, { cards: [c] });
    audit(ledger, actor, 'card.issue', cardId, { number: number.slice(-4) }, now);
    return c;
  });
}

export function blockCard(ledger: Ledger, actor: Actor, cardId: string, now: string) {
  return changeStatus(ledger, actor, cardId, 'active', 'blocked', now);
}

export function unblockCard(ledger: Ledger, actor: Actor, cardId: string, now: string) {
  return changeStatus(ledger, actor, cardId, 'blocked', 'active', now);
}

function changeStatus(ledger: Ledger, actor: Actor, cardId: string, from: string, to: string, now: string) {
  requireReason(actor);
  return ledger.atomically(() => {
    const c = card(ledger, cardId);
    if (c.status !== from) throw new LedgerRuleError('card_status', `The card is ${String(c.status)}, not ${from}`, `Статус карты «${String(c.status)}», а не «${from}»`);
    setCardStatus(ledger, cardId, to, now);
    const view = cardView(card(ledger, cardId));
    ledger.appendOutbox('card', uuidv7(), now, { cards: [view] });
    audit(ledger, actor, to === 'blocked' ? 'card.block' : 'card.unblock', cardId, { from, to }, now);
    return view;
  });
}

/**
 * Replaces a lost or damaged card: the old one is closed ('replaced', pointing at the new one)
 * and the new one is bound to the same cardholder — the balance, lots and history are the
 * cardholder's, so they carry over whole.
 */
export function replaceCard(ledger: Ledger, actor: Actor, oldCardId: string, newNumber: string, newChipUid: string | null, now: string) {
  requireReason(actor);
  return ledger.atomically(() => {
    const old = card(ledger, oldCardId);
    if (old.status === 'replaced') throw new LedgerRuleError('card_status', 'This card was already replaced', 'Эта карта уже заменена');
    holder(ledger, old.cardholder_id as string);
    numberFree(ledger, newNumber, newChipUid);
    const cardId = uuidv7();
    ledger.sqlite.prepare('INSERT INTO cards (id, number, chip_uid, status, cardholder_id, issued_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(cardId, newNumber, newChipUid, 'active', old.cardholder_id, now, now);
    setCardStatus(ledger, oldCardId, 'replaced', now, cardId);
    const cards = [cardView(card(ledger, oldCardId)), cardView(card(ledger, cardId))];
    ledger.appendOutbox('card', uuidv7(), now, { cards });
    audit(ledger, actor, 'card.replace', oldCardId, { newCardId: cardId, newNumber: newNumber.slice(-4) }, now);
    return cards[1]!;
  });
}

/**
 * Merges a duplicate cardholder into the one kept: the duplicate's cards move over, each of its
 * open lots is transferred with its own expiry (a debit on the duplicate, a credit on the kept
 * one), its purchase history counts for the kept one, and it is marked merged.
 */
export function mergeCardholders(ledger: Ledger, actor: Actor, keepId: string, duplicateId: string, now: string) {
  requireReason(actor);
  if (keepId === duplicateId) throw new LedgerRuleError('merge_self', 'Choose two different cardholders', 'Выберите двух разных клиентов');
  return ledger.atomically(() => {
    holder(ledger, keepId);
    holder(ledger, duplicateId);
    const lots = ledger.lots(duplicateId).filter((l) => l.points > 0);
    const entries = ledger.appendEntries(
      lots.flatMap((l) => [
        { cardholderId: duplicateId, kind: 'transfer' as const, points: -l.points, lotId: l.lotId, reason: 'Перенос баллов при объединении клиентов' },
        { cardholderId: keepId, kind: 'transfer' as const, points: l.points, activatesAt: l.activatesAt, expiresAt: l.expiresAt, reason: 'Баллы объединённого клиента' },
      ]),
      now,
    );
    ledger.moveHistory(duplicateId, keepId);
    const moved = ledger.sqlite.prepare('SELECT id FROM cards WHERE cardholder_id = ?').pluck().all(duplicateId) as string[];
    ledger.sqlite.prepare('UPDATE cards SET cardholder_id = ?, updated_at = ? WHERE cardholder_id = ?').run(keepId, now, duplicateId);
    ledger.sqlite.prepare("UPDATE cardholders SET status = 'merged', merged_into = ?, updated_at = ? WHERE id = ?").run(keepId, now, duplicateId);
    ledger.appendOutbox('merge', uuidv7(), now, { keepId, duplicateId, cards: moved.map((id) => cardView(card(ledger, id))), entries });
    audit(ledger, actor, 'cardholder.merge', keepId, { duplicateId, cards: moved.length, points: lots.reduce((s, l) => s + l.points, 0) }, now);
    return { keepId, movedCards: moved.length, movedPoints: lots.reduce((s, l) => s + l.points, 0) };
  });
}

/**
 * A manual balance adjustment. A credit opens a new lot (optionally expiring); a debit draws on
 * the open lots, soonest-expiring first, and may not take the balance below zero.
 */
export function adjustPoints(ledger: Ledger, actor: Actor, cardholderId: string, points: number, now: string, expiresAt: string | null = null) {
  requireReason(actor);
  if (!Number.isInteger(points) || points === 0) throw new LedgerRuleError('bad_points', 'Points must be a whole non-zero number', 'Баллы — целое число, не ноль');
  return ledger.atomically(() => {
    holder(ledger, cardholderId);
    const reason = `Ручная корректировка: ${actor.reason.trim()}`;
    let entries: Row[];
    if (points > 0) entries = ledger.appendEntries([{ cardholderId, kind: 'adjust', points, expiresAt, reason }], now);
    else {
      const open = ledger
        .lots(cardholderId)
        .filter((l) => l.points > 0)
        .sort((a, b) => (a.expiresAt ?? '9999').localeCompare(b.expiresAt ?? '9999') || a.earnedAt.localeCompare(b.earnedAt));
      const available = open.reduce((s, l) => s + l.points, 0);
      if (available < -points) throw new LedgerRuleError('insufficient_points', `Only ${available} points to take from`, `Списать можно не больше ${available} баллов`);
      let left = -points;
      const draws = [];
      for (const l of open) {
        if (!left) break;
        const take = Math.min(left, l.points);
        draws.push({ cardholderId, kind: 'adjust' as const, points: -take, lotId: l.lotId, reason });
        left -= take;
      }
      entries = ledger.appendEntries(draws, now);
    }
    ledger.appendOutbox('entries', uuidv7(), now, { entries });
    audit(ledger, actor, 'points.adjust', cardholderId, { points }, now);
    return { balance: ledger.balance(cardholderId) };
  });
}

/**
 * Anonymizes a cardholder on request: the sealed questionnaire, the phone index and the name
 * tokens are removed; cards, receipts and point entries stay, so every sum is unchanged.
 */
export function anonymize(ledger: Ledger, actor: Actor, cardholderId: string, now: string) {
  requireReason(actor);
  return ledger.atomically(() => {
    const h = holder(ledger, cardholderId);
    if (h.status === 'anonymized') throw new LedgerRuleError('already_anonymized', 'Already anonymized', 'Данные клиента уже обезличены');
    ledger.eraseHolder(cardholderId, now);
    ledger.appendOutbox('anonymize', uuidv7(), now, { cardholderId });
    audit(ledger, actor, 'cardholder.anonymize', cardholderId, {}, now);
  });
}

export function auditTrail(ledger: Ledger, target?: string, limit = 100) {
  const sql = target ? 'SELECT * FROM audit_log WHERE target = ? ORDER BY at DESC, id DESC LIMIT ?' : 'SELECT * FROM audit_log ORDER BY at DESC, id DESC LIMIT ?';
  return (target ? ledger.sqlite.prepare(sql).all(target, limit) : ledger.sqlite.prepare(sql).all(limit)) as { id: string; at: string; user_id: string; action: string; target: string; reason: string; details: string }[];
}

// ---- users, PINs and shifts ---------------------------------------------------------------

export type Role = 'cashier' | 'admin';
export interface User {
  id: string;
  name: string;
  role: Role;
}

// scrypt with N = 2^15, r = 8: ~50 ms per check, so a stolen ledger cannot be brute-forced cheaply.
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

export function hashPin(pin: string): string {
  const salt = randomBytes(16);
  const hash = scryptSync(pin, salt, 32, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export function pinMatches(pin: string, stored: string): boolean {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const got = scryptSync(pin, Buffer.from(salt, 'base64'), expected.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: SCRYPT.maxmem });
  return timingSafeEqual(got, expected);
}

const PIN_RULE = /^\d{4,8}$/;

export function createUser(ledger: Ledger, name: string, role: Role, pin: string, now: string): User {
  if (!name.trim()) throw new LedgerRuleError('bad_name', 'A user needs a name', 'Укажите имя пользователя');
  if (!PIN_RULE.test(pin)) throw new LedgerRuleError('bad_pin', 'A PIN is 4 to 8 digits', 'PIN — от 4 до 8 цифр');
  const users = ledger.sqlite.prepare('SELECT pin_hash FROM users WHERE active = 1').pluck().all() as string[];
  if (users.some((h) => pinMatches(pin, h))) throw new LedgerRuleError('pin_taken', 'Another user has this PIN', 'Этот PIN уже занят');
  const id = uuidv7();
  ledger.sqlite.prepare('INSERT INTO users (id, name, role, pin_hash, active, created_at) VALUES (?, ?, ?, ?, 1, ?)').run(id, name.trim(), role, hashPin(pin), now);
  return { id, name: name.trim(), role };
}

const MAX_FAILURES = 5;
const LOCK_MS = 5 * 60_000;

/** Wrong PINs in a row and the lock they set, kept in the ledger: restarting the app does not reset them. */
function pinFailures(ledger: Ledger): { count: number; lockedUntil: number } {
  const get = (key: string) => Number(ledger.setting(key) ?? 0);
  return { count: get('pin_failures'), lockedUntil: get('pin_locked_until') };
}

function savePinFailures(ledger: Ledger, f: { count: number; lockedUntil: number }) {
  ledger.atomically(() => {
    ledger.saveSetting('pin_failures', String(f.count));
    ledger.saveSetting('pin_locked_until', String(f.lockedUntil));
  });
}

/** Who a PIN belongs to. Five wrong PINs in a row lock the terminal's PIN pad for five minutes. */
export function login(ledger: Ledger, pin: string, nowMs = Date.now()): User {
  const f = pinFailures(ledger);
  if (f.lockedUntil > nowMs) {
    const min = Math.ceil((f.lockedUntil - nowMs) / 60_000);
    throw new LedgerRuleError('pin_locked', `Too many wrong PINs: try again in ${min} min`, `Слишком много неверных PIN: повторите через ${min} мин`);
  }
  const users = ledger.sqlite.prepare('SELECT id, name, role, pin_hash FROM users WHERE active = 1').all() as (User & { pin_hash: string })[];
  const user = PIN_RULE.test(pin) ? users.find((u) => pinMatches(pin, u.pin_hash)) : undefined;
  if (!user) {
    f.count++;
    if (f.count >= MAX_FAILURES) Object.assign(f, { count: 0, lockedUntil: nowMs + LOCK_MS });
    savePinFailures(ledger, f);
    throw new LedgerRuleError('bad_pin', 'Wrong PIN', 'Неверный PIN');
  }
  if (f.count || f.lockedUntil) savePinFailures(ledger, { count: 0, lockedUntil: 0 });
  return { id: user.id, name: user.name, role: user.role };
}

export interface Shift {
  id: string;
  cashierId: string;
  openedAt: string;
  closedAt: string | null;
}

export function openShift(ledger: Ledger, cashierId: string, now: string): Shift {
  return ledger.atomically(() => {
    const open = currentShift(ledger);
    if (open) throw new LedgerRuleError('shift_open', 'A shift is already open on this terminal', 'Смена на этой кассе уже открыта');
    const id = uuidv7();
    ledger.sqlite
      .prepare(
        `INSERT INTO shifts (id, cashier_id, opened_at, receipts_from, outbox_from)
         VALUES (?, ?, ?, (SELECT coalesce(max(rowid), 0) FROM receipts), (SELECT coalesce(max(seq), 0) FROM outbox))`,
      )
      .run(id, cashierId, now);
    return { id, cashierId, openedAt: now, closedAt: null };
  });
}

export function currentShift(ledger: Ledger): Shift | null {
  const row = ledger.sqlite.prepare('SELECT id, cashier_id, opened_at, closed_at FROM shifts WHERE closed_at IS NULL ORDER BY opened_at DESC LIMIT 1').get() as Row | undefined;
  return row ? { id: row.id as string, cashierId: row.cashier_id as string, openedAt: row.opened_at as string, closedAt: null } : null;
}

/** The Z-report (the same shape the screens get). */
export type ShiftReport = ShiftReportView;

/**
 * The Z-report: receipts, discounts, points earned and redeemed, enrollments, per cashier. It reads
 * only the receipts and outbox rows written since the shift opened (a shift opened before migration
 * 0011 has no such place, and is read from the start).
 */
export function shiftReport(ledger: Ledger, shiftId: string): ShiftReport {
  const s = ledger.sqlite.prepare('SELECT * FROM shifts WHERE id = ?').get(shiftId) as Row | undefined;
  if (!s) throw new LedgerRuleError('shift_not_found', 'No such shift', 'Смена не найдена');
  const sign = "CASE WHEN kind = 'sale' THEN 1 ELSE -1 END";
  const cashiers = ledger.sqlite
    .prepare(
      `SELECT r.cashier_id AS cashierId, coalesce(u.name, '—') AS name,
              sum(kind = 'sale') AS receipts, sum(kind = 'return') AS returns,
              sum(${sign} * gross) AS gross, sum(${sign} * discount) AS discount, sum(${sign} * to_pay) AS toPay,
              sum(${sign} * points_earned) AS pointsEarned, sum(${sign} * points_redeemed) AS pointsRedeemed
       FROM receipts r LEFT JOIN users u ON u.id = r.cashier_id WHERE r.rowid > ? AND r.shift_id = ? GROUP BY r.cashier_id ORDER BY name`,
    )
    .all(s.receipts_from ?? 0, shiftId) as ShiftReport['cashiers'];
  const closedAt = (s.closed_at as string | null) ?? null;
  // Each enrollment here wrote an 'enroll' outbox row named by the new cardholder's id.
  const enrollments = ledger.sqlite
    .prepare(
      `SELECT count(*) FROM cardholders WHERE id IN (SELECT op_id FROM outbox WHERE seq > ? AND kind = 'enroll')
         AND terminal_id = ? AND enrolled_at >= ? AND (? IS NULL OR enrolled_at <= ?)`,
    )
    .pluck()
    .get(s.outbox_from ?? 0, ledger.terminalId, s.opened_at, closedAt, closedAt) as number;
  const sum = (k: keyof ShiftReport['cashiers'][number]) => cashiers.reduce((a, c) => a + Number(c[k]), 0);
  return {
    shiftId,
    openedAt: s.opened_at as string,
    closedAt,
    cashiers,
    totals: { receipts: sum('receipts'), returns: sum('returns'), gross: sum('gross'), discount: sum('discount'), toPay: sum('toPay'), pointsEarned: sum('pointsEarned'), pointsRedeemed: sum('pointsRedeemed'), enrollments },
  };
}

export function closeShift(ledger: Ledger, shiftId: string, now: string): ShiftReport {
  const changed = ledger.sqlite.prepare('UPDATE shifts SET closed_at = ? WHERE id = ? AND closed_at IS NULL').run(now, shiftId).changes;
  if (!changed) throw new LedgerRuleError('shift_closed', 'This shift is not open', 'Эта смена не открыта');
  return shiftReport(ledger, shiftId);
}
