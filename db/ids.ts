// UUIDv7 ids for rows the terminal mints (receipts, point entries, cardholders, cards): ordered by
// time, so new rows land at the right edge of their B-trees, and unique across terminals working
// offline (74 random bits per millisecond). Monotonic within this process even when the clock
// stands still or steps back: a 32-bit sequence (random start each millisecond) breaks ties.
// The random bytes come from a pool refilled 4 KiB at a time: one syscall per ~400 ids, not one each.
import { randomFillSync } from 'node:crypto';

const pool = Buffer.alloc(4096);
let at = pool.length;
let lastMs = -Infinity;
let seq = 0;
const hex = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function uuidv7(): string {
  const now = Date.now();
  if (at + 10 > pool.length) {
    randomFillSync(pool);
    at = 0;
  }
  if (now > lastMs) {
    lastMs = now;
    seq = pool.readUInt32BE(at) >>> 1; // top bit clear: room to count up within the millisecond
    at += 4;
  } else if (++seq > 0xffffffff) {
    lastMs++;
    seq = 0;
  }
  const ms = lastMs;
  const b = new Uint8Array(16);
  b[0] = (ms / 2 ** 40) & 0xff;
  b[1] = (ms / 2 ** 32) & 0xff;
  b[2] = (ms >>> 24) & 0xff;
  b[3] = (ms >>> 16) & 0xff;
  b[4] = (ms >>> 8) & 0xff;
  b[5] = ms & 0xff;
  b[6] = 0x70 | ((seq >>> 28) & 0x0f); // version 7
  b[7] = (seq >>> 20) & 0xff;
  b[8] = 0x80 | ((seq >>> 14) & 0x3f); // variant 10
  b[9] = (seq >>> 6) & 0xff;
  b[10] = ((seq << 2) & 0xfc) | (pool[at]! & 0x03);
  for (let i = 11; i < 16; i++) b[i] = pool[at + i - 10]!;
  at += 6;
  let s = '';
  for (let i = 0; i < 16; i++) s += (i === 4 || i === 6 || i === 8 || i === 10 ? '-' : '') + hex[b[i]!];
  return s;
}
