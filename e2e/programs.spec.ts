// A till of a chain whose HQ has published programs, in Debian Chromium: the status bar shows the
// version in force (HQ's, pulled at start) and the one to come with its moment, and a sale is
// priced by HQ's version.
import { test, expect } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { startTestHq } from '../hq/testing';
import { sql } from '../hq/db';
import { addItems, loginAndOpenShift, screenshot, startBrowserHost, stopBrowserHost, swipe } from './fixtures';

test('the status bar shows the program HQ put in force and the version to come; the sale is priced by HQ’s', async ({ page }) => {
  const hq = await startTestHq();
  const program = JSON.parse(readFileSync('resources/demo-program.json', 'utf8')) as Record<string, unknown>;
  const summer = await hq.service.publishProgram({ ...program, version: 2, name: 'Летняя копилка' });
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
    await page.getByTestId('confirm').click();
    await expect(page.getByTestId('receipt')).toBeVisible();
    await screenshot(page, 'program-from-hq');
    // Uploaded, the sale says which program priced it.
    await expect(async () => {
      const rows = await hq.db.rows<{ program_version: number; program_hash: string }>(sql`SELECT program_version, program_hash FROM receipts WHERE cardholder_id IS NOT NULL`);
      expect(rows).toEqual([{ program_version: 2, program_hash: summer.hash }]);
    }).toPass({ timeout: 20_000 });
  } finally {
    await stopBrowserHost(host);
    await hq.destroy();
  }
});
