// Returns, computed from the original priced receipt. Each amount of a line (discount, points
// paid, points earned, …) is returned cumulatively: after k of n units have come back, exactly
// ⌊amount·k/n⌋ has been reversed (all of it at k = n). So any sequence of partial returns that
// covers the receipt has exactly the effect of one full return, to the kopeck and the point.
import type { Kopecks, Points, PricedBasket, PricedLine, Reason } from './types';
import { formatRub } from './money';

export interface ReturnRequest {
  /** 1-based line number on the original receipt. */
  lineNo: number;
  qty: number;
}

export interface ReturnedLine {
  lineNo: number;
  sku: string;
  name: string;
  qty: number;
  gross: Kopecks;
  /** Discount given on these units (not refunded). */
  discount: Kopecks;
  /** Part paid with points: goes back as points, not money. */
  redeem: Kopecks;
  /** Money back for the line. */
  refund: Kopecks;
  pointsTakenBack: Points;
  pointsRestored: Points;
}

export interface PricedReturn {
  original: { program: PricedBasket['program'] };
  lines: ReturnedLine[];
  totals: { gross: Kopecks; discount: Kopecks; redeemKopecks: Kopecks; refund: Kopecks; pointsTakenBack: Points; pointsRestored: Points };
  /** Redeemed points go back to the lots they came from (keeping those lots' expiry). */
  restoreLots: { lotId: string; points: Points }[];
  /** The receipt is fully returned after this. */
  complete: boolean;
  reasons: Reason[];
}

/** What a return needs of the sale it reverses: the lines as priced, the lots its points were paid
 *  from. A sale of this terminal has it in its priced basket; one made elsewhere, from HQ. */
export interface ReturnableSale {
  program: PricedBasket['program'];
  lines: readonly Pick<PricedLine, 'sku' | 'name' | 'category' | 'qty' | 'unitPrice' | 'gross' | 'discount' | 'redeem' | 'net' | 'pointsEarned' | 'pointsRedeemed'>[];
  totals: Pick<PricedBasket['totals'], 'toPay' | 'pointsEarned' | 'pointsRedeemed'>;
  redemption: { fromLots: readonly { lotId: string; points: Points }[] };
}

export type ReturnCheck = { ok: true; value: PricedReturn } | { ok: false; errors: { path: string; message: string; messageRu: string }[] };

/** Share of `amount` reversed once `k` of `n` units are back. */
function cumulative(amount: number, k: number, n: number): number {
  return k >= n ? amount : Math.floor((amount * k) / n);
}

/** The reason a return takes back `points` of what its sale earned. */
export function earnReversed(points: Points): Reason {
  return { code: 'earn_reversed', ru: `Списываются начисленные баллы: ${points}`, en: `Earned points taken back: ${points}`, points: -points };
}

/**
 * @param original the sale as priced and committed
 * @param alreadyReturned units of each line returned before (lineNo → qty)
 * @param request what comes back now
 */
