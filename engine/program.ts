// The program format: versioned JSON, validated here with errors that name the path and say what
// is wrong ("discounts[1].bands[2].from: must be greater than bands[1].from"). A program's hash is
// the SHA-256 of its canonical JSON, so the same rules always have the same hash.
import { z } from 'zod';
import { canonicalJson, sha256Hex } from '../protocol/chain';
import { toBp } from './money';
import type { ValidationError } from './types';

const percent = z
  .number()
  .min(0, 'must be 0 or more')
  .max(100, 'must be at most 100')
  .refine((v) => Math.abs(v * 100 - Math.round(v * 100)) < 1e-9, 'at most two decimals');
const posInt = z.number().int('must be a whole number').min(1, 'must be 1 or more');
const nonNegInt = z.number().int('must be a whole number').min(0, 'must be 0 or more');
const isoDate = z.string().refine((s) => /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?$/.test(s) && !Number.isNaN(Date.parse(s)), 'must be an ISO date like 2026-03-01 or 2026-03-01T00:00:00Z');
const monthDay = z.string().regex(/^(\d{4}-)?\d{2}-\d{2}$/, 'must be MM-DD or YYYY-MM-DD');
const names = z.array(z.string().min(1)).min(1, 'must list at least one');

/** Who and when a rule applies to; every condition given must hold (combinations are ANDs). */
const condition = z
  .object({
    from: isoDate.optional(),
    to: isoDate.optional(),
    weekdays: z.array(z.number().int().min(1).max(7)).min(1).optional(),
    sex: z.enum(['male', 'female']).optional(),
    ageMin: nonNegInt.optional(),
    ageMax: nonNegInt.optional(),
    socialCategories: names.optional(),
    tenureDaysMin: nonNegInt.optional(),
    segments: names.optional(),
    minReceipt: nonNegInt.optional(),
  })
  .strict();

const scope = z.object({ categories: names.optional(), skus: names.optional() }).strict();

const base = { id: z.string().min(1).max(64), name: z.string().min(1).max(120).optional(), when: condition.optional(), scope: scope.optional() };

const band = z
  .object({
    from: nonNegInt,
    to: nonNegInt.optional(),
    lower: z.enum(['inclusive', 'exclusive']).default('inclusive'),
    upper: z.enum(['inclusive', 'exclusive']).default('exclusive'),
    percent,
  })
  .strict();

const discount = z.discriminatedUnion('type', [
  z.object({ ...base, type: z.literal('fixed'), percent }).strict(),
  z.object({ ...base, type: z.literal('cumulative'), measure: z.enum(['spend', 'count']), bands: z.array(band).min(1, 'needs at least one band') }).strict(),
  z.object({ ...base, type: z.literal('offer'), percent }).strict(),
  z.object({ ...base, type: z.literal('quantity'), minQty: posInt, percent }).strict(),
  z
    .object({
      ...base,
      type: z.literal('bundle'),
      items: z.array(z.object({ sku: z.string().min(1).optional(), category: z.string().min(1).optional(), qty: posInt.default(1) }).strict()).min(2, 'a bundle needs at least two items'),
      percent,
    })
    .strict(),
  z.object({ ...base, type: z.literal('repeat'), withinDays: posInt, percent }).strict(),
  z.object({ ...base, type: z.literal('birthday'), daysBefore: nonNegInt.default(0), daysAfter: nonNegInt.default(0), percent }).strict(),
  z.object({ ...base, type: z.literal('holiday'), dates: z.array(monthDay).min(1), percent }).strict(),
]);

const rateOverride = z.object({ name: z.string().min(1).max(120).optional(), when: condition.optional(), scope: scope.optional(), percent }).strict();

