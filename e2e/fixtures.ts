// Each test gets its own browser host with a fresh temporary data directory.
import { test as base, expect, type Page } from '@playwright/test';
import { join } from 'node:path';
import { startBrowserHost, stopBrowserHost, type HostProcess } from './host';

export { startBrowserHost, stopBrowserHost, type HostProcess };

export const test = base.extend<{ host: HostProcess; till: Page }>({
  host: async ({}, use) => {
    const host = await startBrowserHost();
    await use(host);
    await stopBrowserHost(host);
  },
  till: async ({ page, host }, use) => {
    await page.goto(host.url);
    await page.getByTestId('status-bar').waitFor();
    await loginAndOpenShift(page);
    await use(page);
  },
});

export { expect };

/** The demo cashier (PIN 1111) logs in and opens the shift, as every working day starts. */
export async function loginAndOpenShift(page: Page, pin = '1111') {
  await page.getByTestId('pin').fill(pin);
  await page.getByTestId('pin').press('Enter');
  await page.getByTestId('open-shift').click();
  await page.getByTestId('nav-sale').waitFor();
}

/** Items scanned or typed into the basket, by barcode or name (one line each). */
export async function addItems(page: Page, items: string[]) {
  for (const item of items) {
    await page.getByTestId('product-search').fill(item);
    await page.getByTestId('product-search').press('Enter');
  }
  await expect(page.getByTestId('basket').locator('tbody tr')).toHaveCount(new Set(items).size);
}

/** A card swiped on the simulated reader (the raw track). */
export async function swipe(page: Page, raw: string) {
  await page.getByTestId('sim-raw').fill(raw);
  await page.getByTestId('sim-swipe').click();
}

export async function screenshot(page: Page, name: string) {
  await page.screenshot({ path: join('e2e', 'screenshots', `${name}.png`), fullPage: true });
}
