// priceBasket: program × card state × basket → the priced basket, exact to the kopeck.
// Order: line discounts (stacking, per-line cap) → receipt cap → points redemption (capped,
// FIFO over lots) → points earned on what is paid → welcome bonus. Each step leaves reasons.
import { conditionHolds, excluded, inScope, type Context } from './conditions';
import { allocate, formatPercent, formatRub, mulDiv, percentOf, pointsEn, pointsRu, toBp } from './money';
import type { Discount, Program, Scope } from './program';
import { addDays, isListedDate, isoBefore, localDate, localDayStart, nearBirthday } from './time';
import type { Basket, BasketLine, Bp, CardState, EarnLot, PricedBasket, PricedLine, Reason } from './types';

export interface PriceOptions {
  /** The moment of the sale (ISO); the engine has no clock of its own. */
  now: string;
  /** Points the customer asks to pay with (clamped to what the rules allow). */
  redeemPoints?: number;
  /** A bound set outside the program (HQ's answer online, the card's allowance offline). */
  redeemCap?: number;
  /** Why that bound is zero, for the cashier. */
  redeemCapReason?: { ru: string; en: string };
}

interface Candidate {
  id: string;
  bp: Bp;
  reason: Omit<Reason, 'kopecks'>;
}

export function priceBasket(program: Program, hash: string, card: CardState | null, basket: Basket, opts: PriceOptions): PricedBasket {
  const grossOf = (l: BasketLine) => l.qty * l.unitPrice;
  const ctx: Context = { program, card, now: opts.now, local: localDate(opts.now, program.utcOffsetMinutes), grossTotal: basket.lines.reduce((s, l) => s + grossOf(l), 0) };
  const receiptReasons: Reason[] = [];

  // A fixed shape (no spread of whatever the caller passed): every line object looks alike to the JIT.
  const lines: PricedLine[] = basket.lines.map((l) => ({ sku: l.sku, name: l.name, category: l.category, qty: l.qty, unitPrice: l.unitPrice, gross: grossOf(l), discount: 0, redeem: 0, net: 0, pointsEarned: 0, pointsRedeemed: 0, reasons: [] }));

  if (card) applyDiscounts(ctx, lines, receiptReasons);
  for (const l of lines) l.net = l.gross - l.discount;

  const redemption = card ? redeem(ctx, card, lines, opts.redeemPoints ?? 0, receiptReasons, opts.redeemCap, opts.redeemCapReason) : { maxPoints: 0, fromLots: [] };
  for (const l of lines) l.net = l.gross - l.discount - l.redeem;

  const earnLots: EarnLot[] = [];
  if (card) {
    const earned = earn(ctx, card, lines, receiptReasons);
    if (earned) earnLots.push(earned);
    if (program.welcome && card.firstPurchase) {
      const w = program.welcome;
      const activatesAt = addDays(opts.now, w.activationDays);
      const reason = { code: 'welcome', ru: `Приветственный бонус: ${pointsRu(w.points)}`, en: `Welcome bonus: ${pointsEn(w.points)}`, points: w.points };
      earnLots.push({ points: w.points, activatesAt, expiresAt: w.expiryDays ? addDays(activatesAt, w.expiryDays) : null, source: 'welcome', reason });
      receiptReasons.push(reason);
    }
  }

  const sum = (f: (l: PricedLine) => number) => lines.reduce((s, l) => s + f(l), 0);
  return {
    program: { id: program.id, version: program.version, hash },
    now: opts.now,
    lines,
    totals: {
      gross: sum((l) => l.gross),
      discount: sum((l) => l.discount),
      redeemKopecks: sum((l) => l.redeem),
      toPay: sum((l) => l.net),
      pointsRedeemed: sum((l) => l.pointsRedeemed),
      pointsEarned: earnLots.reduce((s, e) => s + e.points, 0),
    },
    redemption,
    earnLots,
    reasons: receiptReasons,
  };
}

// ---- discounts ------------------------------------------------------------------------------

