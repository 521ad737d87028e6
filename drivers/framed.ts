// The framed serial link (STX|LEN|DATA|BCC|ETX with ACK/NAK) as a command/response channel:
// one command in flight, resend on NAK or a missing ACK, retry on a missing response, and the
// chip transport built on it. Commands: DATA = SEQ | CMD | payload; responses echo SEQ and carry
// STATUS | payload; unsolicited reader events are DATA = FF | EVENT.
import type { ChipTransport } from './chip';
import { ACK, encodeFrame, FrameDecoder, NAK } from './parse/frame';

export const CMD = { powerOn: 0x01, powerOff: 0x02, apdu: 0x03 } as const;
export const EVENT_SEQ = 0xff;
export const EVT = { cardInserted: 0x80, cardRemoved: 0x81 } as const;
export const STATUS = { ok: 0x00, noCard: 0x01, mute: 0x02 } as const;

export interface FramedOptions {
  ackTimeoutMs: number;
  responseTimeoutMs: number;
  retries: number;
  interByteTimeoutMs: number;
}

export const defaultFramedOptions: FramedOptions = { ackTimeoutMs: 150, responseTimeoutMs: 800, retries: 3, interByteTimeoutMs: 100 };

export interface LinkStats {
  naksSent: number;
  resends: number;
  garbageBytes: number;
  badFrames: number;
}

interface InFlight {
  seq: number;
  frame: Uint8Array;
  attempts: number;
  timer?: NodeJS.Timeout;
  resolve(payload: Uint8Array): void;
  reject(e: Error): void;
}

export class FramedLink {
  private readonly decoder: FrameDecoder;
  private inFlight: InFlight | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private seq = 0;
  constructor(
    private readonly write: (bytes: Uint8Array) => void,
    private readonly onEvent: (event: number) => void,
    private readonly opts: FramedOptions = defaultFramedOptions,
    /** Counters a test or the status screen can read; a reader keeps one set across reconnects. */
    readonly stats: LinkStats = { naksSent: 0, resends: 0, garbageBytes: 0, badFrames: 0 },
  ) {
    this.decoder = new FrameDecoder(opts.interByteTimeoutMs);
  }

  receive(bytes: Uint8Array, now = Date.now()) {
    for (const e of this.decoder.push(bytes, now)) {
      if (e.type === 'frame') {
        this.write(Uint8Array.of(ACK));
        this.onFrame(e.data);
      } else if (e.type === 'bad') {
        this.stats.badFrames++;
        this.stats.naksSent++;
        this.write(Uint8Array.of(NAK));
      } else if (e.type === 'garbage') this.stats.garbageBytes += e.count;
      else if (e.type === 'nak' && this.inFlight) this.send(this.inFlight);
      else if (e.type === 'ack' && this.inFlight) this.arm(this.inFlight, this.opts.responseTimeoutMs);
    }
  }

  /** Sends one command when the previous one has finished; resolves with the response payload. */
  command(cmd: number, payload: Uint8Array = new Uint8Array()): Promise<Uint8Array> {
    const run = () =>
      new Promise<Uint8Array>((resolve, reject) => {
        this.seq = this.seq % 254 + 1;
        const data = new Uint8Array(payload.length + 2);
        data[0] = this.seq;
        data[1] = cmd;
        data.set(payload, 2);
        this.inFlight = { seq: this.seq, frame: encodeFrame(data), attempts: 0, resolve, reject };
        this.send(this.inFlight);
      });
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => {});
    return next;
  }

  /** Fails the command in flight (the port closed). */
  abort(reason: string) {
    const f = this.inFlight;
    if (!f) return;
    clearTimeout(f.timer);
    this.inFlight = null;
    f.reject(new Error(reason));
  }

  chipTransport(): ChipTransport {
    const expectOk = (payload: Uint8Array) => {
      if (payload[0] === STATUS.noCard) throw new Error('no card in the reader');
      if (payload[0] !== STATUS.ok) throw new Error(`reader status ${payload[0]}`);
      return payload.slice(1);
    };
    return {
      powerOn: async () => expectOk(await this.command(CMD.powerOn)),
      transmit: async (apdu) => expectOk(await this.command(CMD.apdu, apdu)),
      powerOff: async () => void expectOk(await this.command(CMD.powerOff)),
    };
  }

  private send(f: InFlight) {
    if (f.attempts++ > this.opts.retries) {
      this.inFlight = null;
      f.reject(new Error(`the reader did not answer after ${this.opts.retries + 1} attempts`));
      return;
    }
    if (f.attempts > 1) this.stats.resends++;
    this.write(f.frame);
    this.arm(f, this.opts.ackTimeoutMs);
  }

  private arm(f: InFlight, ms: number) {
    clearTimeout(f.timer);
    f.timer = setTimeout(() => this.inFlight === f && this.send(f), ms);
  }

  private onFrame(data: Uint8Array) {
    if (data[0] === EVENT_SEQ) {
      if (data[1] !== undefined) this.onEvent(data[1]);
      return;
    }
    const f = this.inFlight;
    // A response to an earlier attempt (or a duplicate after our NAK) is acknowledged and ignored.
    if (!f || data[0] !== f.seq) return;
    clearTimeout(f.timer);
    this.inFlight = null;
    f.resolve(data.slice(1));
  }
}
