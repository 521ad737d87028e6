import type { Page } from '@playwright/test';
import { test, expect, screenshot } from './fixtures';

const pending = async (page: Page): Promise<number> =>
  Number(await page.getByTestId('sync-pending').getAttribute('data-count'));

test('simulated swipe → discount shown → confirm → balance updated', async ({ till: page }) => {
  const waiting = await pending(page);
  for (const item of ['4600000000031', '4600000000048', 'Молоко']) {
    await page.getByTestId('product-search').fill(item);
    await page.getByTestId('product-search').press('Enter');
  }
  await expect(page.getByTestId('basket').locator('tbody tr')).toHaveCount(3);

  await page.getByTestId('sim-raw').fill(';7789000000019=2812?');
  await page.getByTestId('sim-swipe').click();
  await expect(page.getByTestId('customer-name')).toHaveText('Мария Петровна');
  await expect(page.getByTestId('card-masked')).toContainText('0019');
  await expect(page.getByTestId('card-masked')).not.toContainText('7789000000019');
  await expect(page.getByTestId('tier')).toHaveText('Накопительная скидка 3%'); // the first purchase's band

  const discount = page.getByTestId('total-discount');
  await expect(discount).not.toHaveText('0,00 ₽');
  await expect(page.getByTestId('reason').first()).toBeVisible();
  const earned = Number(await page.getByTestId('points-earned').textContent());
  expect(earned).toBeGreaterThan(0);
  const before = Number(await page.getByTestId('balance').textContent());
  await screenshot(page, 'checkout-priced');

  await page.getByTestId('confirm').click();
  await expect(page.getByTestId('receipt')).toBeVisible();
  await expect(page.getByTestId('new-balance')).toHaveText(String(before + earned));
  await screenshot(page, 'checkout-committed');

  // The sale's outbox row is counted as waiting (no HQ is configured in this host).
  await expect.poll(() => pending(page)).toBe(waiting + 1);

  // One key offers the NPS question; the answer is queued for HQ like a sale.
  await page.keyboard.press('F9');
  await page.getByTestId('nps-9').click();
  await expect(page.getByTestId('nps-saved')).toBeVisible();
  await expect.poll(() => pending(page)).toBe(waiting + 2);
});

test('a free-amount line with a category: the category rules apply (tobacco gets no discount)', async ({ till: page }) => {
  await page.getByTestId('free-amount').fill('abc');
  await page.getByTestId('free-amount').press('Enter');
  await expect(page.getByTestId('error')).toContainText('сумму');
  await page.keyboard.press('F7');
  await expect(page.getByTestId('free-amount')).toBeFocused();
  await page.getByTestId('free-category').selectOption('tobacco');
  await page.getByTestId('free-amount').fill('250');
  await page.getByTestId('free-amount').press('Enter');
  await page.getByTestId('sim-raw').fill(';7789000000043=2812?');
  await page.getByTestId('sim-swipe').click();
  await expect(page.getByTestId('customer-name')).toBeVisible();
  await expect(page.getByTestId('basket')).toContainText('Свободная сумма: табак');
  await expect(page.getByTestId('total-discount')).toHaveText('0,00 ₽');
  await expect(page.getByTestId('to-pay')).toHaveText('250,00 ₽');
});

test('typed card number and a bad one', async ({ till: page }) => {
  await page.getByTestId('card-query').fill('1234');
  await page.getByTestId('card-query').press('Enter');
  await expect(page.getByTestId('error')).toBeVisible();
  await page.getByTestId('card-query').fill('+7 903 111-22-33');
  await page.getByTestId('card-query').press('Enter');
  await expect(page.getByTestId('customer-name')).toHaveText('Алексей Иванович');
});
