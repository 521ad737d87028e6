// The core refuses the client base and the till's writes to anyone not logged in.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Terminal } from './terminal';
import { silentLogger } from './log';

const dir = mkdtempSync(join(tmpdir(), 'till-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the till', () => {
  it('needs a PIN for the client base, and an open shift for a sale', async () => {
    const t = await Terminal.start({ dataDir: dir, readers: [], demo: true, logger: silentLogger });
    const lines = [{ sku: 'BREAD-W', name: 'Хлеб', category: 'bakery', qty: 1, unitPrice: 5490 }];
    for (const [method, input] of [
      ['searchCardholders', { query: 'Иванова' }],
      ['findReceipt', { query: 'X-1' }],
      ['shiftReport', {}],
      ['checkout', { cardId: null, lines }],
    ] as const) {
      const r = await t.api.call(method, input as never);
      expect(r.ok ? 'ok' : r.error.code).toBe('login_required');
    }
    expect((await t.api.call('login', { pin: '1111' })).ok).toBe(true);
    const found = await t.api.call('searchCardholders', { query: 'Иванова' });
    expect(found.ok && found.value[0]?.displayName).toBe('Иванова Мария Петровна');
    const noShift = await t.api.call('checkout', { cardId: null, lines });
    expect(noShift.ok ? 'ok' : noShift.error.code).toBe('shift_required');
    expect((await t.api.call('openShift', {})).ok).toBe(true);
    expect((await t.api.call('checkout', { cardId: null, lines })).ok).toBe(true);
    await t.close();
  });
});
