// The chip-card application layer, over any transport that can power a card and carry APDUs
// (the framed serial reader today; PC/SC could be added behind the same interface):
// power on → ATR → SELECT the loyalty application → READ BINARY of the card record → the number.
// Status words are followed: 61xx → GET RESPONSE, 6Cxx → resend with the right Le.
import { parseAtr, type Atr } from './parse/atr';
import { encodeCommand, getResponse, parseResponse, readBinary, selectAid, type CommandApdu, type ResponseApdu } from './parse/apdu';
import { concatBytes, toHex } from './parse/bytes';
import { fail, failWith, ok, type Result } from './parse/result';
import { checkCardNumber } from './parse/scheme';
import { bcdDigits, findTag, parseTlv } from './parse/tlv';

export interface ChipTransport {
  powerOn(): Promise<Uint8Array>;
  transmit(apdu: Uint8Array): Promise<Uint8Array>;
  powerOff(): Promise<void>;
}

/** Our loyalty application's identifier: proprietary (F0) + "LOYALTY". */
export const LOYALTY_AID = Uint8Array.from([0xf0, 0x4c, 0x4f, 0x59, 0x41, 0x4c, 0x54, 0x59]);
/** The card record: template 70 holding tag 5A (card number, packed BCD) and DF01 (record version). */
export const RECORD_TAG = '70';
export const NUMBER_TAG = '5A';

const MAX_STEPS = 8;

/** One command with the 61xx/6Cxx follow-ups; data of GET RESPONSE chains is concatenated. */
export async function exchange(t: ChipTransport, command: CommandApdu): Promise<Result<ResponseApdu>> {
  let cmd = command;
  let collected: Uint8Array = new Uint8Array();
  for (let step = 0; step < MAX_STEPS; step++) {
    const parsed = parseResponse(await t.transmit(encodeCommand(cmd)));
    if (!parsed.ok) return parsed;
    const r = parsed.value;
    switch (r.next.kind) {
      case 'get_response':
        collected = concatBytes(collected, r.data);
        cmd = getResponse(r.next.length);
        break;
      case 'resend':
        cmd = { ...cmd, le: r.next.le };
        break;
      case 'done':
        return ok({ ...r, data: concatBytes(collected, r.data) });
      default:
        return failWith('apdu', 'The chip card answered with an error — insert it again', 'Чип карты ответил ошибкой — вставьте карту ещё раз', `SW ${r.swHex}: ${r.meaning}`);
    }
  }
  return fail('apdu', `no final status after ${MAX_STEPS} exchanges`);
}

export interface ChipRead {
  atr: Atr;
  aid: string;
  cardNumber: string;
}

export async function readLoyaltyChip(t: ChipTransport): Promise<Result<ChipRead>> {
  const atr = parseAtr(await t.powerOn());
  if (!atr.ok) return atr;
  try {
    const selected = parseResponse(await t.transmit(encodeCommand(selectAid(LOYALTY_AID))));
    if (!selected.ok) return selected;
    if (selected.value.swHex === '6A82') return fail('not_loyalty_chip', 'SELECT loyalty AID: 6A82');
    if (selected.value.next.kind === 'get_response') {
      const rest = await exchange(t, getResponse(selected.value.next.length));
      if (!rest.ok) return rest;
    } else if (selected.value.next.kind === 'error') return fail('apdu', `SELECT: SW ${selected.value.swHex}`);
    const record = await exchange(t, readBinary(0, 256));
    if (!record.ok) return record;
    const tlv = parseTlv(record.value.data);
    if (!tlv.ok) return tlv;
    const number = findTag(tlv.value, NUMBER_TAG);
    if (!number || !findTag(tlv.value, RECORD_TAG)) return fail('tlv', 'no card-number tag in the record');
    const digits = bcdDigits(number.value);
    if (!digits.ok) return digits;
    const checked = checkCardNumber(digits.value, { fromCard: true });
    if (!checked.ok) return checked;
    return ok({ atr: atr.value, aid: toHex(LOYALTY_AID), cardNumber: checked.value.cardNumber });
  } finally {
    await t.powerOff().catch(() => {});
  }
}
