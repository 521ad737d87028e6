// Serial reader codecs. Pure: bytes in (with the time they arrived), events out.
//
// Framed binary protocol: STX(02) | LEN | DATA (LEN bytes, 1–255) | BCC | ETX(03), where BCC is
// the XOR of LEN and every DATA byte. The receiver answers a good frame with ACK(06) and a
// damaged one with NAK(15). Garbage between frames is skipped; a frame that stops arriving for
// longer than the inter-byte timeout, or whose BCC/ETX is wrong, is dropped and the decoder
// resynchronises on the next STX after the bad frame's start.
//
// Line protocol: text lines (CR, LF or CRLF); a configurable pattern picks the card number.
import { toHex } from './bytes';

export const STX = 0x02;
export const ETX = 0x03;
export const ACK = 0x06;
export const NAK = 0x15;

export function encodeFrame(data: Uint8Array): Uint8Array {
  if (data.length < 1 || data.length > 255) throw new RangeError(`frame data of ${data.length} bytes (1–255)`);
  const out = new Uint8Array(data.length + 4);
  out[0] = STX;
  out[1] = data.length;
  out.set(data, 2);
  let bcc = data.length;
  for (const b of data) bcc ^= b;
  out[data.length + 2] = bcc;
  out[data.length + 3] = ETX;
  return out;
}

export type FrameEvent =
  | { type: 'frame'; data: Uint8Array }
  | { type: 'ack' }
  | { type: 'nak' }
  /** A damaged or timed-out frame: answer NAK. */
  | { type: 'bad'; reason: string }
  /** Bytes skipped while looking for STX. */
  | { type: 'garbage'; count: number };

export class FrameDecoder {
  private buf: number[] = [];
  private lastAt = 0;

  constructor(private readonly interByteTimeoutMs = 100) {}

  push(bytes: Uint8Array, now: number): FrameEvent[] {
    const events: FrameEvent[] = [];
    if (this.buf.length && now - this.lastAt > this.interByteTimeoutMs) {
      // A frame that stopped arriving: drop its STX and rescan what followed it.
      this.buf.shift();
      events.push({ type: 'bad', reason: 'inter-byte timeout' });
    }
    this.lastAt = now;
    for (const b of bytes) this.buf.push(b);
    this.scan(events);
    return events;
  }

  /** True while part of a frame is waiting for more bytes. */
  get pending(): boolean {
    return this.buf.length > 0;
  }

  private scan(events: FrameEvent[]) {
    for (;;) {
      let skipped = 0;
      while (this.buf.length && this.buf[0] !== STX) {
        const b = this.buf.shift()!;
        if (b === ACK) events.push({ type: 'ack' });
        else if (b === NAK) events.push({ type: 'nak' });
        else skipped++;
      }
      if (skipped) events.push({ type: 'garbage', count: skipped });
      if (this.buf.length < 2) return;
      const len = this.buf[1]!;
      if (len === 0) {
        this.buf.shift();
        events.push({ type: 'bad', reason: 'zero length' });
        continue;
      }
      if (this.buf.length < len + 4) return;
      let bcc = len;
      for (let i = 0; i < len; i++) bcc ^= this.buf[2 + i]!;
      if (bcc !== this.buf[2 + len] || this.buf[3 + len] !== ETX) {
        const reason = bcc !== this.buf[2 + len] ? 'BCC mismatch' : 'no ETX';
        this.buf.shift();
        events.push({ type: 'bad', reason });
        continue;
      }
      const data = Uint8Array.from(this.buf.slice(2, 2 + len));
      this.buf.splice(0, len + 4);
      events.push({ type: 'frame', data });
    }
  }
}

export function describeFrameEvent(e: FrameEvent): string {
  return e.type === 'frame' ? `frame ${toHex(e.data, ' ')}` : e.type === 'bad' ? `bad frame (${e.reason})` : e.type === 'garbage' ? `${e.count} garbage bytes` : e.type;
}

/** Splits a byte stream into text lines; a line longer than `maxLine` is dropped as garbage. */
export class LineDecoder {
  private text = '';
  private overflow = false;

  constructor(private readonly maxLine = 512) {}

  push(bytes: Uint8Array): { lines: string[]; dropped: number } {
    const lines: string[] = [];
    let dropped = 0;
    for (const b of bytes) {
      if (b === 0x0a || b === 0x0d) {
        if (this.overflow) dropped++;
        else if (this.text.length) lines.push(this.text);
        this.text = '';
        this.overflow = false;
      } else if (!this.overflow) {
        this.text += String.fromCharCode(b);
        if (this.text.length > this.maxLine) {
          this.overflow = true;
          this.text = '';
        }
      }
    }
    return { lines, dropped };
  }
}

/** Line presets: a plain track line is given to the track parser whole; RFID readers print a number. */
export const linePresets = {
  track: '^(?<raw>[%;+].*)$',
  rfid: '^(?:ID|UID|CARD)?[:= ]*(?<raw>[0-9A-Fa-f]{8,20})\\s*$',
  number: '^\\s*(?<raw>\\d{6,19})\\s*$',
} as const;

export type LinePreset = keyof typeof linePresets;

/** A line → the raw card text its pattern captures (group `raw`, else the whole match). */
export function extractFromLine(line: string, pattern: RegExp): string | undefined {
  const m = pattern.exec(line);
  if (!m) return undefined;
  return m.groups?.['raw'] ?? m[0];
}