const earn = z.discriminatedUnion('mode', [
  z
    .object({
      mode: z.literal('percent'),
      percent,
      rounding: z.enum(['down', 'halfUp']).default('down'),
      activationDays: nonNegInt.default(0),
      expiryDays: posInt.optional(),
      earnOrBurn: z.boolean().default(false),
      dailyLimit: posInt.optional(),
      birthday: z.object({ percent, daysBefore: nonNegInt.default(0), daysAfter: nonNegInt.default(0) }).strict().optional(),
      holidays: z.array(z.object({ name: z.string().min(1).max(120), dates: z.array(monthDay).min(1), percent }).strict()).optional(),
      offers: z.array(rateOverride).optional(),
    })
    .strict(),
  z
    .object({
      mode: z.literal('perAmount'),
      /** `points` for every full `per` kopecks paid. */
      per: posInt,
      points: posInt,
      activationDays: nonNegInt.default(0),
      expiryDays: posInt.optional(),
      earnOrBurn: z.boolean().default(false),
      dailyLimit: posInt.optional(),
    })
    .strict(),
]);

const programSchema = z
  .object({
    format: z.literal(1).default(1),
    id: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'must be lower-case letters, digits, dot, dash or underscore'),
    version: posInt,
    name: z.string().min(1).max(200),
    description: z.string().max(2000).optional(),
    /** Local time of the chain's stores, for birthdays, holidays and daily limits. */
    utcOffsetMinutes: z.number().int().min(-720).max(840).default(180),
    /** Kopecks one point is worth when paying with points. */
    pointValue: posInt.default(100),
    stacking: z.enum(['additive', 'best', 'exclusive']).default('best'),
    discountRounding: z.enum(['down', 'halfUp']).default('halfUp'),
    limits: z.object({ maxLineDiscountPercent: percent.optional(), maxReceiptDiscountPercent: percent.optional() }).strict().default({}),
    exclusions: z
      .array(z.object({ categories: names.optional(), skus: names.optional(), from: z.array(z.enum(['discount', 'earn', 'redeem'])).min(1) }).strict())
      .default([]),
    discounts: z.array(discount).default([]),
    earn: earn.optional(),
    redeem: z
      .object({ minBalance: nonNegInt.default(0), maxSharePercent: percent.default(100), dailyLimit: posInt.optional() })
      .strict()
      .optional(),
    welcome: z.object({ points: posInt, activationDays: nonNegInt.default(0), expiryDays: posInt.optional() }).strict().optional(),
    expiry: z.object({ burnAfterInactiveDays: posInt.optional() }).strict().default({}),
  })
  .strict();

export type Program = z.output<typeof programSchema>;
export type Discount = Program['discounts'][number];
export type Condition = z.output<typeof condition>;
export type Scope = z.output<typeof scope>;
export type Band = z.output<typeof band>;

export type ProgramCheck = { ok: true; program: Program; hash: string; warnings: ValidationError[] } | { ok: false; errors: ValidationError[] };

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(program)';
}

/** Rules zod cannot express: band order, unique ids, consistent conditions. */
function crossCheck(p: Program): ValidationError[] {
  const errors: ValidationError[] = [];
  const seen = new Map<string, number>();
  p.discounts.forEach((d, i) => {
    const at = `discounts[${i}]`;
    const prev = seen.get(d.id);
    if (prev !== undefined) errors.push({ path: `${at}.id`, message: `"${d.id}" is already used by discounts[${prev}]` });
    seen.set(d.id, i);
    if (d.when) errors.push(...checkCondition(d.when, `${at}.when`));
    if (d.type === 'cumulative') errors.push(...checkBands(d.bands, `${at}.bands`));
    if (d.type === 'bundle') d.items.forEach((it, j) => {
      if (!it.sku === !it.category) errors.push({ path: `${at}.items[${j}]`, message: 'give exactly one of sku or category' });
    });
  });
  p.exclusions.forEach((e, i) => {
    if (!e.categories && !e.skus) errors.push({ path: `exclusions[${i}]`, message: 'give categories or skus' });
  });
  const lim = p.limits;
  if (lim.maxLineDiscountPercent !== undefined && lim.maxReceiptDiscountPercent !== undefined && lim.maxReceiptDiscountPercent > lim.maxLineDiscountPercent) {
    errors.push({ path: 'limits.maxReceiptDiscountPercent', message: 'must not be greater than limits.maxLineDiscountPercent' });
  }
  if (p.earn?.mode === 'percent') p.earn.offers?.forEach((o, i) => o.when && errors.push(...checkCondition(o.when, `earn.offers[${i}].when`)));
  if (p.redeem && !p.earn && !p.welcome) errors.push({ path: 'redeem', message: 'points can be redeemed only when the program earns them (earn or welcome)' });
  return errors;
}

