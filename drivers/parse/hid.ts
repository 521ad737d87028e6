// HID magnetic-stripe report decoders. Pure: bytes of one input report in, the tracks it carries
// (or a typed error) out. Three layouts:
//  - MagTek USB HID swipe readers (MagTek "USB HID Swipe Reader Technical Reference Manual"):
//    a 337-byte input report — decode status of tracks 1–3 (0 = decoded), their lengths, the card
//    encode type, then three 110-byte track fields holding ASCII with sentinels.
//  - ID TECH MiniMag/SecureMag in HID mode, unencrypted: a frame STX | LEN (2 bytes, little
//    endian, counting the bytes from the card encode type to the end of track 3) | card encode
//    type | track status (bit n = track n+1 decoded) | three track lengths | track data | LRC
//    (XOR) | checksum (sum mod 256) | ETX, padded with zeros to the report size.
//  - HID Point of Sale usage page 0x8E (Magnetic Stripe Reader): the field layout comes from the
//    device's report descriptor (`parseReportDescriptor`), then usages 0x11–0x13 (track lengths)
//    and 0x21–0x23 (track data) are read from the report.
import { asciiFromBytes, toHex } from './bytes';
import { fail, ok, type Result } from './result';

export type HidLayout = 'magtek' | 'idtech' | 'hidpos';
export type TrackStatus = 'ok' | 'error' | 'empty';

export interface HidSwipe {
  layout: HidLayout;
  /** Decoded track texts (with sentinels) of the tracks that decoded. */
  tracks: { track1?: string; track2?: string; track3?: string };
  status: [TrackStatus, TrackStatus, TrackStatus];
  encodeType?: number;
}

const TRACK_KEYS = ['track1', 'track2', 'track3'] as const;

function finish(layout: HidLayout, texts: (string | undefined)[], status: TrackStatus[], encodeType?: number): Result<HidSwipe> {
  const tracks: HidSwipe['tracks'] = {};
  texts.forEach((t, i) => {
    if (status[i] === 'ok' && t) tracks[TRACK_KEYS[i]!] = t;
  });
  if (Object.keys(tracks).length === 0) {
    return status.includes('error') ? fail('track_error', `track status ${status.join('/')}`) : fail('empty', 'no track data in the report');
  }
  return ok({ layout, tracks, status: status as HidSwipe['status'], ...(encodeType === undefined ? {} : { encodeType }) });
}

/** Track bytes must be printable ASCII; anything else means a misread, not a card. */
function trackText(bytes: Uint8Array, start: number, length: number): string | undefined {
  const text = asciiFromBytes(bytes, start, start + length);
  return text.includes('\uFFFD') ? undefined : text;
}

export const MAGTEK_REPORT_LENGTH = 337;
const MAGTEK_TRACK_FIELD = 110;

export function decodeMagtek(report: Uint8Array): Result<HidSwipe> {
  if (report.length < MAGTEK_REPORT_LENGTH) return fail('hid_report', `MagTek report of ${report.length} bytes (${MAGTEK_REPORT_LENGTH} expected)`);
  const status: TrackStatus[] = [];
  const texts: (string | undefined)[] = [];
  for (let t = 0; t < 3; t++) {
    const decode = report[t]!;
    const length = report[3 + t]!;
    if (length > MAGTEK_TRACK_FIELD) return fail('hid_report', `track ${t + 1} length ${length} exceeds its ${MAGTEK_TRACK_FIELD}-byte field`);
    const text = length ? trackText(report, 7 + t * MAGTEK_TRACK_FIELD, length) : undefined;
    status.push(decode !== 0 ? 'error' : length === 0 ? 'empty' : text === undefined ? 'error' : 'ok');
    texts.push(text);
  }
  return finish('magtek', texts, status, report[6]);
}