function applyDiscounts(ctx: Context, lines: PricedLine[], receiptReasons: Reason[]) {
  const { program } = ctx;
  const rounding = program.discountRounding;
  const bundles = bundlesPresent(program.discounts, lines);
  // Each rule's conditions, percent and reason are decided once per receipt; per line only
  // whether it reaches the line (scope, quantity, bundle item, bought before).
  const rules = program.discounts
    .filter((d) => conditionHolds(d.when, ctx))
    .map((d) => ({ d, c: candidate(d, ctx, bundles) }))
    .filter((r): r is { d: Discount; c: Candidate } => !!r.c && r.c.bp > 0);
  for (const line of lines) {
    if (excluded(program, line, 'discount')) {
      if (program.discounts.length) line.reasons.push({ code: 'excluded_discount', ru: `«${line.name}» не участвует в скидках`, en: `"${line.name}" is excluded from discounts` });
      continue;
    }
    const candidates: Candidate[] = [];
    for (const { d, c } of rules) if (inScope(d.scope, line) && reaches(d, ctx, line)) candidates.push(c);
    const chosen = stack(program.stacking, candidates, line.gross, rounding);
    let total = 0;
    for (const c of chosen) {
      const kopecks = percentOf(line.gross, c.bp, rounding);
      total += kopecks;
      line.reasons.push({ ...c.reason, kopecks });
    }
    const maxLine = program.limits.maxLineDiscountPercent;
    const cap = Math.min(line.gross, maxLine === undefined ? line.gross : percentOf(line.gross, toBp(maxLine), 'down'));
    if (total > cap) {
      line.reasons.push({ code: 'line_cap', ru: `Скидка на позицию ограничена: не более ${maxLine ?? 100}%`, en: `Line discount capped at ${maxLine ?? 100}%`, kopecks: cap - total });
      total = cap;
    }
    line.discount = total;
  }

  const maxReceipt = program.limits.maxReceiptDiscountPercent;
  if (maxReceipt === undefined) return;
  const totalDiscount = lines.reduce((s, l) => s + l.discount, 0);
  const cap = percentOf(ctx.grossTotal, toBp(maxReceipt), 'down');
  if (totalDiscount <= cap) return;
  const weights = lines.map((l) => l.discount);
  const capped = allocate(cap, weights, weights);
  lines.forEach((l, i) => {
    const cut = l.discount - capped[i]!;
    if (cut === 0) return;
    l.reasons.push({ code: 'receipt_cap', ru: `Скидка на чек ограничена: не более ${maxReceipt}%`, en: `Receipt discount capped at ${maxReceipt}%`, kopecks: -cut });
    l.discount = capped[i]!;
  });
  receiptReasons.push({ code: 'receipt_cap', ru: `Скидка на чек ограничена: не более ${maxReceipt}% (${formatRub(cap, 'ru')})`, en: `Receipt discount capped at ${maxReceipt}% (${formatRub(cap, 'en')})`, kopecks: cap - totalDiscount });
}

/** additive: all apply; best: the one worth most; exclusive: the first in program order. */
function stack(policy: Program['stacking'], candidates: Candidate[], gross: number, rounding: Program['discountRounding']): Candidate[] {
  if (candidates.length <= 1 || policy === 'additive') return candidates;
  if (policy === 'exclusive') return candidates.slice(0, 1);
  let best = candidates[0]!;
  for (const c of candidates) if (percentOf(gross, c.bp, rounding) > percentOf(gross, best.bp, rounding)) best = c;
  return [best];
}

/** Whether a rule that holds for the receipt reaches this line. */
function reaches(d: Discount, ctx: Context, line: PricedLine): boolean {
  switch (d.type) {
    case 'quantity':
      return line.qty >= d.minQty;
    case 'bundle':
      return d.items.some((it) => (it.sku ? it.sku === line.sku : it.category === line.category));
    case 'repeat': {
      const last = ctx.card!.lastBought?.[line.sku];
      return !!last && Date.parse(ctx.now) - Date.parse(last) <= d.withinDays * 86_400_000;
    }
    default:
      return true;
  }
}