function checkCondition(c: Condition, at: string): ValidationError[] {
  const errors: ValidationError[] = [];
  if (c.from && c.to && Date.parse(c.to) <= Date.parse(c.from)) errors.push({ path: `${at}.to`, message: 'must be later than from' });
  if (c.ageMin !== undefined && c.ageMax !== undefined && c.ageMax < c.ageMin) errors.push({ path: `${at}.ageMax`, message: 'must not be less than ageMin' });
  return errors;
}

function checkBands(bands: Band[], at: string): ValidationError[] {
  const errors: ValidationError[] = [];
  bands.forEach((b, i) => {
    if (b.to !== undefined && (b.to < b.from || (b.to === b.from && (b.lower === 'exclusive' || b.upper === 'exclusive')))) {
      errors.push({ path: `${at}[${i}].to`, message: 'must be greater than from (the band is empty)' });
    }
    if (b.to === undefined && i !== bands.length - 1) errors.push({ path: `${at}[${i}].to`, message: 'only the last band may be open-ended' });
    const prev = bands[i - 1];
    if (!prev) return;
    if (b.from <= prev.from) {
      errors.push({ path: `${at}[${i}].from`, message: `must be greater than ${at.split('.').pop()}[${i - 1}].from` });
      return;
    }
    if (prev.to === undefined) return;
    // Bands may touch but not overlap: the shared boundary belongs to exactly one of them.
    if (b.from < prev.to || (b.from === prev.to && prev.upper === 'inclusive' && b.lower === 'inclusive')) {
      errors.push({ path: `${at}[${i}].from`, message: `overlaps ${at.split('.').pop()}[${i - 1}] (which ends at ${prev.to} ${prev.upper}); make one boundary exclusive` });
    }
  });
  return errors;
}

function warn(p: Program): ValidationError[] {
  const warnings: ValidationError[] = [];
  p.discounts.forEach((d, i) => {
    const pcts = d.type === 'cumulative' ? d.bands.map((b, j) => ({ at: `discounts[${i}].bands[${j}].percent`, v: b.percent })) : [{ at: `discounts[${i}].percent`, v: d.percent }];
    for (const { at, v } of pcts) {
      if (v > 0 && v < 10) warnings.push({ path: at, message: `a discount of ${v}% is under 10% — below that customers do not notice it (ROMIR)` });
    }
  });
  if (p.redeem && p.redeem.maxSharePercent > 50) warnings.push({ path: 'redeem.maxSharePercent', message: 'more than half of a receipt payable with points is unusual (20–50% is common)' });
  return warnings;
}

export function validateProgram(json: unknown): ProgramCheck {
  const parsed = programSchema.safeParse(json);
  if (!parsed.success) return { ok: false, errors: parsed.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })) };
  const errors = crossCheck(parsed.data);
  if (errors.length) return { ok: false, errors };
  return { ok: true, program: parsed.data, hash: programHash(parsed.data), warnings: warn(parsed.data) };
}

/** SHA-256 over the canonical JSON of the program with its defaults filled in. */
export function programHash(p: Program): string {
  return sha256Hex(canonicalJson(p));
}

export { toBp };
