// A bank card swiped at the loyalty terminal: refused, and its number is kept nowhere —
// not in any table, not in the database file, not in the log, not in any message or event.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Terminal } from './terminal';
import type { TerminalEvent } from '../protocol/api';

const PANS = ['4111111111111111', '5555555555554444'];
const swipes = PANS.flatMap((pan) => [`%B${pan}^TEST/CARD^2812101000000000000000?`, `;${pan}=28121010000000000000?`, `%B${pan}^TEST/CARD^2812101000000000000000?;${pan}=28121010000000000000?`]);

let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('bank card refusal', () => {
  it('refuses well-known test PANs on every path and keeps them nowhere', async () => {
    dir = mkdtempSync(join(tmpdir(), 'pan-'));
    const terminal = await Terminal.start({ dataDir: dir, demo: true });
    const events: TerminalEvent[] = [];
    terminal.api.subscribe((e) => events.push(e));
    const answers: unknown[] = [];
    for (const raw of swipes) {
      const r = await terminal.api.call('wedgeRead', { text: raw });
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.code).toBe('bank_card');
      answers.push(r);
      answers.push(await terminal.api.call('simulateSwipe', { raw }));
      answers.push(await terminal.api.call('identify', { query: raw.replace(/\D/g, '').slice(0, 16) }));
    }
    expect(events.filter((e) => e.type === 'cardError').length).toBe(swipes.length);
    expect(events.some((e) => e.type === 'card')).toBe(false);
    // A demo card still works after all that.
    expect((await terminal.api.call('wedgeRead', { text: ';7789000000019=2812?' })).ok).toBe(true);

    const rows = terminal.ledger.sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[];
    const dump = rows.map((t) => JSON.stringify(terminal.ledger.sqlite.prepare(`SELECT * FROM "${t}"`).all())).join('\n');
    await terminal.close();

    const files = readdirSync(dir).map((f) => readFileSync(join(dir, f)).toString('latin1'));
    for (const pan of PANS) {
      const needles = [pan, pan.slice(0, 6) + '******' + pan.slice(-4)];
      for (const haystack of [dump, JSON.stringify(answers), JSON.stringify(events), ...files]) {
        for (const n of needles) expect(haystack.includes(n)).toBe(false);
      }
    }
    expect(files.some((f) => f.includes('api call failed'))).toBe(false);
    expect(files.some((f) => f.includes('"code":"bank_card"'))).toBe(true); // the refusal is logged, without the number
  });
});