/** The discount a rule gives on this receipt, if it gives one (which lines it reaches: `reaches`). */
function candidate(d: Discount, ctx: Context, bundles: Set<string>): Candidate | null {
  const pct = (p: number) => ({ bp: toBp(p), ru: formatPercent(toBp(p), 'ru'), en: formatPercent(toBp(p), 'en') });
  const n = { ru: d.name ? ` «${d.name}»` : '', en: d.name ? ` "${d.name}"` : '' };
  const card = ctx.card!;
  switch (d.type) {
    case 'fixed': {
      const p = pct(d.percent);
      return { id: d.id, bp: p.bp, reason: { code: 'fixed', ru: `Скидка по карте ${p.ru}`, en: `Card discount ${p.en}` } };
    }
    case 'offer': {
      const p = pct(d.percent);
      return { id: d.id, bp: p.bp, reason: { code: 'offer', ru: `Акция${n.ru}: ${p.ru}`, en: `Offer${n.en}: ${p.en}` } };
    }
    case 'cumulative': {
      const { value, band } = cumulativeBand(d, card);
      if (!band) return null;
      const p = pct(band.percent);
      return d.measure === 'count'
        ? { id: d.id, bp: p.bp, reason: { code: 'cumulative', ru: `Накопительная скидка ${p.ru}: ${value}-я покупка`, en: `Cumulative discount ${p.en}: purchase no. ${value}` } }
        : { id: d.id, bp: p.bp, reason: { code: 'cumulative', ru: `Накопительная скидка ${p.ru}: покупки на ${formatRub(value, 'ru')}`, en: `Cumulative discount ${p.en}: purchases of ${formatRub(value, 'en')}` } };
    }
    case 'quantity': {
      const p = pct(d.percent);
      return { id: d.id, bp: p.bp, reason: { code: 'quantity', ru: `Скидка за количество ${p.ru}: от ${d.minQty} шт.`, en: `Quantity discount ${p.en}: ${d.minQty} units or more` } };
    }
    case 'bundle': {
      if (!bundles.has(d.id)) return null;
      const p = pct(d.percent);
      return { id: d.id, bp: p.bp, reason: { code: 'bundle', ru: `Комплект${n.ru}: ${p.ru}`, en: `Bundle${n.en}: ${p.en}` } };
    }
    case 'repeat': {
      const p = pct(d.percent);
      return { id: d.id, bp: p.bp, reason: { code: 'repeat', ru: `Повторная покупка в течение ${d.withinDays} дн.: ${p.ru}`, en: `Bought again within ${d.withinDays} days: ${p.en}` } };
    }
    case 'birthday': {
      const bd = card.holder.birthDate;
      if (!bd || !nearBirthday(bd, ctx.local, d.daysBefore, d.daysAfter)) return null;
      const p = pct(d.percent);
      return { id: d.id, bp: p.bp, reason: { code: 'birthday', ru: `Скидка ко дню рождения ${p.ru}`, en: `Birthday discount ${p.en}` } };
    }
    case 'holiday': {
      if (!isListedDate(d.dates, ctx.local)) return null;
      const p = pct(d.percent);
      return { id: d.id, bp: p.bp, reason: { code: 'holiday', ru: `Праздничная скидка${n.ru}: ${p.ru}`, en: `Holiday discount${n.en}: ${p.en}` } };
    }
  }
}

/** Bundles whose every item is in the basket in the required quantity. */
function bundlesPresent(discounts: Discount[], lines: BasketLine[]): Set<string> {
  const present = new Set<string>();
  for (const d of discounts) {
    if (d.type !== 'bundle') continue;
    const complete = d.items.every((it) => lines.filter((l) => (it.sku ? l.sku === it.sku : l.category === it.category)).reduce((s, l) => s + l.qty, 0) >= it.qty);
    if (complete) present.add(d.id);
  }
  return present;
}

// ---- redemption -----------------------------------------------------------------------------

