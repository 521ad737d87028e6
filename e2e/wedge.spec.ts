import { test, expect, screenshot } from './fixtures';

test('a reader burst in a focused field is a card, and the field stays empty', async ({ till: page }) => {
  const field = page.getByTestId('product-search');
  await field.focus();
  await page.keyboard.type(';7789000000019=2812?', { delay: 4 });
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('customer-name')).toHaveText('Мария Петровна');
  await expect(field).toHaveValue('');
  await expect(field).toBeFocused();
  await screenshot(page, 'wedge-burst');
});

test('the same keys typed at human speed go into the field', async ({ till: page }) => {
  const field = page.getByTestId('product-search');
  await field.focus();
  await page.keyboard.type('7789000000019', { delay: 120 });
  await expect(field).toHaveValue('7789000000019');
  await expect(page.getByTestId('customer-name')).toHaveCount(0);
  await screenshot(page, 'wedge-typing');
});
