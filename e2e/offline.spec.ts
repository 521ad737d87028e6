import { test, expect, screenshot, startBrowserHost, stopBrowserHost, loginAndOpenShift, addItems, swipe } from './fixtures';

test('HQ unreachable: the status bar says offline and counts the sales waiting', async ({ page }) => {
  // Port 9 (discard) has nobody listening: every sync attempt fails.
  const host = await startBrowserHost(['--hq', 'http://127.0.0.1:9/']);
  try {
    await page.goto(host.url);
    await loginAndOpenShift(page);
    await expect(page.getByTestId('sync-state')).toContainText('Нет связи с HQ');
    // The program in force, and that it is not HQ's (none pulled yet).
    await expect(page.getByTestId('program')).toHaveText('Программа: Демо-программа «Копилка» v1');
    const before = Number(await page.getByTestId('sync-pending').getAttribute('data-count'));
    await addItems(page, ['Молоко']);
    await swipe(page, ';7789000000043=2812?');
    await expect(page.getByTestId('customer-name')).toBeVisible();
    await page.getByTestId('confirm').click();
    await expect(page.getByTestId('receipt')).toBeVisible();
    await expect(page.getByTestId('sync-pending')).toHaveText(`ожидают отправки: ${before + 1}`);
    await expect(page.getByTestId('sync-oldest')).toBeVisible();
    await screenshot(page, 'offline-pending');
  } finally {
    await stopBrowserHost(host);
  }
});
