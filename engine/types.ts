// The engine's data: a program (validated JSON), a card's state, a basket, and what pricing
// returns. Money is integer kopecks, points are integers; percents are basis points (1% = 100).
import type { Reason } from '../protocol/api';

export type { Reason };
export type Kopecks = number;
export type Points = number;
/** Basis points: 1% = 100, 100% = 10000. */
export type Bp = number;

export interface BasketLine {
  sku: string;
  name: string;
  category: string;
  qty: number;
  /** Price of one unit in kopecks. */
  unitPrice: Kopecks;
}

export interface Basket {
  lines: BasketLine[];
}

/** What is left of one earned lot. `lotId` is the id of the entry that created it. */
export interface PointLot {
  lotId: string;
  points: Points;
  earnedAt: string;
  activatesAt: string;
  expiresAt: string | null;
}

export interface HolderAttributes {
  birthDate?: string;
  sex?: 'male' | 'female';
  socialCategory?: string;
  enrolledAt?: string;
  /** HQ segments (e.g. RFM "champions") the cardholder belongs to. */
  segments?: string[];
}

export interface CardState {
  lots: readonly PointLot[];
  /** Paid amount of all earlier purchases, kopecks. */
  lifetimeSpend: Kopecks;
  /** Number of earlier purchases. */
  purchaseCount: number;
  /** No purchase yet: the welcome bonus applies. */
  firstPurchase?: boolean;
  holder: HolderAttributes;
  /** Points already earned / redeemed today (for daily limits). */
  today?: { earned: Points; redeemed: Points };
  /** Earlier purchases of items: sku → ISO time of the last purchase (for repeat-purchase rules). */
  lastBought?: Record<string, string>;
}

export interface PricedLine extends BasketLine {
  gross: Kopecks;
  discount: Kopecks;
  /** Part of the receipt paid with points, allocated to this line. */
  redeem: Kopecks;
  /** gross − discount − redeem: what the customer pays for the line. */
  net: Kopecks;
  pointsEarned: Points;
  pointsRedeemed: Points;
  reasons: Reason[];
}

export interface EarnLot {
  points: Points;
  activatesAt: string;
  expiresAt: string | null;
  /** 'purchase' points follow the lines on a return; 'welcome' and other bonuses stay. */
  source: 'purchase' | 'welcome';
  reason: Reason;
}

export interface PricedBasket {
  program: { id: string; version: number; hash: string };
  now: string;
  lines: PricedLine[];
  totals: {
    gross: Kopecks;
    discount: Kopecks;
    redeemKopecks: Kopecks;
    toPay: Kopecks;
    pointsRedeemed: Points;
    pointsEarned: Points;
  };
  redemption: {
    /** Most points this receipt may take now (0 when refused). */
    maxPoints: Points;
    /** Lots drawn, FIFO, for the points actually redeemed. */
    fromLots: { lotId: string; points: Points }[];
    refusedReason?: Reason;
  };
  earnLots: EarnLot[];
  /** Receipt-level explanations (caps, earn-or-burn, welcome…). */
  reasons: Reason[];
}

export interface ValidationError {
  path: string;
  message: string;
}

/** Validation errors in one line, each by its path: "earn.percent: …; discounts[2].bands: …". */
export function describeErrors(errors: readonly ValidationError[]): string {
  return errors.map((e) => `${e.path}: ${e.message}`).join('; ');
}