function redeem(ctx: Context, card: CardState, lines: PricedLine[], requested: number, receiptReasons: Reason[], cap = Infinity, capReason?: { ru: string; en: string }): PricedBasket['redemption'] {
  const { program, now } = ctx;
  const rules = program.redeem;
  if (!rules) return { maxPoints: 0, fromLots: [] };
  const usableLots = card.lots.filter((l) => l.points > 0 && isoBefore(l.activatesAt, now, true) && (l.expiresAt === null || isoBefore(now, l.expiresAt)));
  const balance = card.lots.reduce((s, l) => s + l.points, 0);
  const available = Math.max(0, Math.min(usableLots.reduce((s, l) => s + l.points, 0), balance));
  const refuse = (reason: Reason) => {
    if (requested > 0) receiptReasons.push(reason);
    return { maxPoints: 0, fromLots: [], refusedReason: reason };
  };
  if (balance < rules.minBalance) {
    return refuse({ code: 'redeem_min_balance', ru: `Оплата баллами — от ${pointsRu(rules.minBalance)} на счёте (сейчас ${balance})`, en: `Paying with points needs at least ${rules.minBalance} points (now ${balance})` });
  }
  const eligible = lines.map((l) => (excluded(program, l, 'redeem') ? 0 : l.gross - l.discount));
  const base = eligible.reduce((s, v) => s + v, 0);
  const shareBp = toBp(rules.maxSharePercent);
  const byShare = Math.floor(percentOf(base, shareBp, 'down') / program.pointValue);
  const byDay = rules.dailyLimit === undefined ? Infinity : Math.max(0, rules.dailyLimit - (card.today?.redeemed ?? 0));
  const byCap = Math.max(0, cap);
  const maxPoints = Math.min(available, byShare, byDay, byCap);
  if (maxPoints <= 0) {
    if (available <= 0) return refuse({ code: 'redeem_no_points', ru: 'Нет баллов, доступных для оплаты', en: 'No points available to pay with' });
    if (byCap <= 0) {
      const why = capReason ?? { ru: 'Нет связи с HQ: лимит оплаты баллами без связи исчерпан', en: 'HQ is unreachable: the offline points limit for this card is used up' };
      return refuse({ code: 'redeem_offline_limit', ru: `${why.ru} — продажа пройдёт без списания`, en: `${why.en} — the sale can go ahead without points` });
    }
    if (byDay <= 0) return refuse({ code: 'redeem_daily_limit', ru: `Дневной лимит оплаты баллами (${pointsRu(rules.dailyLimit!)}) исчерпан`, en: `Daily points payment limit (${rules.dailyLimit}) reached` });
    return refuse({ code: 'redeem_no_base', ru: 'В чеке нет товаров, которые можно оплатить баллами', en: 'Nothing in the receipt can be paid with points' });
  }
  const redeemed = Math.min(requested, maxPoints);
  let points = redeemed;
  if (requested > maxPoints) {
    const why =
      maxPoints === byShare
        ? { ru: `не более ${rules.maxSharePercent}% чека`, en: `at most ${rules.maxSharePercent}% of the receipt` }
        : maxPoints === byDay
          ? { ru: 'дневной лимит', en: 'daily limit' }
          : maxPoints === byCap
            ? { ru: 'лимит без связи с HQ', en: 'offline limit while HQ is unreachable' }
            : { ru: 'доступный остаток', en: 'available balance' };
    receiptReasons.push({ code: 'redeem_clamped', ru: `Баллами можно оплатить ${maxPoints} (${why.ru})`, en: `Up to ${maxPoints} points can be used (${why.en})`, points: maxPoints });
  }
  if (points <= 0) return { maxPoints, fromLots: [] };

  const kopecks = redeemed * program.pointValue;
  const perLine = allocate(kopecks, eligible, eligible);
  const pointsPerLine = allocate(redeemed, perLine);
  lines.forEach((l, i) => {
    l.redeem = perLine[i]!;
    l.pointsRedeemed = pointsPerLine[i]!;
    if (l.redeem > 0) l.reasons.push({ code: 'redeem', ru: `Оплачено баллами: ${l.pointsRedeemed}`, en: `Paid with points: ${l.pointsRedeemed}`, kopecks: l.redeem, points: -l.pointsRedeemed });
  });
  // Drawn oldest first (FIFO); put in that order only when points are spent.
  usableLots.sort((a, b) => a.earnedAt.localeCompare(b.earnedAt) || a.activatesAt.localeCompare(b.activatesAt) || a.lotId.localeCompare(b.lotId));
  const fromLots: { lotId: string; points: number }[] = [];
  for (const lot of usableLots) {
    if (points <= 0) break;
    const take = Math.min(lot.points, points);
    fromLots.push({ lotId: lot.lotId, points: take });
    points -= take;
  }
  receiptReasons.push({ code: 'redeem', ru: `Оплата баллами: ${pointsRu(redeemed)} = ${formatRub(kopecks, 'ru')}`, en: `Paid with ${pointsEn(redeemed)} = ${formatRub(kopecks, 'en')}`, kopecks, points: -redeemed });
  return { maxPoints, fromLots };
}

