// npm run bench:engine — pricing latency of one basket under the demo program (bar: p99 ≤ 0.2 ms),
// in steady state (after WARMUP pricings).
// Run as shipped: bundled by esbuild (as electron/build.mjs bundles the core), not through tsx.
import { readFileSync } from 'node:fs';
import { priceBasket, priceReturn, validateProgram, type CardState } from '../engine';
import { figure, percentile, resourceFile, timeEach } from './stats';

const checked = validateProgram(JSON.parse(readFileSync(resourceFile('demo-program.json'), 'utf8')));
if (!checked.ok) throw new Error('demo program invalid');
const catalog = JSON.parse(readFileSync(resourceFile('demo-catalog.json'), 'utf8')) as { sku: string; name: string; category: string; unitPrice: number }[];

// A typical big receipt: 20 lines over the catalogue, a card with 12 lots and a redemption.
const basket = { lines: Array.from({ length: 20 }, (_, i) => ({ ...catalog[i % catalog.length]!, qty: 1 + (i % 4) })) };
const card: CardState = {
  lots: Array.from({ length: 12 }, (_, i) => ({ lotId: `lot-${i}`, points: 150 + i, earnedAt: `2026-0${1 + (i % 9)}-01T00:00:00Z`, activatesAt: '2026-01-01T00:00:00Z', expiresAt: i % 3 ? null : '2027-06-01T00:00:00Z' })),
  lifetimeSpend: 12_345_600,
  purchaseCount: 8,
  holder: { birthDate: '1985-03-14', sex: 'female', socialCategory: 'pensioner', enrolledAt: '2024-01-01T00:00:00Z' },
  today: { earned: 0, redeemed: 0 },
};
const N = 50_000;
// Steady state, as at a till that has been open a while: the first thousands of pricings also pay for
// V8 compiling the engine (on 2 cores, beside the main thread), which a long-running terminal pays once.
const WARMUP = 10_000;
const now = '2026-11-23T10:00:00Z';
const times = timeEach(N, (i) => priceBasket(checked.program, checked.hash, card, basket, { now, redeemPoints: i % 2 ? 500 : 0 }), WARMUP);
figure('price_p50', percentile(times, 50), 'ms', 4);
figure('price_p99', percentile(times, 99), 'ms', 4);
figure('price_lines', basket.lines.length, 'lines', 0);
const sale = priceBasket(checked.program, checked.hash, card, basket, { now, redeemPoints: 500 });
const returns = timeEach(N, () => priceReturn(sale, { 1: 1 }, [{ lineNo: 2, qty: 1 }, { lineNo: 5, qty: 1 }]));
figure('return_p99', percentile(returns, 99), 'ms', 4);