export function priceReturn(original: ReturnableSale, alreadyReturned: Readonly<Record<number, number>>, request: readonly ReturnRequest[]): ReturnCheck {
  const errors: { path: string; message: string; messageRu: string }[] = [];
  const wanted = new Map<number, number>();
  request.forEach((r, i) => {
    const line = original.lines[r.lineNo - 1];
    if (!Number.isInteger(r.lineNo) || !line) {
      errors.push({ path: `lines[${i}].lineNo`, message: `the receipt has no line ${r.lineNo}`, messageRu: `в чеке нет позиции ${r.lineNo}` });
      return;
    }
    if (!Number.isInteger(r.qty) || r.qty < 1) {
      errors.push({ path: `lines[${i}].qty`, message: 'must be a whole number of units, at least 1', messageRu: 'количество — целое число, не меньше 1' });
      return;
    }
    wanted.set(r.lineNo, (wanted.get(r.lineNo) ?? 0) + r.qty);
  });
  for (const [lineNo, qty] of wanted) {
    const line = original.lines[lineNo - 1]!;
    const before = alreadyReturned[lineNo] ?? 0;
    if (before + qty > line.qty) {
      errors.push({
        path: `lines[${lineNo}]`,
        message: `"${line.name}": ${qty} to return, but ${line.qty} sold and ${before} already returned`,
        messageRu: `«${line.name}»: к возврату ${qty}, продано ${line.qty}, уже возвращено ${before}`,
      });
    }
  }
  if (!wanted.size && !errors.length) errors.push({ path: 'lines', message: 'choose at least one line to return', messageRu: 'выберите хотя бы одну позицию' });
  if (errors.length) return { ok: false, errors };

  const lines: ReturnedLine[] = [];
  let restoredBefore = 0;
  let restoredAfter = 0;
  original.lines.forEach((line, idx) => {
    const lineNo = idx + 1;
    const k0 = alreadyReturned[lineNo] ?? 0;
    const k1 = k0 + (wanted.get(lineNo) ?? 0);
    const part = (amount: number) => cumulative(amount, k1, line.qty) - cumulative(amount, k0, line.qty);
    restoredBefore += cumulative(line.pointsRedeemed, k0, line.qty);
    restoredAfter += cumulative(line.pointsRedeemed, k1, line.qty);
    if (k1 === k0) return;
    const gross = part(line.gross);
    const discount = part(line.discount);
    const redeem = part(line.redeem);
    lines.push({ lineNo, sku: line.sku, name: line.name, qty: k1 - k0, gross, discount, redeem, refund: gross - discount - redeem, pointsTakenBack: part(line.pointsEarned), pointsRestored: part(line.pointsRedeemed) });
  });

  const restoreLots = sliceLots(original.redemption.fromLots, restoredBefore, restoredAfter);
  const sum = (f: (l: ReturnedLine) => number) => lines.reduce((s, l) => s + f(l), 0);
  const totals = {
    gross: sum((l) => l.gross),
    discount: sum((l) => l.discount),
    redeemKopecks: sum((l) => l.redeem),
    refund: sum((l) => l.refund),
    pointsTakenBack: sum((l) => l.pointsTakenBack),
    pointsRestored: sum((l) => l.pointsRestored),
  };
  const complete = original.lines.every((l, i) => (alreadyReturned[i + 1] ?? 0) + (wanted.get(i + 1) ?? 0) === l.qty);
  const reasons: Reason[] = [{ code: 'refund', ru: `К возврату: ${formatRub(totals.refund, 'ru')}`, en: `Refund: ${formatRub(totals.refund, 'en')}`, kopecks: totals.refund }];
  if (totals.discount) reasons.push({ code: 'discount_reversed', ru: `Скидка на возвращённые товары: ${formatRub(totals.discount, 'ru')} (не возвращается)`, en: `Discount on the returned items: ${formatRub(totals.discount, 'en')} (not refunded)`, kopecks: totals.discount });
  if (totals.pointsTakenBack) reasons.push(earnReversed(totals.pointsTakenBack));
  if (totals.pointsRestored) reasons.push({ code: 'redeem_restored', ru: `Возвращаются баллы, которыми платили: ${totals.pointsRestored}`, en: `Points paid with are restored: ${totals.pointsRestored}`, points: totals.pointsRestored });
  return { ok: true, value: { original: { program: original.program }, lines, totals, restoreLots, complete, reasons } };
}

/** The lots covering positions [from, to) of the redeemed points, in the order they were drawn. */
export function sliceLots(fromLots: readonly { lotId: string; points: number }[], from: number, to: number): { lotId: string; points: number }[] {
  const out: { lotId: string; points: number }[] = [];
  let pos = 0;
  for (const lot of fromLots) {
    const start = Math.max(from, pos);
    const end = Math.min(to, pos + lot.points);
    if (end > start) out.push({ lotId: lot.lotId, points: end - start });
    pos += lot.points;
  }
  return out;
}