// ---- earning --------------------------------------------------------------------------------

function earn(ctx: Context, card: CardState, lines: PricedLine[], receiptReasons: Reason[]): EarnLot | null {
  const { program, now } = ctx;
  const rules = program.earn;
  if (!rules) return null;
  const redeemed = lines.reduce((s, l) => s + l.pointsRedeemed, 0);
  if (rules.earnOrBurn && redeemed > 0) {
    receiptReasons.push({ code: 'earn_or_burn', ru: 'Баллы не начисляются: чек оплачен баллами', en: 'No points earned: the receipt was paid with points' });
    return null;
  }
  const eligible = lines.map((l) => {
    if (!excluded(program, l, 'earn')) return true;
    l.reasons.push({ code: 'excluded_earn', ru: `«${l.name}»: баллы не начисляются`, en: `"${l.name}": no points earned` });
    return false;
  });

  let total: number;
  let weights: number[];
  const labels: { ru: string; en: string }[] = lines.map(() => ({ ru: '', en: '' }));
  if (rules.mode === 'percent') {
    // Rates that apply today, best first; a line takes the first whose scope it is in.
    const rates: { bp: Bp; scope?: Scope; ru: string; en: string }[] = [{ bp: toBp(rules.percent), ru: 'Бонус', en: 'Bonus' }];
    if (rules.birthday && card.holder.birthDate && nearBirthday(card.holder.birthDate, ctx.local, rules.birthday.daysBefore, rules.birthday.daysAfter)) rates.push({ bp: toBp(rules.birthday.percent), ru: 'Бонус ко дню рождения', en: 'Birthday bonus' });
    for (const h of rules.holidays ?? []) if (isListedDate(h.dates, ctx.local)) rates.push({ bp: toBp(h.percent), ru: `Бонус «${h.name}»`, en: `Bonus "${h.name}"` });
    for (const o of rules.offers ?? []) if (conditionHolds(o.when, ctx)) rates.push({ bp: toBp(o.percent), scope: o.scope, ru: o.name ? `Бонус «${o.name}»` : 'Бонус по акции', en: o.name ? `Bonus "${o.name}"` : 'Offer bonus' });
    rates.sort((a, b) => b.bp - a.bp);
    const lineRates = lines.map((l, i) => {
      if (!eligible[i]) return 0;
      const r = rates.find((x) => inScope(x.scope, l))!;
      labels[i] = { ru: `${r.ru} ${formatPercent(r.bp, 'ru')}`, en: `${r.en} ${formatPercent(r.bp, 'en')}` };
      return r.bp;
    });
    weights = lines.map((l, i) => l.net * lineRates[i]!);
    total = mulDiv(weights.reduce((s, w) => s + w, 0), 1, 10_000 * program.pointValue, rules.rounding);
  } else {
    weights = lines.map((l, i) => (eligible[i] ? l.net : 0));
    total = Math.floor(weights.reduce((s, w) => s + w, 0) / rules.per) * rules.points;
    lines.forEach((_, i) => (labels[i] = { ru: `Бонус ${rules.points} за каждые ${formatRub(rules.per, 'ru')}`, en: `Bonus ${rules.points} per ${formatRub(rules.per, 'en')}` }));
  }
  if (rules.dailyLimit !== undefined) {
    const room = Math.max(0, rules.dailyLimit - (card.today?.earned ?? 0));
    if (total > room) {
      receiptReasons.push({ code: 'earn_daily_limit', ru: `Начисление ограничено дневным лимитом ${pointsRu(rules.dailyLimit)}`, en: `Earning limited by the daily limit of ${rules.dailyLimit} points`, points: room - total });
      total = room;
    }
  }
  if (total <= 0) return null;
  const perLine = allocate(total, weights);
  lines.forEach((l, i) => {
    l.pointsEarned = perLine[i]!;
    if (l.pointsEarned > 0) l.reasons.push({ code: 'earn', ru: `${labels[i]!.ru}: +${pointsRu(l.pointsEarned)}`, en: `${labels[i]!.en}: +${pointsEn(l.pointsEarned)}`, points: l.pointsEarned });
  });
  const activatesAt = addDays(now, rules.activationDays);
  const when = rules.activationDays > 0 ? { ru: `, доступны через ${rules.activationDays} дн.`, en: `, usable in ${rules.activationDays} days` } : { ru: '', en: '' };
  const reason = { code: 'earn', ru: `Начислено ${pointsRu(total)}${when.ru}`, en: `Earned ${pointsEn(total)}${when.en}`, points: total };
  receiptReasons.push(reason);
  return { points: total, activatesAt, expiresAt: rules.expiryDays ? addDays(activatesAt, rules.expiryDays) : null, source: 'purchase', reason };
}

