// npm run bench:ui — from the last byte of a simulated swipe to the discount visible on screen, in
// Debian Chromium against the browser host (bar: p95 ≤ 100 ms over at least 200 swipes).
// Two paths are timed:
//   sim   — the simulated reader: the clock starts in the page when the swipe is sent (before the
//           bytes reach the core, so it also counts the WebSocket hop) and stops when the priced
//           discount is painted;
//   wedge — a keyboard-wedge reader: the clock starts at the burst's last key (Enter) and stops
//           at the same point.
import { chromium, type Page } from '@playwright/test';
import { startBrowserHost, stopBrowserHost } from '../e2e/host';
import { figure, percentile } from './stats';

const SWIPES = Number(process.env.BENCH_SWIPES ?? 250);
const CARDS = ['7789000000019', '7789000000027', '7789000000035'];

/** In the page: resolve __done with ms from __t0 to the painted discount for `card`. */
const ARM = `function (path, card) {
  window.__t0 = undefined;
  function shown() {
    var name = document.querySelector('[data-testid="customer-name"]');
    var discount = document.querySelector('[data-testid="total-discount"]');
    var masked = document.querySelector('[data-testid="card-masked"]');
    return !!name && !!discount && !/^0[,.]00/.test(discount.textContent || '') && !!masked && (masked.textContent || '').endsWith(card.slice(-4));
  }
  window.__done = new Promise(function (resolve) {
    var observer = new MutationObserver(function () {
      if (window.__t0 !== undefined && shown()) {
        observer.disconnect();
        requestAnimationFrame(function () { resolve(performance.now() - window.__t0); });
      }
    });
    observer.observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  if (path === 'wedge') window.__onEnter = function (t) { window.__t0 = t; window.__onEnter = undefined; };
}`;

/** Installed before the app's own listeners: the wedge decoder swallows the burst's keys. */
const FIRST_LISTENER = `window.addEventListener('keydown', function (e) { if (e.key === 'Enter' && window.__onEnter) window.__onEnter(e.timeStamp); }, true);`;

/** Resolves with ms from `start()` to the discount and the customer shown for the card. */
async function timeToDiscount(page: Page, path: 'sim' | 'wedge', card: string): Promise<number> {
  // Plain JS text: tsx would wrap named functions in a helper the page does not have.
  await page.evaluate(`(${ARM})(${JSON.stringify(path)}, ${JSON.stringify(card)})`);
  if (path === 'sim') {
    await page.getByTestId('sim-raw').fill(`;${card}=2812?`);
    await page.evaluate(`window.__t0 = performance.now(); document.querySelector('[data-testid="sim-swipe"]').click();`);
  } else {
    await page.keyboard.type(`;${card}=2812?`, { delay: 3 });
    await page.keyboard.press('Enter');
  }
  return page.evaluate<number>(`Promise.race([window.__done, new Promise(function (_, reject) { setTimeout(function () { reject(new Error('${path} swipe of ${card}: the discount never showed')); }, 5000); })])`);
}

async function main() {
  const host = await startBrowserHost();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, locale: 'ru-RU' });
    await page.addInitScript(FIRST_LISTENER);
    await page.goto(host.url);
    await page.getByTestId('pin').fill('1111');
    await page.getByTestId('pin').press('Enter');
    await page.getByTestId('open-shift').click();
    for (const item of ['4600000000031', '4600000000048', 'Молоко']) {
      await page.getByTestId('product-search').fill(item);
      await page.getByTestId('product-search').press('Enter');
    }
    const samples: Record<'sim' | 'wedge', number[]> = { sim: [], wedge: [] };
    for (let i = 0; i < SWIPES + 20; i++) {
      for (const path of ['sim', 'wedge'] as const) {
        const card = CARDS[i % CARDS.length]!;
        // Clear the card so the next swipe has to bring the discount back.
        const clear = page.getByRole('button', { name: /Убрать карту/ });
        if (await clear.count()) await clear.click();
        await page.getByTestId('card-query').waitFor();
        const ms = await timeToDiscount(page, path, card);
        if (i >= 20) samples[path].push(ms); // the first 20 warm up
        if (process.env.BENCH_VERBOSE) process.stderr.write(`${i} ${path} ${ms.toFixed(1)} ms\n`);
      }
    }
    figure('swipes', samples.sim.length, 'per path', 0);
    figure('sim_swipe_to_discount_p50', percentile(samples.sim, 50), 'ms', 1);
    figure('sim_swipe_to_discount_p95', percentile(samples.sim, 95), 'ms', 1);
    figure('wedge_swipe_to_discount_p50', percentile(samples.wedge, 50), 'ms', 1);
    figure('wedge_swipe_to_discount_p95', percentile(samples.wedge, 95), 'ms', 1);
  } finally {
    await browser.close();
    await stopBrowserHost(host);
  }
}

await main();
