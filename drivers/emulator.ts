// A reader emulator: the device side of the framed chip protocol with a loyalty chip card in it,
// and fault injection (garbage before a frame, one byte dropped from a frame). Used by the
// binding-mock tests in-process and by scripts/reader-emulator.ts on a real pseudo-terminal.
import { CMD, EVENT_SEQ, EVT, STATUS } from './framed';
import { LOYALTY_AID, NUMBER_TAG, RECORD_TAG } from './chip';
import { parseCommand } from './parse/apdu';
import { bytesEqual, concatBytes } from './parse/bytes';
import { ACK, encodeFrame, FrameDecoder, NAK } from './parse/frame';
import { digitsToBcd, encodeTlv } from './parse/tlv';

export interface EmulatorOptions {
  cardNumber: string;
  /** ATR of the emulated card (T=1, with TCK). */
  atr?: Uint8Array;
  /** Garbage bytes written before the first `garbageFrames` response frames. */
  garbageFrames?: number;
  /** Drop one byte from the first `dropFrames` response frames (the host NAKs or times out; we resend whole). */
  dropFrames?: number;
  /** Answer SELECT with 61xx and READ BINARY with 6Cxx, so the host must follow them. */
  followUps?: boolean;
}

// 3B | T0=0x81 (TD1 follows, 1 historical byte) | TD1=0x80 (TD2 follows, T=0) | TD2=0x01 (T=1) | historical 0x4C | TCK
export const DEFAULT_ATR = (() => {
  const body = [0x81, 0x80, 0x01, 0x4c];
  const tck = body.reduce((x, b) => x ^ b, 0);
  return Uint8Array.from([0x3b, ...body, tck]);
})();

export class ReaderEmulator {
  private readonly decoder = new FrameDecoder(200);
  private lastFrame: Uint8Array | null = null;
  private lastSeq = -1;
  private pendingResponse: Uint8Array = new Uint8Array();
  private garbageLeft: number;
  private dropLeft: number;
  /** Counters for tests. */
  readonly stats = { commands: 0, naksReceived: 0, resends: 0, eventsSent: 0, acked: 0 };

  constructor(
    private readonly opts: EmulatorOptions,
    private readonly write: (bytes: Uint8Array) => void,
  ) {
    this.garbageLeft = opts.garbageFrames ?? 0;
    this.dropLeft = opts.dropFrames ?? 0;
  }

  /** The card record READ BINARY returns: 70 { 5A number, DF01 version }. */
  record(): Uint8Array {
    return encodeTlv(RECORD_TAG, concatBytes(encodeTlv(NUMBER_TAG, digitsToBcd(this.opts.cardNumber)), encodeTlv('DF01', Uint8Array.of(1))));
  }

  insertCard() {
    this.stats.eventsSent++;
    this.send(Uint8Array.of(EVENT_SEQ, EVT.cardInserted), false);
  }

  receive(bytes: Uint8Array, now = Date.now()) {
    for (const e of this.decoder.push(bytes, now)) {
      if (e.type === 'nak' && this.lastFrame) {
        this.stats.naksReceived++;
        this.stats.resends++;
        this.write(this.lastFrame);
      } else if (e.type === 'ack') this.stats.acked++;
      else if (e.type === 'bad') this.write(Uint8Array.of(NAK));
      else if (e.type === 'frame') {
        this.write(Uint8Array.of(ACK));
        this.onCommand(e.data);
      }
    }
  }

  private onCommand(data: Uint8Array) {
    const [seq, cmd] = [data[0]!, data[1]!];
    if (seq === this.lastSeq && this.lastFrame) {
      // The host retried a command we already answered: answer the same again.
      this.stats.resends++;
      this.write(this.lastFrame);
      return;
    }
    this.stats.commands++;
    this.lastSeq = seq;
    const reply = (status: number, payload: Uint8Array = new Uint8Array()) => this.send(concatBytes(Uint8Array.of(seq, status), payload), true);
    if (cmd === CMD.powerOn) return reply(STATUS.ok, this.opts.atr ?? DEFAULT_ATR);
    if (cmd === CMD.powerOff) return reply(STATUS.ok);
    if (cmd !== CMD.apdu) return reply(STATUS.mute);
    reply(STATUS.ok, this.apdu(data.slice(2)));
  }

  private apdu(bytes: Uint8Array): Uint8Array {
    const sw = (hi: number, lo: number, data: Uint8Array = new Uint8Array()) => concatBytes(data, Uint8Array.of(hi, lo));
    const c = parseCommand(bytes);
    if (!c.ok) return sw(0x67, 0x00);
    const { ins, data, le } = c.value;
    const fci = encodeTlv('6F', encodeTlv('84', LOYALTY_AID));
    if (ins === 0xa4) {
      if (!data || !bytesEqual(data, LOYALTY_AID)) return sw(0x6a, 0x82);
      if (this.opts.followUps) {
        this.pendingResponse = fci;
        return sw(0x61, fci.length);
      }
      return sw(0x90, 0x00, fci);
    }
    if (ins === 0xc0) {
      const out = this.pendingResponse;
      this.pendingResponse = new Uint8Array();
      return out.length ? sw(0x90, 0x00, out) : sw(0x69, 0x85);
    }
    if (ins === 0xb0) {
      const rec = this.record();
      if (this.opts.followUps && le !== rec.length) return sw(0x6c, rec.length);
      return sw(0x90, 0x00, rec.slice(0, le ?? rec.length));
    }
    return sw(0x6d, 0x00);
  }

  private send(data: Uint8Array, isResponse: boolean) {
    const frame = encodeFrame(data);
    this.lastFrame = isResponse ? frame : this.lastFrame;
    let out = frame;
    if (isResponse && this.garbageLeft > 0) {
      this.garbageLeft--;
      out = concatBytes(Uint8Array.of(0x55, 0xaa, 0x00, 0x7f, 0x03, 0x17), out);
    }
    if (isResponse && this.dropLeft > 0 && frame.length > 4) {
      this.dropLeft--;
      const cut = 2 + ((frame.length - 4) >> 1); // a byte from the middle of DATA
      out = concatBytes(out.subarray(0, out.length - frame.length + cut), out.subarray(out.length - frame.length + cut + 1));
    }
    this.write(out);
  }
}
