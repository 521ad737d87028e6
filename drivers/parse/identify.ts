// Raw reader output → the loyalty card it names. Whatever the reader (wedge text, a serial line,
// a HID report's tracks, a typed number, a chip UID), the answer is one typed value or one typed
// error; a bank card is refused and its number is not kept anywhere, not even in the error.
import { looksLikeHex, parseHex, toHex } from './bytes';
import { hasForeignLayoutChars, repairRussianLayout } from './layout';
import { fail, ok, type Result } from './result';
import { checkCardNumber, defaultSchemes, type LoyaltyScheme } from './scheme';
import { parseTracks } from './tracks';

export type CardKind = 'magstripe' | 'chip' | 'contactless' | 'barcode';
export type RawFormat = 'auto' | 'wedge' | 'track' | 'number' | 'uid';

export interface CardIdentity {
  kind: CardKind;
  cardNumber: string;
  scheme: string;
  /** Loyalty card tracks as read (only when the number is a loyalty number). */
  tracks?: { track1?: string; track2?: string; track3?: string };
  chipUid?: string;
  rawLength: number;
}

export interface IdentifyOptions {
  format?: RawFormat;
  schemes?: readonly LoyaltyScheme[];
}

const MAX_RAW = 2000;

export function identifyCard(raw: string, opts: IdentifyOptions = {}): Result<CardIdentity> {
  const schemes = opts.schemes ?? defaultSchemes;
  const format = opts.format ?? 'auto';
  if (typeof raw !== 'string') return fail('empty', 'no input');
  if (raw.length > MAX_RAW) return fail('too_long', `${raw.length} characters`);
  let text = raw.replace(/^[\r\n\s]+|[\r\n\s]+$/g, '');
  if (!text) return fail('empty', 'no characters');
  if (hasForeignLayoutChars(text)) {
    const repaired = repairRussianLayout(text);
    if (hasForeignLayoutChars(repaired)) return fail('wrong_layout', 'non-Latin characters that are not a keyboard layout mix-up');
    text = repaired;
  }
  const rawLength = raw.length;
  const kind = format === 'track' || /^[%;+]/.test(text) ? 'track' : format === 'uid' ? 'uid' : format === 'number' || /^[\d\s-]+$/.test(text) ? 'number' : looksLikeHex(text) ? 'uid' : 'unknown';
  switch (kind) {
    case 'track':
      return fromTracks(text, rawLength, schemes);
    case 'number': {
      const digits = text.replace(/[\s-]/g, '');
      if (!/^\d+$/.test(digits)) return fail('bad_number', 'not digits');
      const checked = checkCardNumber(digits, {}, schemes);
      if (!checked.ok) return checked;
      return ok({ kind: 'barcode', cardNumber: checked.value.cardNumber, scheme: checked.value.scheme, rawLength });
    }
    case 'uid': {
      const bytes = parseHex(text, 10);
      if (!bytes.ok) return bytes;
      if (bytes.value.length < 4) return fail('misread', `UID of ${bytes.value.length} bytes (4, 7 or 10 expected)`);
      const uid = toHex(bytes.value);
      return ok({ kind: 'contactless', cardNumber: uid, scheme: 'chip-uid', chipUid: uid, rawLength });
    }
    default:
      return fail('unknown_format', `${rawLength} characters of unknown shape`);
  }
}

function fromTracks(text: string, rawLength: number, schemes: readonly LoyaltyScheme[]): Result<CardIdentity> {
  const parsed = parseTracks(text);
  if (!parsed.ok) return parsed;
  const { track1, track2, track3 } = parsed.value;
  const pan = track2?.pan ?? track1!.pan;
  const checked = checkCardNumber(pan, { formatCode: track1?.formatCode, serviceCode: track2?.serviceCode ?? track1?.serviceCode, fromCard: true }, schemes);
  if (!checked.ok) return checked;
  const tracks: CardIdentity['tracks'] = {};
  for (const part of text.split(/[\r\n]+|(?<=\?.?)(?=[%;+])/)) {
    if (part.startsWith('%') && track1) tracks.track1 = part;
    else if (part.startsWith(';') && track2 && !tracks.track2) tracks.track2 = part;
    else if (track3 !== undefined) tracks.track3 = part;
  }
  return ok({ kind: 'magstripe', cardNumber: checked.value.cardNumber, scheme: checked.value.scheme, tracks, rawLength });
}