export function decodeIdtech(report: Uint8Array): Result<HidSwipe> {
  if (report.length < 12) return fail('hid_report', `ID TECH report of ${report.length} bytes`);
  if (report[0] !== 0x02) return fail('hid_report', `ID TECH frame starts with ${toHex([report[0]!])}, not STX`);
  const len = report[1]! | (report[2]! << 8);
  const end = 3 + len;
  if (end + 3 > report.length) return fail('hid_report', `ID TECH frame length ${len} overruns the ${report.length}-byte report`);
  if (report[end + 2] !== 0x03) return fail('hid_report', 'ID TECH frame has no ETX');
  let lrc = 0;
  let sum = 0;
  for (let i = 3; i < end; i++) {
    lrc ^= report[i]!;
    sum = (sum + report[i]!) & 0xff;
  }
  if (lrc !== report[end] || sum !== report[end + 1]) return fail('hid_report', 'ID TECH frame LRC/checksum mismatch');
  const encodeType = report[3]!;
  const trackStatus = report[4]!;
  const lengths = [report[5]!, report[6]!, report[7]!];
  if (8 + lengths[0]! + lengths[1]! + lengths[2]! !== end) return fail('hid_report', 'ID TECH track lengths do not add up to the frame length');
  let at = 8;
  const status: TrackStatus[] = [];
  const texts: (string | undefined)[] = [];
  for (let t = 0; t < 3; t++) {
    const length = lengths[t]!;
    const text = length ? trackText(report, at, length) : undefined;
    at += length;
    const decoded = (trackStatus >> t) & 1;
    status.push(length === 0 ? 'empty' : !decoded || text === undefined ? 'error' : 'ok');
    texts.push(text);
  }
  return finish('idtech', texts, status, encodeType);
}

// ---- HID report descriptors (short items) and the POS MSR page 0x8E ----

export interface HidField {
  reportId: number;
  usagePage: number;
  usage: number;
  /** Bit offset inside the report, after the report-id byte. */
  bitOffset: number;
  bitSize: number;
  /** Buffered bytes (one usage over reportCount bytes) vs. a single value. */
  bytes: boolean;
}

export interface ReportLayout {
  fields: HidField[];
  /** Report length in bytes per report id, not counting the id byte. */
  lengths: Record<number, number>;
  usesReportIds: boolean;
}

const MAX_REPORT_BITS = 65_536 * 8;
/** A magnetic-stripe reader's descriptor has a dozen value fields; one with more is not believed. */
const MAX_VALUE_FIELDS = 4096;

export function parseReportDescriptor(desc: Uint8Array): Result<ReportLayout> {
  const fields: HidField[] = [];
  const bits: Record<number, number> = {};
  const global = { usagePage: 0, reportSize: 0, reportCount: 0, reportId: 0 };
  let usesReportIds = false;
  let usages: number[] = [];
  let i = 0;
  while (i < desc.length) {
    const prefix = desc[i++]!;
    if (prefix === 0xfe) return fail('hid_report', 'long items are not supported');
    const size = [0, 1, 2, 4][prefix & 3]!;
    if (i + size > desc.length) return fail('hid_report', `descriptor item at ${i - 1} is cut off`);
    let data = 0;
    for (let k = 0; k < size; k++) data |= desc[i + k]! << (8 * k);
    data >>>= 0;
    i += size;
    const type = (prefix >> 2) & 3;
    const tag = prefix >> 4;
    if (type === 1) {
      if (tag === 0x0) global.usagePage = data;
      else if (tag === 0x7) global.reportSize = data;
      else if (tag === 0x9) global.reportCount = data;
      else if (tag === 0x8) {
        global.reportId = data;
        usesReportIds = true;
      }
    } else if (type === 2) {
      if (tag === 0x0) usages.push(size === 4 ? data & 0xffff : data);
    } else if (type === 0) {
      if (tag === 0x8) {
        // Input item: assign usages to its report-count fields.
        const at = bits[global.reportId] ?? 0;
        // A report is at most 64 KiB, a value field 1 to 32 bits wide (or a byte buffer), and a
        // descriptor has at most 4096 value fields: one asking for more is refused, not believed
        // (it could ask for 2^32 fields of 0 bits, or 64 Ki one-bit fields in each of 256 reports).
        if (at + global.reportSize * global.reportCount > MAX_REPORT_BITS) return fail('hid_report', `descriptor item at ${i - 1 - size} makes a report over 64 KiB`);
        const constant = (data & 1) !== 0;
        const buffered = (data & 0x100) !== 0 || (usages.length === 1 && global.reportCount > 1 && global.reportSize === 8);
        if (!constant && usages.length) {
          if (buffered) fields.push({ reportId: global.reportId, usagePage: global.usagePage, usage: usages[0]!, bitOffset: at, bitSize: global.reportSize * global.reportCount, bytes: true });
          else if (global.reportSize > 32 || global.reportSize === 0) return fail('hid_report', `descriptor item at ${i - 1 - size} has a ${global.reportSize}-bit value field`);
          else if (fields.length + global.reportCount > MAX_VALUE_FIELDS) return fail('hid_report', `descriptor item at ${i - 1 - size} makes over ${MAX_VALUE_FIELDS} value fields`);
          else
            for (let n = 0; n < global.reportCount; n++)
              fields.push({ reportId: global.reportId, usagePage: global.usagePage, usage: usages[Math.min(n, usages.length - 1)]!, bitOffset: at + n * global.reportSize, bitSize: global.reportSize, bytes: false });
        }
        bits[global.reportId] = at + global.reportSize * global.reportCount;
      }
      if (tag === 0x8 || tag === 0x9 || tag === 0xb || tag === 0xa) usages = [];
    }
  }
  const lengths: Record<number, number> = {};
  for (const [id, n] of Object.entries(bits)) lengths[Number(id)] = Math.ceil(n / 8);
  return ok({ fields, lengths, usesReportIds });
}

