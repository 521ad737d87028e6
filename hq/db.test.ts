// unnest's array parameters, built by arrayLiteral, come back from PostgreSQL exactly as sent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHq, type TestHq } from './testing';
import { arrayLiteral, same, sql, unnest } from './db';

let hq: TestHq;
beforeAll(async () => {
  hq = await startTestHq();
});
afterAll(() => hq.destroy());

describe('unnest', () => {
  it('round-trips awkward text, nulls, numbers and a column that is the same in every row', async () => {
    const rows = [
      { t: 'plain', n: 1, at: '2026-12-02T05:00:00.000Z' },
      { t: 'quote " and backslash \\ and \\"', n: -2, at: null },
      { t: 'NULL', n: 9007199254740991, at: '2026-01-01T00:00:00.000Z' },
      { t: '', n: 0, at: null },
      { t: ' {braces}, commas ', n: 3, at: null },
      { t: 'Кофе ☕ 😀', n: 4, at: null },
      { t: null, n: 5, at: null },
    ];
    const back = await hq.db.rows<{ t: string | null; n: string; at: Date | null; k: string }>(
      sql`SELECT t, n, at, k FROM (${unnest(rows, [['text', (r) => r.t], ['bigint', (r) => r.n], ['timestamptz', (r) => r.at], ['text', same('same')]])}) AS x (t, n, at, k)`,
    );
    expect(back.map((r) => ({ t: r.t, n: Number(r.n), at: r.at === null ? null : new Date(r.at).toISOString() }))).toEqual(rows);
    expect(back.every((r) => r.k === 'same')).toBe(true);
  });

  it('refuses what is not a primitive instead of sending something else', () => {
    expect(() => arrayLiteral([new Date()])).toThrow(/cannot put a object/);
  });
});
