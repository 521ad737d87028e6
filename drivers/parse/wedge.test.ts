import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createWedgeDecoder, type KeyInput } from './wedge';

// Physical keys for US-layout characters, with what each layout types on them.
const codeFor: Record<string, { code: string; shift?: boolean; ru: string }> = {
  ';': { code: 'Semicolon', ru: 'ж' },
  '=': { code: 'Equal', ru: '=' },
  '?': { code: 'Slash', shift: true, ru: ',' },
  '%': { code: 'Digit5', shift: true, ru: '%' },
  '^': { code: 'Digit6', shift: true, ru: ':' },
  B: { code: 'KeyB', shift: true, ru: 'И' },
};
for (let d = 0; d <= 9; d++) codeFor[String(d)] = { code: `Digit${d}`, ru: String(d) };
for (const ch of 'abcdefghijklmnopqrstuvwxyz') codeFor[ch] = { code: `Key${ch.toUpperCase()}`, ru: ch };

/** Key events as a keyboard (or a reader emulating one) sends them: Shift goes down before '?'. */
function keys(text: string, start: number, gapMs: number, layout: 'us' | 'ru' = 'us'): KeyInput[] {
  return [...text].flatMap((ch, i) => {
    const k = codeFor[ch]!;
    const t = start + i * gapMs;
    const key = { code: k.code, key: layout === 'ru' ? k.ru : ch, shiftKey: !!k.shift, timeStamp: t };
    return k.shift ? [{ code: 'ShiftLeft', key: 'Shift', shiftKey: true, timeStamp: t }, key] : [key];
  });
}
function run(events: KeyInput[]) {
  const d = createWedgeDecoder();
  const bursts: string[] = [];
  let typed = '';
  let consumed = 0;
  for (const e of events) {
    const s = d.feed(e);
    if (s.release) typed += s.release;
    if (s.burst) bursts.push(s.burst);
    if (s.consume) consumed++;
  }
  const last = events.at(-1)?.timeStamp ?? 0;
  const end = d.flush(last + 1000);
  if (end.release) typed += end.release;
  if (end.burst) bursts.push(end.burst);
  return { bursts, typed, consumed };
}
const enter = (t: number): KeyInput => ({ code: 'Enter', key: 'Enter', timeStamp: t });

describe('keyboard wedge', () => {
  it('a reader burst is one card read and no key reaches the page', () => {
    const ev = [...keys(';7789000000019=2812?', 1000, 4), enter(1000 + 20 * 4)];
    const r = run(ev);
    expect(r.bursts).toEqual([';7789000000019=2812?']);
    expect(r.typed).toBe('');
    expect(r.consumed).toBe(ev.length);
  });
  it('the Russian layout gives the same number (decoded by physical key)', () => {
    const r = run([...keys(';7789000000019=2812?', 0, 3, 'ru'), enter(60)]);
    expect(r.bursts).toEqual([';7789000000019=2812?']);
  });
  it('a person typing the same keys gets them in the field, in their layout', () => {
    expect(run(keys('7789000000019', 0, 150))).toEqual({ bursts: [], typed: '7789000000019', consumed: 13 });
    expect(run(keys('%b', 0, 150))).toMatchObject({ bursts: [], typed: '%b' });
    expect(run(keys('abc', 0, 120, 'ru')).typed).toBe('abc');
  });
  it('a barcode burst without sentinels ending with Enter is a burst too', () => {
    expect(run([...keys('4600000000031', 0, 2), enter(30)]).bursts).toEqual(['4600000000031']);
  });
  it('a short fast run (a quick double tap) is typing', () => {
    expect(run([...keys('12', 0, 5), enter(200)])).toMatchObject({ bursts: [], typed: '12' });
  });
  it('fuzz: any key sequence yields a consistent step, never throws', () => {
    const codes = ['ShiftLeft', 'Semicolon', 'Digit1', 'Digit7', 'KeyA', 'Slash', 'Enter', 'Tab', 'ArrowLeft', 'Backspace', 'F2', 'Equal', 'Space'];
    fc.assert(
      fc.property(
        fc.array(fc.record({ code: fc.constantFrom(...codes), key: fc.string({ maxLength: 2 }), gap: fc.integer({ min: 0, max: 300 }), shiftKey: fc.boolean(), ctrlKey: fc.boolean() }), { maxLength: 40 }),
        (seq) => {
          const d = createWedgeDecoder();
          let t = 0;
          for (const k of seq) {
            t += k.gap;
            const s = d.feed({ ...k, timeStamp: t });
            expect(typeof s.consume).toBe('boolean');
            if (s.burst !== undefined) expect(s.burst.length).toBeGreaterThanOrEqual(6);
          }
          d.flush(t + 1000);
        },
      ),
      { numRuns: 100_000 },
    );
  });
});
