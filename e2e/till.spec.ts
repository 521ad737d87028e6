// The cashier's and the store admin's screens in Debian Chromium against the browser host.
import { test, expect, screenshot, addItems, swipe } from './fixtures';

test('login is required, a wrong PIN is refused, and the shift is opened before selling', async ({ page, host }) => {
  await page.goto(host.url);
  await expect(page.getByTestId('login')).toBeVisible();
  await expect(page.getByTestId('product-search')).toHaveCount(0);
  await page.getByTestId('pin').fill('0000');
  await page.getByTestId('pin').press('Enter');
  await expect(page.getByTestId('error')).toContainText('Неверный PIN');
  await page.getByTestId('pin').fill('1111');
  await page.getByTestId('pin').press('Enter');
  await page.getByTestId('open-shift').click();
  await expect(page.getByTestId('who')).toHaveText('Кассир Анна');
  await screenshot(page, 'till-logged-in');
});

test('a sale with a swipe, a discount and a points redemption; then a partial return', async ({ till: page }) => {
  // First purchase: the welcome bonus lands, so the second one can be paid partly with points.
  await addItems(page, ['4600000000031']);
  await swipe(page, ';7789000000019=2812?');
  await expect(page.getByTestId('customer-name')).toHaveText('Мария Петровна');
  await page.getByTestId('confirm').click();
  await expect(page.getByTestId('receipt')).toBeVisible();
  await page.keyboard.press('Escape');

  await addItems(page, ['4600000000031', '4600000000048', 'Молоко']);
  await swipe(page, ';7789000000019=2812?');
  await expect(page.getByTestId('total-discount')).not.toHaveText('0,00 ₽');
  const redeem = page.getByTestId('redeem');
  const max = Number(await redeem.getAttribute('max'));
  expect(max).toBeGreaterThan(0);
  await redeem.fill(String(max + 1000)); // more than allowed: the core caps it at the maximum
  await expect(page.getByTestId('points-redeemed')).toContainText(String(max));
  await redeem.fill(String(Math.min(max, 100)));
  await expect(page.getByTestId('points-redeemed')).toContainText(String(Math.min(max, 100)));
  const before = Number(await page.getByTestId('balance').textContent());
  const earned = Number(await page.getByTestId('points-earned').textContent());
  await screenshot(page, 'sale-redemption');
  await page.getByTestId('confirm').click();
  await expect(page.getByTestId('new-balance')).toHaveText(String(before - Math.min(max, 100) + earned));
  const receiptNumber = (await page.getByTestId('receipt-number').textContent()) ?? '';

  // Partial return: one line of three.
  await page.keyboard.press('F4');
  await page.getByTestId('return-query').fill(receiptNumber);
  await page.getByTestId('return-query').press('Enter');
  await page.getByTestId('return-qty-1').fill('1');
  await expect(page.getByTestId('return-preview')).toBeVisible();
  await expect(page.getByTestId('return-refund')).not.toHaveText('0,00 ₽');
  expect(Number(await page.getByTestId('return-taken').textContent())).toBeGreaterThan(0);
  expect(Number(await page.getByTestId('return-restored').textContent())).toBeGreaterThan(0);
  await screenshot(page, 'return-preview');
  await page.getByTestId('return-confirm').click();
  await expect(page.getByTestId('return-done')).toBeVisible();
  await expect(page.getByTestId('return-qty-1')).toBeDisabled(); // all of that line is back
  await page.getByTestId('return-qty-2').fill('5');
  await expect(page.getByTestId('screen-error')).toContainText('продано');
  await screenshot(page, 'return-done');

  // The Z-report counts the sales and the return.
  await page.keyboard.press('F8');
  await expect(page.getByTestId('z-receipts')).toHaveText('2');
  await expect(page.getByTestId('z-returns')).toHaveText('1');
  await page.getByTestId('close-shift').click();
  await expect(page.getByTestId('shift-finish')).toBeVisible();
  await screenshot(page, 'z-report');
});

test('enrollment: a bad phone is refused in place and nothing is saved; then a good one with a swiped card', async ({ till: page }) => {
  await page.keyboard.press('F5');
  await page.getByTestId('f-firstName').fill('Светлана');
  await page.getByTestId('f-phone').fill('+7 916 12');
  await page.getByTestId('consent-pd').check();
  await expect(page.getByTestId('completeness')).toHaveAttribute('data-value', '13');
  await page.getByTestId('enroll-submit').click();
  await expect(page.getByTestId('err-phone')).toBeVisible();
  await expect(page.getByTestId('enroll-done')).toHaveCount(0);
  await screenshot(page, 'enroll-bad-phone');

  // Nothing was saved: the cardholder search does not know her.
  await page.keyboard.press('F6');
  await page.getByTestId('client-query').fill('Светлана');
  await page.getByTestId('client-query').press('Enter');
  await expect(page.getByTestId('client-results')).toContainText('Никого');

  await page.keyboard.press('F5');
  await page.getByTestId('f-firstName').fill('Светлана');
  await page.getByTestId('f-surname').fill('Орлова');
  await page.getByTestId('f-phone').fill('8 (916) 555-12-34');
  await page.getByTestId('f-email').fill('sveta@example.ru');
  await page.getByTestId('consent-pd').check();
  await swipe(page, ';7789000000068=2812?'); // a new card: bound by swiping it
  await expect(page.getByTestId('swiped-card')).toHaveText('•••• 0068');
  await page.getByTestId('enroll-submit').click();
  await expect(page.getByTestId('enroll-done')).toContainText('0068');
  await screenshot(page, 'enroll-done');

  await page.keyboard.press('F6');
  await page.getByTestId('client-query').fill('Орлова');
  await page.getByTestId('client-query').press('Enter');
  await page.getByTestId('client-result').first().click();
  await expect(page.getByTestId('profile-name')).toContainText('Орлова Светлана');
  await expect(page.getByTestId('profile')).not.toContainText('555-12-34'); // phone masked
  await expect(page.getByTestId('profile')).not.toContainText('7789000000068');
});

test('an admin action is refused without the admin PIN and done with it', async ({ till: page }) => {
  await page.keyboard.press('F6');
  await page.getByTestId('client-query').fill('Кузнецов');
  await page.getByTestId('client-query').press('Enter');
  await page.getByTestId('client-result').first().click();
  await expect(page.getByTestId('profile-card')).toHaveAttribute('data-status', 'active');

  await page.getByTestId('admin-action').selectOption('block');
  await page.getByTestId('admin-reason').fill('карта утеряна');
  await page.getByTestId('admin-submit').click(); // no PIN
  await expect(page.getByTestId('admin-error')).toContainText('PIN');
  await page.getByTestId('admin-pin').fill('1111'); // a cashier's PIN is not an admin's
  await page.getByTestId('admin-submit').click();
  await expect(page.getByTestId('admin-error')).toContainText('администратора');
  await expect(page.getByTestId('profile-card')).toHaveAttribute('data-status', 'active');
  await screenshot(page, 'admin-refused');

  await page.getByTestId('admin-pin').fill('9999');
  await page.getByTestId('admin-submit').click();
  await expect(page.getByTestId('admin-done')).toBeVisible();
  await expect(page.getByTestId('profile-card')).toHaveAttribute('data-status', 'blocked');
  await screenshot(page, 'admin-done');

  // A blocked card gives no discount at the till.
  await page.keyboard.press('F1');
  await swipe(page, ';7789000000043=2812?');
  await expect(page.getByTestId('error')).toContainText('blocked');
});
