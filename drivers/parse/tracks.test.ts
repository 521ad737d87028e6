import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { identifyCard, parseTrack1, parseTrack2, parseTracks } from './index';

// ISO/IEC 7813 sample data as published in reader vendors' manuals and test-card sheets.
const T1 = '%B4111111111111111^DOE/JOHN^2812101000000000000000?';
const T2 = ';4111111111111111=28121010000000000000?';
const LOYALTY_T2 = ';7789000000019=2812?';

describe('ISO 7813 tracks', () => {
  it('parses a published track 1 and track 2 pair', () => {
    const t1 = parseTrack1(T1);
    expect(t1).toEqual({ ok: true, value: { formatCode: 'B', pan: '4111111111111111', name: 'DOE/JOHN', expiry: '2812', serviceCode: '101', discretionary: '000000000000000' } });
    const t2 = parseTrack2(T2);
    expect(t2.ok && t2.value).toMatchObject({ pan: '4111111111111111', expiry: '2812', serviceCode: '101' });
    const both = parseTracks(`${T1}${T2}`);
    expect(both.ok && both.value.track1?.pan).toBe('4111111111111111');
  });
  it('reads a loyalty number from track 2 alone, with and without a separator', () => {
    expect(identifyCard(LOYALTY_T2)).toMatchObject({ ok: true, value: { kind: 'magstripe', cardNumber: '7789000000019', scheme: 'demo' } });
    expect(identifyCard(';7789000000019?')).toMatchObject({ ok: true, value: { cardNumber: '7789000000019' } });
    expect(identifyCard(`${LOYALTY_T2}\r\n`)).toMatchObject({ ok: true });
  });
  it('missing end sentinel → partial swipe', () => {
    expect(identifyCard(';7789000000019=2812')).toMatchObject({ ok: false, error: { code: 'partial_swipe', message: 'Partial swipe — swipe again' } });
  });
  it('reader error markers → track error', () => {
    expect(identifyCard(';E?')).toMatchObject({ ok: false, error: { code: 'track_error' } });
  });
  it('wrong Luhn on a scheme that checks it', () => {
    expect(identifyCard(';7789000000018=2812?')).toMatchObject({ ok: false, error: { code: 'bad_check_digit' } });
  });
  it('overlong fields and tracks are refused', () => {
    expect(identifyCard(`;${'1'.repeat(20)}=2812?`)).toMatchObject({ ok: false, error: { code: 'misread' } });
    expect(identifyCard(`;7789000000019=${'0'.repeat(40)}?`)).toMatchObject({ ok: false, error: { code: 'too_long' } });
    expect(parseTrack1(`%B7789000000019^${'A'.repeat(27)}^2812?`)).toMatchObject({ ok: false, error: { code: 'misread' } });
  });
  it('track 1 and track 2 that disagree are a misread', () => {
    expect(parseTracks('%B7789000000019^IVANOVA/M^2812?;7789000000027=2812?')).toMatchObject({ ok: false, error: { code: 'misread' } });
  });
  it('Russian layout: text typed with the ЙЦУКЕН layout is mapped back to the keys pressed', () => {
    // The reader "pressed" ;7789000000019=2812? — in the Russian layout ; is ж and ? is ,
    expect(identifyCard('ж7789000000019=2812,')).toMatchObject({ ok: true, value: { cardNumber: '7789000000019' } });
    expect(identifyCard('привет мир')).toMatchObject({ ok: false });
  });
  it('a typed number and a chip UID', () => {
    expect(identifyCard('7789 0000 0001 9')).toMatchObject({ ok: true, value: { kind: 'barcode', cardNumber: '7789000000019' } });
    expect(identifyCard('04A2B3C4D5E680')).toMatchObject({ ok: true, value: { kind: 'contactless', chipUid: '04A2B3C4D5E680' } });
    expect(identifyCard('garbage')).toMatchObject({ ok: false, error: { code: 'unknown_format' } });
  });
  it('bank cards are refused and the number is nowhere in the error', () => {
    for (const raw of [T1, T2, `${T1}${T2}`, '5555555555554444', ';5555555555554444=28121010000000000000?']) {
      const r = identifyCard(raw);
      expect(r.ok).toBe(false);
      if (r.ok) continue;
      expect(r.error.code).toBe('bank_card');
      expect(JSON.stringify(r)).not.toMatch(/4111111111111111|5555555555554444|411111|555555/);
    }
  });
});

describe('fuzz: every input gives a typed result, none throws', () => {
  const shape = (r: unknown) => {
    const x = r as { ok: boolean; value?: unknown; error?: { code: string; message: string } };
    expect(typeof x.ok).toBe('boolean');
    if (!x.ok) expect(typeof x.error?.code === 'string' && typeof x.error.message === 'string').toBe(true);
  };
  const trackish = fc.oneof(
    fc.string({ maxLength: 120 }),
    fc.stringMatching(/^[%;+]?[0-9A-Z^=?/ ]{0,90}\??$/),
    fc.tuple(fc.constantFrom('%B', ';', '%', '+', ''), fc.string({ unit: fc.constantFrom(...'0123456789=^?;%ABЖж, '), maxLength: 60 })).map(([a, b]) => a + b),
  );
  it('parseTracks / parseTrack1 / parseTrack2 over 100,000 inputs', () => {
    fc.assert(
      fc.property(trackish, (s) => {
        shape(parseTracks(s));
        shape(parseTrack1(s));
        shape(parseTrack2(s));
      }),
      { numRuns: 100_000 },
    );
  });
  it('identifyCard over 100,000 inputs', () => {
    fc.assert(
      fc.property(fc.oneof(trackish, fc.string({ unit: 'binary', maxLength: 200 })), (s) => shape(identifyCard(s))),
      { numRuns: 100_000 },
    );
  });
});