type CumulativeDiscount = Extract<Discount, { type: 'cumulative' }>;

/** The band of a cumulative discount the card's next purchase falls in (count or lifetime spend). */
function cumulativeBand(d: CumulativeDiscount, card: CardState) {
  const value = d.measure === 'count' ? card.purchaseCount + 1 : card.lifetimeSpend;
  const band = d.bands.find((b) => (b.lower === 'inclusive' ? value >= b.from : value > b.from) && (b.to === undefined || (b.upper === 'inclusive' ? value <= b.to : value < b.to)));
  return { value, band };
}

/** The card's tier: the cumulative discount its next purchase gets, for the customer panel. */
export function cardTier(program: Program, card: CardState): { percent: number; ru: string; en: string } | null {
  for (const d of program.discounts) {
    if (d.type !== 'cumulative') continue;
    const { band } = cumulativeBand(d, card);
    if (band) return { percent: band.percent, ru: `${d.name ?? 'Накопительная скидка'} ${band.percent}%`, en: `Cumulative discount ${band.percent}%` };
  }
  return null;
}

/** What of a card's history pricing a basket needs beyond its lots and counters (the ledger reads it). */
export interface CardStateNeeds {
  /** The points earned and paid with since this instant (`CardState.today`): the start of the
   *  chain's local day, when the program limits points per day. */
  todayFrom: string | null;
  /** When each of these items was last bought since `since` (`CardState.lastBought`), when the
   *  program rewards buying an item again within a period. */
  bought: { since: string; skus: string[] } | null;
}

export function cardStateNeeds(program: Program, now: string, basket: Basket): CardStateNeeds {
  const limited = program.earn?.dailyLimit !== undefined || program.redeem?.dailyLimit !== undefined;
  const within = Math.max(0, ...program.discounts.map((d) => (d.type === 'repeat' ? d.withinDays : 0)));
  return {
    todayFrom: limited ? localDayStart(now, program.utcOffsetMinutes) : null,
    bought: within > 0 && basket.lines.length ? { since: addDays(now, -within), skus: [...new Set(basket.lines.map((l) => l.sku))] } : null,
  };
}