const MSR_PAGE = 0x8e;

function readUint(report: Uint8Array, base: number, bitOffset: number, bitSize: number): number {
  let v = 0;
  for (let b = 0; b < bitSize; b++) {
    const bit = bitOffset + b;
    if ((report[base + (bit >> 3)]! >> (bit & 7)) & 1) v += 2 ** b;
  }
  return v;
}

export function decodeHidPos(report: Uint8Array, layout: ReportLayout): Result<HidSwipe> {
  const reportId = layout.usesReportIds ? report[0] ?? -1 : 0;
  const base = layout.usesReportIds ? 1 : 0;
  const expected = layout.lengths[reportId];
  if (expected === undefined) return fail('hid_report', `report id ${reportId} is not in the descriptor`);
  if (report.length - base < expected) return fail('hid_report', `report of ${report.length - base} bytes (${expected} expected)`);
  const mine = layout.fields.filter((f) => f.reportId === reportId && f.usagePage === MSR_PAGE);
  const status: TrackStatus[] = [];
  const texts: (string | undefined)[] = [];
  for (let t = 1; t <= 3; t++) {
    const lenField = mine.find((f) => f.usage === 0x10 + t && !f.bytes);
    const dataField = mine.find((f) => f.usage === 0x20 + t && f.bytes);
    if (!lenField || !dataField) {
      status.push('empty');
      texts.push(undefined);
      continue;
    }
    const length = readUint(report, base, lenField.bitOffset, lenField.bitSize);
    if (length * 8 > dataField.bitSize) return fail('hid_report', `track ${t} length ${length} exceeds its field`);
    const text = length ? trackText(report, base + dataField.bitOffset / 8, length) : undefined;
    status.push(length === 0 ? 'empty' : text === undefined ? 'error' : 'ok');
    texts.push(text);
  }
  if (!mine.length) return fail('hid_report', 'the descriptor has no magnetic-stripe (page 0x8E) fields');
  return finish('hidpos', texts, status);
}

/** A standard MSR report descriptor (page 0x8E): 3 track lengths then 3 track-data buffers. */
export function msrReportDescriptor(trackBytes = 110, reportId?: number): Uint8Array {
  const out = [0x05, 0x8e, 0x09, 0x01, 0xa1, 0x01];
  if (reportId !== undefined) out.push(0x85, reportId);
  out.push(0x15, 0x00, 0x26, 0xff, 0x00, 0x75, 0x08, 0x95, 0x01);
  for (const u of [0x11, 0x12, 0x13]) out.push(0x09, u, 0x81, 0x02);
  out.push(0x95, trackBytes);
  for (const u of [0x21, 0x22, 0x23]) out.push(0x09, u, 0x82, 0x02, 0x01);
  out.push(0xc0);
  return Uint8Array.from(out);
}

const defaultMsrLayout = (() => {
  const parsed = parseReportDescriptor(msrReportDescriptor());
  if (!parsed.ok) throw new Error(parsed.error.detail);
  return parsed.value;
})();

export function decodeHidReport(layoutName: HidLayout, report: Uint8Array, descriptor?: ReportLayout): Result<HidSwipe> {
  if (layoutName === 'magtek') return decodeMagtek(report);
  if (layoutName === 'idtech') return decodeIdtech(report);
  return decodeHidPos(report, descriptor ?? defaultMsrLayout);
}

/** The swipe's tracks as one text, the way a wedge reader would type them. */
export function swipeText(swipe: HidSwipe): string {
  return [swipe.tracks.track1, swipe.tracks.track2, swipe.tracks.track3].filter(Boolean).join('');
}
