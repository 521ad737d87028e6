import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseAtr } from './atr';
import { encodeCommand, parseCommand, parseResponse, readBinary, selectAid } from './apdu';
import { parseHex, toHex } from './bytes';
import { bcdDigits, digitsToBcd, encodeTlv, findTag, parseTlv } from './tlv';

const hex = (h: string) => {
  const r = parseHex(h);
  if (!r.ok) throw new Error(r.error.detail);
  return r.value;
};
const RUNS = 100_000;
const bytes = fc.uint8Array({ minLength: 0, maxLength: 300 });

describe('ATR (ISO/IEC 7816-3)', () => {
  it('parses the PC/SC contactless ATR of a MIFARE Classic 1K (T=0 and T=1, 15 historical bytes, TCK)', () => {
    const r = parseAtr(hex('3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 01 00 00 00 00 6A'));
    expect(r).toMatchObject({ ok: true, value: { convention: 'direct', protocols: [0, 1], interfaceBytes: { TD1: 0x80, TD2: 0x01 }, historical: '804F0CA00000030603000100000000', tckValid: true } });
  });
  it('parses a T=0 ATR without TCK (3B 02 14 50)', () => {
    expect(parseAtr(hex('3B 02 14 50'))).toMatchObject({ ok: true, value: { protocols: [0], historical: '1450' } });
  });
  it('refuses a bad TS, a wrong TCK, a cut-off ATR and trailing bytes', () => {
    expect(parseAtr(hex('3A 02 14 50'))).toMatchObject({ ok: false, error: { code: 'atr' } });
    expect(parseAtr(hex('3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 01 00 00 00 00 6B'))).toMatchObject({ ok: false, error: { detail: 'TCK check failed' } });
    expect(parseAtr(hex('3B 8F 80 01'))).toMatchObject({ ok: false });
    expect(parseAtr(hex('3B 02 14 50 99'))).toMatchObject({ ok: false, error: { detail: '1 unexpected trailing bytes' } });
  });
  it(`never throws on ${RUNS.toLocaleString('en')} random inputs`, () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (b) => typeof parseAtr(b).ok === 'boolean'), { numRuns: RUNS });
  });
});

describe('APDU (ISO/IEC 7816-4)', () => {
  it('encodes SELECT by AID and READ BINARY (cases 2–4) and parses them back', () => {
    const aid = hex('A0 00 00 06 58 10 10');
    const sel = encodeCommand(selectAid(aid));
    expect(toHex(sel)).toBe('00A4040007A000000658101000');
    expect(parseCommand(sel)).toMatchObject({ ok: true, value: { ins: 0xa4, data: aid, le: 256 } });
    expect(toHex(encodeCommand(readBinary(0x0102, 0x20)))).toBe('00B0010220');
  });
  it('follows 61xx with GET RESPONSE and 6Cxx with a resend at the right Le', () => {
    expect(parseResponse(hex('61 1C'))).toMatchObject({ ok: true, value: { next: { kind: 'get_response', length: 28 } } });
    expect(parseResponse(hex('61 00'))).toMatchObject({ ok: true, value: { next: { kind: 'get_response', length: 256 } } });
    expect(parseResponse(hex('6C 12'))).toMatchObject({ ok: true, value: { next: { kind: 'resend', le: 18 } } });
    expect(parseResponse(hex('AB CD 90 00'))).toMatchObject({ ok: true, value: { swHex: '9000', data: hex('AB CD'), next: { kind: 'done' } } });
    expect(parseResponse(hex('6A 82'))).toMatchObject({ ok: true, value: { meaning: 'file or application not found', next: { kind: 'error' } } });
    expect(parseResponse(hex('90'))).toMatchObject({ ok: false, error: { code: 'apdu' } });
  });
  it('refuses a command whose Lc does not match its length', () => {
    expect(parseCommand(hex('00 A4 04 00 07 A0 00'))).toMatchObject({ ok: false, error: { code: 'apdu' } });
  });
  it(`never throws on ${RUNS.toLocaleString('en')} random responses and commands`, () => {
    fc.assert(fc.property(bytes, (b) => typeof parseResponse(b).ok === 'boolean' && typeof parseCommand(b).ok === 'boolean'), { numRuns: RUNS });
  });
});

describe('BER-TLV', () => {
  it('parses an EMV-style FCI: constructed 6F > 84, A5 > 50, multi-byte tag 9F38, long-form length', () => {
    const label = new Uint8Array(130).fill(0x41);
    const fci = encodeTlv('6F', new Uint8Array([...encodeTlv('84', hex('A0000000031010')), ...encodeTlv('A5', new Uint8Array([...encodeTlv('50', label), ...encodeTlv('9F38', hex('9F6604'))]))]));
    expect(toHex(fci.subarray(0, 3))).toBe('6F8197'); // long form: 81 97 = 151 bytes
    const r = parseTlv(fci);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(findTag(r.value, '84')?.value).toEqual(hex('A0000000031010'));
    expect(findTag(r.value, '50')?.value.length).toBe(130);
    expect(findTag(r.value, '9f38')).toMatchObject({ tag: '9F38', constructed: false });
    expect(r.value[0]).toMatchObject({ tag: '6F', constructed: true });
  });
  it('reads a three-byte tag and a two-byte long-form length', () => {
    const big = new Uint8Array(300).fill(7);
    const r = parseTlv(encodeTlv('DF8101', big));
    expect(r).toMatchObject({ ok: true, value: [{ tag: 'DF8101' }] });
    expect(r.ok && r.value[0]!.value.length).toBe(300);
  });
  it('refuses cut-off values, indefinite lengths and overlong tags; skips 00/FF padding', () => {
    expect(parseTlv(hex('5A 08 77 89'))).toMatchObject({ ok: false, error: { code: 'tlv' } });
    expect(parseTlv(hex('6F 80 00 00'))).toMatchObject({ ok: false, error: { detail: 'indefinite length (tag 6F) is not allowed' } });
    expect(parseTlv(hex('1F 81 81 81 81 01 00'))).toMatchObject({ ok: false });
    expect(parseTlv(hex('00 FF 5A 01 12 00'))).toMatchObject({ ok: true, value: [{ tag: '5A' }] });
  });
  it('packs and unpacks BCD card numbers', () => {
    expect(toHex(digitsToBcd('7789000000019'))).toBe('7789000000019F');
    expect(bcdDigits(hex('7789000000019F'))).toEqual({ ok: true, value: '7789000000019' });
    expect(bcdDigits(hex('77A9'))).toMatchObject({ ok: false });
  });
  it(`never throws on ${RUNS.toLocaleString('en')} random inputs`, () => {
    fc.assert(fc.property(bytes, (b) => typeof parseTlv(b).ok === 'boolean'), { numRuns: RUNS });
  });
});
