import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { asciiToBytes, concatBytes } from './bytes';
import { decodeHidPos, decodeHidReport, decodeIdtech, decodeMagtek, MAGTEK_REPORT_LENGTH, msrReportDescriptor, parseReportDescriptor, swipeText } from './hid';
import { identifyCard } from './identify';
import { encodeFrame, extractFromLine, FrameDecoder, LineDecoder, linePresets } from './frame';

// Recorded reports, built byte by byte from the vendors' published layouts.
const T1 = '%B7789000000019^IVANOVA/MARIA^2812?';
const T2 = ';7789000000019=2812?';

/** MagTek USB HID swipe report: status×3, length×3, encode type, 3 × 110-byte track fields. */
function magtekReport(tracks: (string | null)[], status = [0, 0, 0], encodeType = 0): Uint8Array {
  const r = new Uint8Array(MAGTEK_REPORT_LENGTH);
  tracks.forEach((t, i) => {
    r[i] = status[i]!;
    r[3 + i] = t ? t.length : 0;
    if (t) r.set(asciiToBytes(t), 7 + i * 110);
  });
  r[6] = encodeType;
  return r;
}

/** ID TECH HID frame: STX, LEN (LE), encode type, track status, lengths, data, LRC, sum, ETX; zero padded. */
function idtechReport(tracks: (string | null)[], trackStatus = 0b011, reportSize = 512, corrupt = false): Uint8Array {
  const data = tracks.map((t) => asciiToBytes(t ?? ''));
  const body = concatBytes(Uint8Array.of(0x80, trackStatus, ...data.map((d) => d.length)), ...data);
  let lrc = 0;
  let sum = 0;
  for (const b of body) {
    lrc ^= b;
    sum = (sum + b) & 0xff;
  }
  const frame = concatBytes(Uint8Array.of(0x02, body.length & 0xff, body.length >> 8), body, Uint8Array.of(corrupt ? lrc ^ 1 : lrc, sum, 0x03));
  const r = new Uint8Array(reportSize);
  r.set(frame);
  return r;
}

function hidPosReport(tracks: (string | null)[], reportId?: number): Uint8Array {
  const r = new Uint8Array(3 + 3 * 110);
  tracks.forEach((t, i) => {
    r[i] = t ? t.length : 0;
    if (t) r.set(asciiToBytes(t), 3 + i * 110);
  });
  return reportId === undefined ? r : concatBytes(Uint8Array.of(reportId), r);
}

describe('HID swipe reports', () => {
  it('MagTek: tracks 1 and 2 decoded → the loyalty card', () => {
    const swipe = decodeMagtek(magtekReport([T1, T2, null]));
    expect(swipe).toMatchObject({ ok: true, value: { layout: 'magtek', tracks: { track1: T1, track2: T2 }, status: ['ok', 'ok', 'empty'], encodeType: 0 } });
    expect(swipe.ok && identifyCard(swipeText(swipe.value))).toMatchObject({ ok: true, value: { cardNumber: '7789000000019' } });
  });
  it('MagTek: a track with a decode error is left out; all tracks failed → swipe again', () => {
    expect(decodeMagtek(magtekReport([T1, T2, null], [1, 0, 0]))).toMatchObject({ ok: true, value: { tracks: { track2: T2 }, status: ['error', 'ok', 'empty'] } });
    expect(decodeMagtek(magtekReport([T1, T2, null], [1, 1, 0]))).toMatchObject({ ok: false, error: { code: 'track_error', message: 'The reader could not decode the stripe — swipe again, evenly' } });
    expect(decodeMagtek(magtekReport([null, null, null]))).toMatchObject({ ok: false, error: { code: 'empty' } });
  });
  it('MagTek: short report and overlong track length are refused', () => {
    expect(decodeMagtek(new Uint8Array(64))).toMatchObject({ ok: false, error: { code: 'hid_report' } });
    const r = magtekReport([T1, T2, null]);
    r[4] = 111;
    expect(decodeMagtek(r)).toMatchObject({ ok: false, error: { code: 'hid_report' } });
  });
  it('ID TECH: a good frame decodes; a bad LRC or a lost ETX is refused', () => {
    expect(decodeIdtech(idtechReport([T1, T2, null]))).toMatchObject({ ok: true, value: { layout: 'idtech', tracks: { track1: T1, track2: T2 }, encodeType: 0x80 } });
    expect(decodeIdtech(idtechReport([null, T2, null], 0b010))).toMatchObject({ ok: true, value: { tracks: { track2: T2 } } });
    expect(decodeIdtech(idtechReport([T1, T2, null], 0b011, 512, true))).toMatchObject({ ok: false, error: { detail: 'ID TECH frame LRC/checksum mismatch' } });
    const noEtx = idtechReport([T1, T2, null]);
    noEtx[3 + T1.length + T2.length + 5 + 2] = 0;
    expect(decodeIdtech(noEtx)).toMatchObject({ ok: false, error: { code: 'hid_report' } });
    expect(decodeIdtech(idtechReport([T1, T2, null], 0b001))).toMatchObject({ ok: true, value: { status: ['ok', 'error', 'empty'] } });
  });
  it('HID POS page 0x8E: the layout comes from the report descriptor, with and without a report id', () => {
    const layout = parseReportDescriptor(msrReportDescriptor());
    expect(layout).toMatchObject({ ok: true, value: { usesReportIds: false, lengths: { 0: 333 } } });
    expect(decodeHidReport('hidpos', hidPosReport([null, T2, null]))).toMatchObject({ ok: true, value: { layout: 'hidpos', tracks: { track2: T2 } } });
    const withId = parseReportDescriptor(msrReportDescriptor(110, 3));
    expect(withId.ok && decodeHidPos(hidPosReport([T1, T2, null], 3), withId.value)).toMatchObject({ ok: true, value: { tracks: { track1: T1, track2: T2 } } });
    expect(withId.ok && decodeHidPos(hidPosReport([T1, T2, null], 4), withId.value)).toMatchObject({ ok: false, error: { detail: 'report id 4 is not in the descriptor' } });
  });
  it('a bank card in a HID report is refused like any other swipe', () => {
    const bank = decodeMagtek(magtekReport(['%B4111111111111111^DOE/JOHN^2812101000000000000000?', ';4111111111111111=28121010000000000000?', null]));
    expect(bank.ok && identifyCard(swipeText(bank.value))).toMatchObject({ ok: false, error: { code: 'bank_card' } });
  });
  it('refuses a descriptor that asks for billions of fields or giant values (found by the fuzz below)', () => {
    // Report Size 8, Report Count 0xFFFFFFFF, Usage, Input (Data,Var): 2^32 fields.
    const huge = Uint8Array.of(0x75, 0x08, 0x97, 0xff, 0xff, 0xff, 0xff, 0x09, 0x11, 0x81, 0x02);
    expect(parseReportDescriptor(huge)).toMatchObject({ ok: false, error: { code: 'hid_report' } });
    const wide = Uint8Array.of(0x77, 0x00, 0x01, 0x00, 0x00, 0x95, 0x02, 0x09, 0x11, 0x09, 0x12, 0x81, 0x02); // 256-bit values
    expect(parseReportDescriptor(wide)).toMatchObject({ ok: false, error: { code: 'hid_report' } });
    // Report Size 0 (never set), Report Count 0xFFFFFFFF: 2^32 fields of no bits (the fuzz found it in CI).
    const empty = Uint8Array.of(0x97, 0xff, 0xff, 0xff, 0xff, 0x09, 0x11, 0x81, 0x02);
    expect(parseReportDescriptor(empty)).toMatchObject({ ok: false, error: { code: 'hid_report', detail: expect.stringMatching(/0-bit/) } });
    // Report Size 1, Report Count 0x10000: an 8 KiB report (within the size) of 65,536 one-bit fields.
    const many = Uint8Array.of(0x75, 0x01, 0x97, 0x00, 0x00, 0x01, 0x00, 0x09, 0x11, 0x09, 0x12, 0x81, 0x02);
    expect(parseReportDescriptor(many)).toMatchObject({ ok: false, error: { code: 'hid_report', detail: expect.stringMatching(/4096 value fields/) } });
    expect(parseReportDescriptor(msrReportDescriptor()).ok).toBe(true);
  });
  it('never throws on 100,000 random reports of each layout', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 520 }), fc.uint8Array({ maxLength: 80 }), (report, desc) => {
        for (const layout of ['magtek', 'idtech', 'hidpos'] as const) expect(typeof decodeHidReport(layout, report).ok).toBe('boolean');
        expect(typeof parseReportDescriptor(desc).ok).toBe('boolean');
      }),
      { numRuns: 100_000 },
    );
  });
});

