// The HQ dashboard in Debian Chromium on demo data: login, the figures, the charts and the
// terminals table, checked against what HQ computes.
import { test, expect } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestHq, type TestHq } from '../hq/testing';
import { generateChain } from '../hq/chain-data';
import { addDashboardUser } from '../hq/dashboard-routes';
import { computeFigures } from '../hq/figures';
import { sql } from '../hq/db';

let hq: TestHq;
const today = new Date();
const from = new Date(Date.UTC(today.getUTCFullYear() - 1, today.getUTCMonth() + 1, 1)).toISOString().slice(0, 10);
const to = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() + 1, 1)).toISOString().slice(0, 10);

test.beforeAll(async () => {
  hq = await startTestHq();
  await generateChain(hq.db, { stores: 4, cardholders: 3000, receipts: 30_000, from: `${from}T00:00:00Z`, changeAt: new Date(Date.parse(`${from}T00:00:00Z`) + 182 * 86_400_000).toISOString() });
  await addDashboardUser(hq.service, 'hq', 'demo');
});
test.afterAll(async () => {
  await hq.destroy();
});

const pct = (v: number | null) => (v === null ? '—' : `${(v * 100).toFixed(1)}%`);

test('the dashboard shows HQ’s figures, charts and terminals behind a login', async ({ page }) => {
  await page.goto(hq.url);
  await page.getByTestId('hq-user').fill('hq');
  await page.getByTestId('hq-password').fill('wrong');
  await page.getByTestId('hq-login-submit').click();
  await expect(page.getByTestId('hq-login-error')).toBeVisible();
  const api = await page.request.get(`${hq.url}v1/dashboard/summary`);
  expect(api.status()).toBe(401); // nothing without a login

  await page.getByTestId('hq-password').fill('demo');
  await page.getByTestId('hq-login-submit').click();
  const f = await computeFigures(hq.db, { from: `${from}T00:00:00Z`, to: `${to}T00:00:00Z` });
  await expect(page.getByTestId('kpi-attraction').locator('b')).toHaveText(pct(f.attractionRatio));
  await expect(page.getByTestId('kpi-activity').locator('b')).toHaveText(pct(f.activityRatio));
  await expect(page.getByTestId('kpi-redemption').locator('b')).toHaveText(pct(f.redemptionRatio));
  await expect(page.getByTestId('kpi-pareto').locator('b')).toHaveText(pct(f.top20RevenueShare));
  await expect(page.getByTestId('kpi-nps').locator('b')).toHaveText(String(f.nps.score));
  await expect(page.getByTestId('kpi-participants').locator('b')).toHaveText(String(f.participants));
  // The charts drew their series: six ratio lines, twelve revenue bars, the NPS line.
  await expect(page.getByTestId('chart-ratios').locator('path.recharts-line-curve')).toHaveCount(6);
  await expect(page.getByTestId('chart-revenue').locator('path.recharts-rectangle')).toHaveCount(12);
  await expect(page.getByTestId('chart-nps').locator('path.recharts-line-curve')).toHaveCount(1);
  await expect(page.getByTestId('before-after-row')).toHaveCount(5); // around the program change mid-year
  const terminals = await hq.db.rows<{ n: string }>(sql`SELECT count(*) AS n FROM terminals`);
  await expect(page.getByTestId('terminal-row')).toHaveCount(Number(terminals[0]!.n));
  const rfmTotal = await page.getByTestId('rfm').locator('td.cell').allTextContents();
  expect(rfmTotal.reduce((s, v) => s + Number(v), 0)).toBe(f.buyers);
  const csv = await page.request.get(`${hq.url}v1/dashboard/terminals?format=csv`);
  expect(csv.headers()['content-type']).toContain('text/csv');
  expect((await csv.text()).split('\n')[0]).toContain('terminal_id');
  await page.screenshot({ path: join('e2e', 'screenshots', 'hq-dashboard.png'), fullPage: true });
});

test('HQ publishes a program version from the dashboard; a broken file or program is refused with the reason', async ({ page }) => {
  await page.goto(hq.url);
  await page.getByTestId('hq-user').fill('hq');
  await page.getByTestId('hq-password').fill('demo');
  await page.getByTestId('hq-login-submit').click();
  const program = JSON.parse(readFileSync('resources/demo-program.json', 'utf8')) as Record<string, unknown>;
  const upload = (name: string, body: string) => page.getByTestId('program-file').setInputFiles({ name, mimeType: 'application/json', buffer: Buffer.from(body) });

  await upload('summer.json', JSON.stringify({ ...program, version: 2, name: 'Летняя копилка' }));
  await expect(page.getByTestId('program-message')).toHaveText(/Опубликована версия 2 программы demo/);
  await expect(page.getByTestId('program-row')).toHaveCount(1);
  await expect(page.getByTestId('program-row').first()).toContainText('Летняя копилка');
  await expect(page.getByTestId('program-row').first()).toContainText('действует');
  expect((await hq.service.programs()).map((p) => p.version)).toEqual([2]); // what the feed now carries

  await upload('broken.json', '{"id": "demo",');
  await expect(page.getByTestId('program-message')).toHaveText(/broken\.json: не JSON/);
  await upload('bad.json', JSON.stringify({ ...program, version: 3, stacking: 'sometimes' }));
  await expect(page.getByTestId('program-message')).toHaveText(/Не опубликовано — программа не прошла проверку: the program is invalid: stacking/);
  await upload('old.json', JSON.stringify({ ...program, version: 1 }));
  await expect(page.getByTestId('program-message')).toHaveText(/Не опубликовано — версия ниже последней опубликованной: program demo is at version 2/);
  await expect(page.getByTestId('program-row')).toHaveCount(1);

  // A version for a later moment: published now, in force on the terminals from then.
  await page.getByTestId('program-from').fill('2099-01-01T00:00');
  await upload('new-year.json', JSON.stringify({ ...program, version: 3, name: 'Новогодняя копилка' }));
  await expect(page.getByTestId('program-message')).toHaveText(/Опубликована версия 3 программы demo: кассы перейдут на неё с 01\.01\.2099/);
  await expect(page.getByTestId('program-row')).toHaveCount(2);
  await expect(page.getByTestId('program-row').first()).toContainText('запланирована');
  await expect(page.getByTestId('program-row').nth(1)).toContainText('действует');
  const [newYear] = await hq.service.programs();
  expect(new Date(newYear!.activeFrom).getFullYear()).toBe(2099);
  // Only a version still to come can be withdrawn; asked first, and nothing happens if the answer is no.
  await expect(page.getByTestId('program-row').nth(1).getByTestId('program-withdraw')).toHaveCount(0);
  page.once('dialog', (d) => void d.dismiss());
  await page.getByTestId('program-withdraw').click();
  await expect(page.getByTestId('program-row').first()).toContainText('запланирована');
  page.once('dialog', (d) => {
    expect(d.message()).toMatch(/Отменить версию 3 программы demo\?/);
    void d.accept();
  });
  await page.getByTestId('program-withdraw').click();
  await expect(page.getByTestId('program-message')).toHaveText(/Версия 3 программы demo отменена: кассы удалят её при следующей синхронизации/);
  await expect(page.getByTestId('program-row').first().getByTestId('program-state')).toHaveText('отменена');
  await expect(page.getByTestId('program-withdraw')).toHaveCount(0);
  expect((await hq.service.programs()).map((p) => [p.version, p.state])).toEqual([[3, 'withdrawn'], [2, 'in force']]);
  await page.getByTestId('programs').screenshot({ path: join('e2e', 'screenshots', 'hq-programs.png') });
});
