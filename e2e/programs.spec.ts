// A till of a chain whose HQ has published programs, in Debian Chromium: the status bar shows the
// version in force (HQ's, pulled at start) and the one to come with its moment; a version that
// comes into force while a basket is on screen is not charged unseen: the payment is refused, the
// new price shown, and the sale confirmed at it is priced by the new version.
import { test, expect } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { startTestHq } from '../hq/testing';
import { sql } from '../hq/db';
import { addItems, loginAndOpenShift, screenshot, startBrowserHost, stopBrowserHost, swipe } from './fixtures';

test('the status bar shows the program HQ put in force and the one to come; a price that changed under the basket is shown before it is charged', async ({ page }) => {
  const hq = await startTestHq();
  const program = JSON.parse(readFileSync('resources/demo-program.json', 'utf8')) as Record<string, unknown>;
  await hq.service.publishProgram({ ...program, version: 2, name: 'Летняя копилка' });
  await hq.service.publishProgram({ ...program, version: 3, name: 'Новогодняя копилка' }, { activeFrom: '2099-01-02T12:00:00Z' });
  const host = await startBrowserHost(['--hq', hq.url, '--hq-code', await hq.service.createRegistrationCode('store-1')]);
  try {
    await page.goto(host.url);
    await loginAndOpenShift(page);
    await expect(page.getByTestId('program')).toContainText('Программа: Летняя копилка v2 (из центра)');
    await expect(page.getByTestId('program-next')).toHaveText(/v3 с 02\.01\.2099/);
    await addItems(page, ['Молоко']);
    await swipe(page, ';7789000000043=2812?');
    await expect(page.getByTestId('customer-name')).toBeVisible();
    const shownPoints = Number(await page.getByTestId('points-earned').textContent());
    await screenshot(page, 'program-from-hq');

    // HQ puts version 4 (twice the points) in force while the basket is on screen; the till pulls it.
    const doubled = await hq.service.publishProgram({ ...program, version: 4, name: 'Двойная копилка', earn: { ...(program.earn as object), percent: 10 } });
    await expect(page.getByTestId('program')).toContainText('Двойная копилка v4', { timeout: 15_000 });
    await page.getByTestId('confirm').click();
    await expect(page.getByTestId('error')).toContainText('Цена изменилась после показа (теперь действует программа demo, версия 4): оплата не проведена');
    await expect(page.getByTestId('receipt')).toHaveCount(0);
    await expect(page.getByTestId('points-earned')).not.toHaveText(String(shownPoints)); // the new price, on screen
    const newPoints = Number(await page.getByTestId('points-earned').textContent());
    expect(newPoints).toBeGreaterThan(shownPoints);
    await page.getByTestId('confirm').click();
    await expect(page.getByTestId('receipt')).toBeVisible();
    // Uploaded: one sale, priced by version 4 as shown the second time.
    await expect(async () => {
      const rows = await hq.db.rows<{ program_version: number; program_hash: string; points_earned: number }>(sql`SELECT program_version, program_hash, points_earned FROM receipts WHERE cardholder_id IS NOT NULL`);
      expect(rows).toEqual([{ program_version: 4, program_hash: doubled.hash, points_earned: newPoints }]);
    }).toPass({ timeout: 20_000 });
  } finally {
    await stopBrowserHost(host);
    await hq.destroy();
  }
});
