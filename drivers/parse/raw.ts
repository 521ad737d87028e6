// `loyalty parse-card`: any raw reader output — wedge text, track strings, a hex HID report, a
// hex ATR or APDU response — parsed by the format given or detected. Pure.
import { parseAtr, type Atr } from './atr';
import { parseResponse } from './apdu';
import { looksLikeHex, parseHex, toHex } from './bytes';
import { decodeHidReport, MAGTEK_REPORT_LENGTH, swipeText, type HidLayout, type HidSwipe } from './hid';
import { identifyCard, type CardIdentity } from './identify';
import { fail, ok, type Result } from './result';
import { parseTlv, type TlvNode } from './tlv';

export type RawInputFormat = 'auto' | 'wedge' | 'track' | 'number' | 'uid' | 'hid' | 'apdu' | 'atr' | 'tlv';
export const rawInputFormats: readonly RawInputFormat[] = ['auto', 'wedge', 'track', 'number', 'uid', 'hid', 'apdu', 'atr', 'tlv'];

export type RawParse =
  | { format: 'card'; card: CardIdentity }
  | { format: 'hid'; layout: HidLayout; status: HidSwipe['status']; card: CardIdentity }
  | { format: 'atr'; atr: Atr }
  | { format: 'apdu'; sw: string; meaning: string; next: string; data: string; tlv?: TlvJson[] }
  | { format: 'tlv'; tlv: TlvJson[] };

interface TlvJson {
  tag: string;
  value?: string;
  children?: TlvJson[];
}

const tlvJson = (nodes: TlvNode[]): TlvJson[] => nodes.map((n) => (n.children ? { tag: n.tag, children: tlvJson(n.children) } : { tag: n.tag, value: toHex(n.value) }));

export function parseRaw(raw: string, format: RawInputFormat = 'auto', layout?: HidLayout): Result<RawParse> {
  const text = raw.trim();
  const binary = format === 'hid' || format === 'apdu' || format === 'atr' || format === 'tlv';
  if (!binary && !(format === 'auto' && looksLikeHex(text) && text.replace(/0x|[^0-9a-f]/gi, '').length > 20)) {
    const card = identifyCard(raw, { format: format === 'auto' ? 'auto' : format });
    return card.ok ? ok({ format: 'card', card: card.value }) : card;
  }
  const bytes = parseHex(text, 1024);
  if (!bytes.ok) return bytes;
  const b = bytes.value;
  const kind = format !== 'auto' ? format : b.length >= MAGTEK_REPORT_LENGTH || b[0] === 0x02 ? 'hid' : b[0] === 0x3b || b[0] === 0x3f ? 'atr' : 'apdu';
  switch (kind) {
    case 'hid': {
      const swipe = decodeHidReport(layout ?? (b.length >= MAGTEK_REPORT_LENGTH && b[0] !== 0x02 ? 'magtek' : 'idtech'), b);
      if (!swipe.ok) return swipe;
      const card = identifyCard(swipeText(swipe.value), { format: 'track' });
      return card.ok ? ok({ format: 'hid', layout: swipe.value.layout, status: swipe.value.status, card: card.value }) : card;
    }
    case 'atr': {
      const atr = parseAtr(b);
      return atr.ok ? ok({ format: 'atr', atr: atr.value }) : atr;
    }
    case 'tlv': {
      const tlv = parseTlv(b);
      return tlv.ok ? ok({ format: 'tlv', tlv: tlvJson(tlv.value) }) : tlv;
    }
    case 'apdu': {
      const r = parseResponse(b);
      if (!r.ok) return r;
      const next = r.value.next;
      const tlv = r.value.data.length ? parseTlv(r.value.data) : undefined;
      return ok({
        format: 'apdu',
        sw: r.value.swHex,
        meaning: r.value.meaning,
        next: next.kind === 'get_response' ? `GET RESPONSE (Le=${next.length})` : next.kind === 'resend' ? `resend with Le=${next.le}` : next.kind,
        data: toHex(r.value.data),
        ...(tlv?.ok ? { tlv: tlvJson(tlv.value) } : {}),
      });
    }
    default:
      return fail('unknown_format', `format ${String(kind)}`);
  }
}
