// The readers file (`--readers FILE`, LOYALTY_READERS): a JSON list of reader configurations,
// validated here so a typo is one clear line at start-up, not a silent dead reader.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { ReaderConfig } from './types';

const id = z.string().regex(/^[\w.-]{1,40}$/, 'letters, digits, dot, dash or underscore (1–40)');
const usbId = z.union([z.number().int().min(0).max(0xffff), z.string().regex(/^(0x)?[0-9a-fA-F]{1,4}$/).transform((s) => parseInt(s.replace(/^0x/i, ''), 16))]);

const readerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('simulated'), id }).strict(),
  z
    .object({
      type: z.literal('serial'),
      id,
      path: z.string().min(1),
      baudRate: z.number().int().positive().optional(),
      protocol: z.enum(['lines', 'framed']).optional(),
      linePreset: z.enum(['track', 'rfid', 'number']).optional(),
      linePattern: z
        .string()
        .refine((p) => {
          try {
            new RegExp(p);
            return true;
          } catch {
            return false;
          }
        }, 'not a valid regular expression')
        .optional(),
    })
    .strict(),
  z.object({ type: z.literal('hid'), id, vendorId: usbId, productId: usbId, layout: z.enum(['magtek', 'idtech', 'hidpos']) }).strict(),
]);

export const readersSchema = z.array(readerSchema).min(1).refine((list) => new Set(list.map((r) => r.id)).size === list.length, 'reader ids must be unique');

export function parseReaders(json: unknown): { ok: true; value: ReaderConfig[] } | { ok: false; message: string } {
  const r = readersSchema.safeParse(json);
  if (r.success) return { ok: true, value: r.data as ReaderConfig[] };
  return { ok: false, message: r.error.issues.map((i) => `${i.path.map((p, n) => (typeof p === 'number' ? `[${p}]` : `${n ? '.' : ''}${String(p)}`)).join('')}: ${i.message}`).join('; ') };
}

export function loadReadersFile(path: string): ReaderConfig[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`readers file ${path}: ${(e as Error).message}`);
  }
  const r = parseReaders(json);
  if (!r.ok) throw new Error(`readers file ${path}: ${r.message}`);
  // The simulated reader stays available for demos alongside real ones.
  return r.value.some((c) => c.type === 'simulated') ? r.value : [{ type: 'simulated', id: 'sim-1' }, ...r.value];
}
