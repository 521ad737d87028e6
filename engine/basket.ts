// Basket input checked before pricing: whole units, whole kopecks, clear messages by path.
import { z } from 'zod';
import { formatPath } from './program';
import type { Basket, ValidationError } from './types';

const MAX_KOPECKS = 100_000_000_00; // 100 million roubles on one line is a typo, not a sale

const line = z
  .object({
    sku: z.string().min(1, 'must not be empty').max(64),
    name: z.string().min(1, 'must not be empty').max(200),
    category: z.string().min(1, 'must not be empty').max(64),
    qty: z.number().int('must be a whole number of units').min(1, 'must be at least 1').max(100_000, 'is too large'),
    unitPrice: z.number().int('must be whole kopecks (12.50 ₽ is 1250)').min(0, 'must not be negative').max(MAX_KOPECKS, 'is too large'),
  })
  .strict();

const basketSchema = z.object({ lines: z.array(line).min(1, 'the basket is empty').max(500, 'more than 500 lines') }).strict();

export function validateBasket(json: unknown): { ok: true; basket: Basket } | { ok: false; errors: ValidationError[] } {
  const parsed = basketSchema.safeParse(json);
  if (!parsed.success) return { ok: false, errors: parsed.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })) };
  for (const l of parsed.data.lines) {
    if (!Number.isSafeInteger(l.qty * l.unitPrice)) return { ok: false, errors: [{ path: 'lines', message: 'a line amount is too large' }] };
  }
  return { ok: true, basket: parsed.data };
}
