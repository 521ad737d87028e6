// Does a rule apply: to this line (scope, exclusions) and to this customer now (conditions)?
import type { Condition, Program, Scope } from './program';
import { ageOn, daysBetween, type LocalDate } from './time';
import type { BasketLine, CardState } from './types';

export interface Context {
  program: Program;
  card: CardState | null;
  now: string;
  local: LocalDate;
  grossTotal: number;
}

export function inScope(scope: Scope | undefined, line: BasketLine): boolean {
  if (!scope) return true;
  return !!(scope.categories?.includes(line.category) || scope.skus?.includes(line.sku));
}

export function excluded(program: Program, line: BasketLine, from: 'discount' | 'earn' | 'redeem'): boolean {
  return program.exclusions.some((e) => e.from.includes(from) && inScope(e, line));
}

/** Every condition given must hold; one that needs a customer attribute the card lacks fails. */
export function conditionHolds(c: Condition | undefined, ctx: Context): boolean {
  if (!c) return true;
  const t = Date.parse(ctx.now);
  if (c.from && t < Date.parse(c.from)) return false;
  if (c.to && t >= Date.parse(c.to)) return false;
  if (c.weekdays && !c.weekdays.includes(ctx.local.weekday)) return false;
  if (c.minReceipt !== undefined && ctx.grossTotal < c.minReceipt) return false;
  const h = ctx.card?.holder;
  if (c.sex && h?.sex !== c.sex) return false;
  if (c.ageMin !== undefined || c.ageMax !== undefined) {
    const age = h?.birthDate ? ageOn(h.birthDate, ctx.local) : null;
    if (age === null) return false;
    if (c.ageMin !== undefined && age < c.ageMin) return false;
    if (c.ageMax !== undefined && age > c.ageMax) return false;
  }
  if (c.socialCategories && !(h?.socialCategory && c.socialCategories.includes(h.socialCategory))) return false;
  if (c.tenureDaysMin !== undefined && !(h?.enrolledAt && daysBetween(h.enrolledAt, ctx.now) >= c.tenureDaysMin)) return false;
  if (c.segments && !c.segments.some((s) => h?.segments?.includes(s))) return false;
  return true;
}
