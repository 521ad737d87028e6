// Serial readers (serialport): a line protocol (track lines, RFID number lines, a custom pattern)
// or the framed chip protocol. The port is reopened with backoff after an unplug or an open
// failure; nothing a reader sends can throw out of here.
import type { Duplex } from 'node:stream';
import { readLoyaltyChip } from './chip';
import { Backoff } from './backoff';
import { defaultFramedOptions, EVT, FramedLink, type FramedOptions, type LinkStats } from './framed';
import { identifyCard } from './parse/identify';
import { extractFromLine, LineDecoder, linePresets, type LinePreset } from './parse/frame';
import { parseError } from './parse/result';
import type { Reader, ReaderSink, ReaderState } from './types';

/** What SerialReader needs of a port: serialport's SerialPort and SerialPortMock both fit. */
export interface SerialPortLike extends Duplex {
  open(cb: (err: Error | null) => void): void;
  close(cb?: (err: Error | null) => void): void;
  readonly isOpen: boolean;
}

export type OpenSerialPort = (path: string, baudRate: number) => SerialPortLike | Promise<SerialPortLike>;

export interface SerialReaderOptions {
  id: string;
  path: string;
  baudRate?: number;
  protocol?: 'lines' | 'framed';
  /** Line protocol: a preset or a regular expression with a `raw` group. */
  linePreset?: LinePreset;
  linePattern?: string;
  framed?: Partial<FramedOptions>;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
}

/** The real ports, loaded on first use so a build without the native module still starts. */
export const openRealPort: OpenSerialPort = async (path, baudRate) => {
  const { SerialPort } = await import('serialport');
  return new SerialPort({ path, baudRate, autoOpen: false });
};

export class SerialReader implements Reader {
  readonly kind = 'serial' as const;
  readonly id: string;
  private current: ReaderState;
  private port: SerialPortLike | null = null;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private readonly backoff: Backoff;
  private readonly pattern: RegExp;
  private link: FramedLink | null = null;
  private reading = false;
  /** Framed-link counters across reconnects (garbage skipped, damaged frames, resends). */
  readonly linkStats: LinkStats = { naksSent: 0, resends: 0, garbageBytes: 0, badFrames: 0 };

  constructor(
    private readonly opts: SerialReaderOptions,
    private readonly sink: ReaderSink,
    private readonly openPort: OpenSerialPort = openRealPort,
  ) {
    this.id = opts.id;
    this.current = { readerId: opts.id, kind: 'serial', status: 'disconnected', since: new Date().toISOString() };
    this.backoff = new Backoff(opts.reconnectMinMs ?? 250, opts.reconnectMaxMs ?? 5000);
    this.pattern = new RegExp(opts.linePattern ?? linePresets[opts.linePreset ?? 'track']);
  }

  async start() {
    this.stopped = false;
    await this.connect();
  }

  async stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    const port = this.port;
    this.port = null;
    this.link?.abort('reader stopped');
    if (port?.isOpen) await new Promise<void>((r) => port.close(() => r()));
    this.setState('disconnected', 'stopped');
  }

  state(): ReaderState {
    return this.current;
  }

  private async connect() {
    if (this.stopped) return;
    this.setState('connecting');
    let port: SerialPortLike;
    try {
      port = await this.openPort(this.opts.path, this.opts.baudRate ?? 9600);
      await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    } catch (e) {
      this.retry(`cannot open ${this.opts.path}: ${(e as Error).message}`);
      return;
    }
    if (this.stopped) {
      port.close();
      return;
    }
    this.port = port;
    this.backoff.reset();
    this.attach(port);
    this.setState('connected');
  }

  private retry(reason: string) {
    if (this.stopped) return;
    this.setState('disconnected', reason);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.connect(), this.backoff.next());
  }

  private attach(port: SerialPortLike) {
    const protocol = this.opts.protocol ?? 'lines';
    let onData: (chunk: Buffer) => void;
    if (protocol === 'lines') {
      const lines = new LineDecoder();
      onData = (chunk) => {
        const { lines: got, dropped } = lines.push(chunk);
        if (dropped) this.readError('line', 'overlong line');
        for (const line of got) this.onLine(line);
      };
    } else {
      const link = new FramedLink(
        (bytes) => port.write(Buffer.from(bytes)),
        (event) => event === EVT.cardInserted && void this.readChip(link),
        { ...defaultFramedOptions, ...this.opts.framed },
        this.linkStats,
      );
      this.link = link;
      onData = (chunk) => link.receive(chunk);
    }
    port.on('data', onData);
    port.on('error', () => {}); // every failure also closes the port; 'close' handles it
    port.once('close', (err?: Error & { disconnected?: boolean }) => {
      port.off('data', onData);
      this.link?.abort('port closed');
      this.link = null;
      if (this.port === port) this.port = null;
      this.retry(err?.disconnected ? 'unplugged' : err ? err.message : 'port closed');
    });
  }

  private onLine(line: string) {
    const raw = extractFromLine(line, this.pattern);
    if (raw === undefined) return this.readError('line', `line of ${line.length} characters does not match the pattern`);
    const rfid = this.opts.linePreset === 'rfid';
    const read = identifyCard(raw, { format: rfid ? 'uid' : 'auto' });
    if (!read.ok) return this.sink.error({ readerId: this.id, code: read.error.code, message: read.error.message, messageRu: read.error.messageRu });
    const v = read.value;
    this.sink.card({
      readerId: this.id,
      source: 'serial',
      kind: v.kind,
      cardNumber: v.cardNumber,
      ...(v.tracks ? { tracks: v.tracks } : {}),
      ...(v.chipUid ? { chip: { uid: v.chipUid } } : {}),
      rawLength: line.length,
    });
  }

  private async readChip(link: FramedLink) {
    if (this.reading) return;
    this.reading = true;
    try {
      const read = await readLoyaltyChip(link.chipTransport());
      if (!read.ok) return this.sink.error({ readerId: this.id, code: read.error.code, message: read.error.message, messageRu: read.error.messageRu });
      const v = read.value;
      this.sink.card({ readerId: this.id, source: 'serial', kind: 'chip', cardNumber: v.cardNumber, chip: { atr: v.atr.hex, aid: v.aid }, rawLength: v.atr.hex.length / 2 });
    } catch (e) {
      this.readError('apdu', (e as Error).message);
    } finally {
      this.reading = false;
    }
  }

  private readError(code: 'line' | 'apdu' | 'frame', detail: string) {
    const e = parseError(code, detail);
    this.sink.error({ readerId: this.id, code, message: e.message, ...(e.messageRu ? { messageRu: e.messageRu } : {}) });
  }

  private setState(status: ReaderState['status'], reason?: string) {
    this.current = { readerId: this.id, kind: 'serial', status, since: new Date().toISOString(), ...(reason ? { reason } : {}) };
    this.sink.state(this.current);
  }
}