describe('serial codecs', () => {
  it('frames round-trip; garbage is skipped; a damaged frame is reported and the next one is found', () => {
    const d = new FrameDecoder(100);
    const f1 = encodeFrame(Uint8Array.of(1, 2, 3));
    const damaged = encodeFrame(Uint8Array.of(9, 9, 9, 9));
    damaged[3] = 0; // one data byte changed: BCC no longer matches
    const events = d.push(concatBytes(Uint8Array.of(0x55, 0xaa), f1, damaged, encodeFrame(Uint8Array.of(7))), 0);
    expect(events.map((e) => e.type)).toEqual(['garbage', 'frame', 'bad', 'garbage', 'frame']);
    expect(events[1]).toEqual({ type: 'frame', data: Uint8Array.of(1, 2, 3) });
    expect(events.at(-1)).toEqual({ type: 'frame', data: Uint8Array.of(7) });
  });
  it('a frame with a dropped byte is dropped after the inter-byte timeout; the resent frame is read', () => {
    const d = new FrameDecoder(100);
    const f = encodeFrame(Uint8Array.of(1, 2, 3, 4));
    expect(d.push(concatBytes(f.subarray(0, 3), f.subarray(4)), 0)).toEqual([]);
    const events = d.push(f, 500);
    expect(events.map((e) => e.type)).toContain('bad');
    expect(events.at(-1)).toEqual({ type: 'frame', data: Uint8Array.of(1, 2, 3, 4) });
  });
  it('lines: CR, LF and CRLF; overlong lines dropped; the presets extract the card', () => {
    const l = new LineDecoder(64);
    expect(l.push(asciiToBytes(`${T2}\r\nID:04A224B1C2D380\n`))).toEqual({ lines: [T2, 'ID:04A224B1C2D380'], dropped: 0 });
    expect(l.push(asciiToBytes(`${'x'.repeat(100)}\n`))).toEqual({ lines: [], dropped: 1 });
    expect(extractFromLine(T2, new RegExp(linePresets.track))).toBe(T2);
    expect(extractFromLine('ID:04A224B1C2D380', new RegExp(linePresets.rfid))).toBe('04A224B1C2D380');
    expect(extractFromLine('hello', new RegExp(linePresets.rfid))).toBeUndefined();
  });
  it('never throws on 100,000 random byte streams', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 6 }), fc.nat(1000), (chunks, gap) => {
        const d = new FrameDecoder(100);
        const l = new LineDecoder(64);
        let t = 0;
        for (const c of chunks) {
          for (const e of d.push(c, (t += gap))) expect(['frame', 'ack', 'nak', 'bad', 'garbage']).toContain(e.type);
          l.push(c);
        }
      }),
      { numRuns: 100_000 },
    );
  });
});
