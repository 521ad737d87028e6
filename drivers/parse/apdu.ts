// ISO/IEC 7816-4 APDUs: command encoding (cases 1–4, short Lc/Le) and response decoding with the
// status word's meaning and what to do next: 61xx → GET RESPONSE for xx bytes, 6Cxx → resend the
// command with Le = xx. Pure: the exchange loop that follows these answers lives in drivers/chip.ts.
import { toHex } from './bytes';
import { fail, ok, type Result } from './result';

export interface CommandApdu {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  data?: Uint8Array;
  /** Expected response length; 256 is encoded as 00. */
  le?: number;
}

export type NextStep = { kind: 'done' } | { kind: 'get_response'; length: number } | { kind: 'resend'; le: number } | { kind: 'error' };

export interface ResponseApdu {
  data: Uint8Array;
  sw: number;
  /** Status word as 4 hex digits, e.g. "9000". */
  swHex: string;
  meaning: string;
  next: NextStep;
}

export function encodeCommand(c: CommandApdu): Uint8Array {
  const data = c.data ?? new Uint8Array();
  if (data.length > 255) throw new RangeError('extended Lc is not supported');
  const out = [c.cla & 0xff, c.ins & 0xff, c.p1 & 0xff, c.p2 & 0xff];
  if (data.length) out.push(data.length, ...data);
  if (c.le !== undefined) out.push(c.le & 0xff);
  return Uint8Array.from(out);
}

export function parseCommand(bytes: Uint8Array): Result<CommandApdu> {
  if (bytes.length < 4) return fail('apdu', `${bytes.length} bytes (a command has at least 4)`);
  const [cla, ins, p1, p2] = bytes as unknown as [number, number, number, number];
  const base = { cla, ins, p1, p2 };
  if (bytes.length === 4) return ok(base);
  if (bytes.length === 5) return ok({ ...base, le: bytes[4]! === 0 ? 256 : bytes[4]! });
  const lc = bytes[4]!;
  if (lc === 0) return fail('apdu', 'extended length is not supported');
  if (bytes.length === 5 + lc) return ok({ ...base, data: bytes.slice(5, 5 + lc) });
  if (bytes.length === 6 + lc) return ok({ ...base, data: bytes.slice(5, 5 + lc), le: bytes[5 + lc]! === 0 ? 256 : bytes[5 + lc]! });
  return fail('apdu', `Lc says ${lc} data bytes but the command has ${bytes.length - 5}`);
}

export const selectAid = (aid: Uint8Array): CommandApdu => ({ cla: 0x00, ins: 0xa4, p1: 0x04, p2: 0x00, data: aid, le: 256 });
export const readBinary = (offset: number, le: number): CommandApdu => ({ cla: 0x00, ins: 0xb0, p1: (offset >> 8) & 0x7f, p2: offset & 0xff, le });
export const getResponse = (length: number): CommandApdu => ({ cla: 0x00, ins: 0xc0, p1: 0, p2: 0, le: length });

export function parseResponse(bytes: Uint8Array): Result<ResponseApdu> {
  if (bytes.length < 2) return fail('apdu', `${bytes.length} bytes (a response ends with a 2-byte status word)`);
  if (bytes.length > 258) return fail('apdu', `${bytes.length} bytes (a short response has at most 258)`);
  const sw1 = bytes[bytes.length - 2]!;
  const sw2 = bytes[bytes.length - 1]!;
  const sw = (sw1 << 8) | sw2;
  const [meaning, next] = statusWord(sw1, sw2);
  return ok({ data: bytes.slice(0, -2), sw, swHex: toHex([sw1, sw2]), meaning, next });
}

function statusWord(sw1: number, sw2: number): [string, NextStep] {
  const n = sw2 === 0 ? 256 : sw2;
  if (sw1 === 0x90 && sw2 === 0) return ['normal processing', { kind: 'done' }];
  if (sw1 === 0x61) return [`${n} more bytes available`, { kind: 'get_response', length: n }];
  if (sw1 === 0x6c) return [`wrong Le: resend with Le = ${n}`, { kind: 'resend', le: n }];
  if (sw1 === 0x62 || sw1 === 0x63) return [sw1 === 0x63 && (sw2 & 0xf0) === 0xc0 ? `warning: counter ${sw2 & 15}` : 'warning: state unchanged or data may be corrupted', { kind: 'done' }];
  const known: Record<number, string> = {
    0x6700: 'wrong length',
    0x6881: 'logical channel not supported',
    0x6982: 'security status not satisfied',
    0x6983: 'authentication method blocked',
    0x6985: 'conditions of use not satisfied',
    0x6986: 'command not allowed (no current EF)',
    0x6a80: 'incorrect data',
    0x6a81: 'function not supported',
    0x6a82: 'file or application not found',
    0x6a86: 'incorrect P1-P2',
    0x6b00: 'wrong parameters (offset outside the EF)',
    0x6d00: 'instruction not supported',
    0x6e00: 'class not supported',
    0x6f00: 'no precise diagnosis',
  };
  return [known[(sw1 << 8) | sw2] ?? `error ${toHex([sw1, sw2])}`, { kind: 'error' }];
}
