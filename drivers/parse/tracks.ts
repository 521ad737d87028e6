// ISO/IEC 7813 magnetic tracks. Pure: text in, a typed track or a typed error out.
//   track 1: %B<PAN ≤19>^<NAME 2–26>^<YYMM><SVC 3><discretionary>?[LRC]   ≤ 79 chars
//   track 2: ;<PAN ≤19>=<YYMM><SVC 3><discretionary>?[LRC]               ≤ 40 chars
//   track 3: ;<data, digits and separators>?[LRC]                          ≤ 107 chars
// Loyalty cards often carry only a number on track 2 (`;7789000000019?` or `;7789000000019=2812?`).
import { fail, ok, type Result } from './result';

export interface Track1 {
  formatCode: string;
  pan: string;
  name: string;
  expiry?: string;
  serviceCode?: string;
  discretionary: string;
}

export interface Track2 {
  pan: string;
  expiry?: string;
  serviceCode?: string;
  discretionary: string;
}

export interface Tracks {
  track1?: Track1;
  track2?: Track2;
  track3?: string;
}

const ERROR_MARK = /^[%;+]E\??$/i; // readers send %E? / ;E? / +E? for a track they could not decode

export function parseTrack1(text: string): Result<Track1> {
  if (ERROR_MARK.test(text)) return fail('track_error', 'track 1 error marker');
  if (!text.startsWith('%')) return fail('unknown_format', 'track 1 must start with %');
  const end = text.indexOf('?');
  if (end < 0) return fail('partial_swipe', 'track 1 has no end sentinel');
  if (end + 1 > 79) return fail('too_long', `track 1 is ${end + 1} characters (max 79)`);
  const body = text.slice(1, end);
  if (!/^[\x20-\x5f]*$/.test(body)) return fail('misread', 'track 1 has characters outside its 6-bit set');
  const formatCode = body.slice(0, 1);
  if (!/^[A-Z]$/.test(formatCode)) return fail('misread', 'track 1 format code must be a letter');
  const parts = body.slice(1).split('^');
  if (parts.length < 3) return fail('misread', 'track 1 needs two field separators');
  const [pan, name, rest] = [parts[0]!, parts[1]!, parts.slice(2).join('^')];
  if (!/^\d{1,19}$/.test(pan)) return fail('misread', `track 1 PAN field of ${pan.length} characters`);
  if (name.length > 26) return fail('misread', `track 1 name field of ${name.length} characters (max 26)`);
  const fields = expiryAndService(rest);
  return ok({ formatCode, pan, name: name.trim(), ...fields });
}

export function parseTrack2(text: string): Result<Track2> {
  if (ERROR_MARK.test(text)) return fail('track_error', 'track 2 error marker');
  if (!text.startsWith(';')) return fail('unknown_format', 'track 2 must start with ;');
  const end = text.indexOf('?');
  if (end < 0) return fail('partial_swipe', 'track 2 has no end sentinel');
  if (end + 1 > 40) return fail('too_long', `track 2 is ${end + 1} characters (max 40)`);
  const body = text.slice(1, end);
  if (!/^[0-9:;<=>]*$/.test(body)) return fail('misread', 'track 2 has characters outside its 4-bit set');
  const sep = body.indexOf('=');
  const pan = sep < 0 ? body : body.slice(0, sep);
  if (!/^\d{1,19}$/.test(pan)) return fail('misread', `track 2 PAN field of ${pan.length} characters`);
  if (sep < 0) return ok({ pan, discretionary: '' });
  return ok({ pan, ...expiryAndService(body.slice(sep + 1)) });
}

export function parseTrack3(text: string): Result<string> {
  if (ERROR_MARK.test(text)) return fail('track_error', 'track 3 error marker');
  if (!text.startsWith(';') && !text.startsWith('+')) return fail('unknown_format', 'track 3 must start with ; or +');
  const end = text.indexOf('?');
  if (end < 0) return fail('partial_swipe', 'track 3 has no end sentinel');
  if (end + 1 > 107) return fail('too_long', `track 3 is ${end + 1} characters (max 107)`);
  const body = text.slice(1, end);
  if (!/^[0-9:;<=>]*$/.test(body)) return fail('misread', 'track 3 has characters outside its 4-bit set');
  return ok(body);
}

function expiryAndService(rest: string): { expiry?: string; serviceCode?: string; discretionary: string } {
  // A field that starts with the separator again (`==`) means "no expiry"; otherwise YYMM + SVC.
  const m = /^(\d{4})(\d{3})?(.*)$/.exec(rest);
  if (!m) return { discretionary: rest };
  return { expiry: m[1], ...(m[2] ? { serviceCode: m[2] } : {}), discretionary: m[3] ?? '' };
}

/**
 * Several tracks as one reader sends them (concatenated, or one per line). Each part is parsed by
 * its sentinel; when both track 1 and track 2 are present, PAN and expiry must agree.
 */
export function parseTracks(text: string): Result<Tracks> {
  const parts = splitTracks(text);
  if (!parts.length) return fail('empty', 'no track data');
  const out: Tracks = {};
  let firstError: Result<Tracks> | null = null;
  for (const part of parts) {
    if (part.startsWith('%')) {
      const t1 = parseTrack1(part);
      if (t1.ok) out.track1 = t1.value;
      else firstError ??= t1;
    } else if (out.track2 === undefined && part.startsWith(';') && !out.track3) {
      const t2 = parseTrack2(part);
      if (t2.ok) out.track2 = t2.value;
      else if (t2.error.code === 'misread' || t2.error.code === 'too_long') {
        const t3 = parseTrack3(part);
        if (t3.ok && out.track1) out.track3 = t3.value;
        else firstError ??= t2;
      } else firstError ??= t2;
    } else {
      const t3 = parseTrack3(part);
      if (t3.ok) out.track3 = t3.value;
      else firstError ??= t3;
    }
  }
  if (!out.track1 && !out.track2) return firstError ?? fail('unknown_format', 'no track 1 or track 2');
  if (out.track1 && out.track2) {
    if (out.track1.pan !== out.track2.pan) return fail('misread', 'track 1 and track 2 numbers differ');
    if (out.track1.expiry && out.track2.expiry && out.track1.expiry !== out.track2.expiry) return fail('misread', 'track 1 and track 2 expiry differ');
  }
  return ok(out);
}

/** Split reader output into tracks: at CR/LF, and where a new start sentinel follows an end sentinel. */
export function splitTracks(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split(/[\r\n]+/)) {
    let rest = line.trim();
    while (rest.length) {
      const end = rest.indexOf('?');
      if (end < 0) {
        out.push(rest);
        break;
      }
      // An LRC character may follow the end sentinel; the next track starts at its sentinel.
      let next = end + 1;
      if (next < rest.length && !'%;+'.includes(rest[next]!)) next++;
      out.push(rest.slice(0, end + 1));
      rest = rest.slice(next);
    }
  }
  return out.filter((p) => p.length > 0);
}
