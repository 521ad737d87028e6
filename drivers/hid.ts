// HID magnetic-stripe readers through node-hid's async API. The device is chosen by vendor and
// product id; each input report is decoded by the configured layout (MagTek, ID TECH, HID POS
// page 0x8E) and then goes through the same card identification as every other reader. A read
// error or an unplug closes the device and reopens it with backoff; nothing here throws.
import type { EventEmitter } from 'node:events';
import { Backoff } from './backoff';
import { decodeHidReport, swipeText, type HidLayout, type ReportLayout } from './parse/hid';
import { identifyCard } from './parse/identify';
import type { Reader, ReaderSink, ReaderState } from './types';

/** The part of node-hid's HIDAsync the reader uses. */
export interface HidDevice extends EventEmitter {
  close(): Promise<void>;
}

/** The part of node-hid the reader uses (the real module, or recorded devices in tests). */
export interface HidApi {
  devicesAsync(vendorId: number, productId: number): Promise<{ path?: string }[]>;
  open(path: string): Promise<HidDevice>;
}

export const realHid = async (): Promise<HidApi> => {
  const hid = await import('node-hid');
  return { devicesAsync: (v, p) => hid.devicesAsync(v, p), open: (path) => hid.HIDAsync.open(path) as Promise<HidDevice> };
};

export interface HidReaderOptions {
  id: string;
  vendorId: number;
  productId: number;
  layout: HidLayout;
  /** For the HID POS layout: the device's report layout (from its report descriptor). */
  descriptor?: ReportLayout;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
}

export class HidReader implements Reader {
  readonly kind = 'hid' as const;
  readonly id: string;
  private current: ReaderState;
  private device: HidDevice | null = null;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private readonly backoff: Backoff;

  constructor(
    private readonly opts: HidReaderOptions,
    private readonly sink: ReaderSink,
    private readonly api: () => Promise<HidApi> = realHid,
  ) {
    this.id = opts.id;
    this.backoff = new Backoff(opts.reconnectMinMs ?? 500, opts.reconnectMaxMs ?? 10_000);
    this.current = { readerId: opts.id, kind: 'hid', status: 'disconnected', since: new Date().toISOString() };
  }

  async start() {
    this.stopped = false;
    await this.connect();
  }

  async stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.drop();
    this.setState('disconnected', 'stopped');
  }

  state(): ReaderState {
    return this.current;
  }

  private async connect() {
    if (this.stopped) return;
    this.setState('connecting');
    const id = `${hex4(this.opts.vendorId)}:${hex4(this.opts.productId)}`;
    try {
      const api = await this.api();
      const [found] = (await api.devicesAsync(this.opts.vendorId, this.opts.productId)).filter((d) => d.path);
      if (!found) return this.retry(`no HID device ${id}`);
      const device = await api.open(found.path!);
      if (this.stopped) return void (await device.close().catch(() => {}));
      this.device = device;
      device.on('data', (report: Buffer) => this.onReport(report));
      device.on('error', (e: Error) => void this.lost(device, e.message));
      this.backoff.reset();
      this.setState('connected');
    } catch (e) {
      this.retry(`cannot open HID device ${id}: ${(e as Error).message}`);
    }
  }

  private async lost(device: HidDevice, reason: string) {
    if (this.device !== device) return;
    await this.drop();
    this.retry(reason);
  }

  private async drop() {
    const device = this.device;
    this.device = null;
    if (device) {
      device.removeAllListeners('data');
      await device.close().catch(() => {});
    }
  }

  private retry(reason: string) {
    if (this.stopped) return;
    this.setState('disconnected', reason);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.connect(), this.backoff.next());
  }

  private onReport(report: Uint8Array) {
    const swipe = decodeHidReport(this.opts.layout, report, this.opts.descriptor);
    const read = swipe.ok ? identifyCard(swipeText(swipe.value), { format: 'track' }) : swipe;
    if (!read.ok) return this.sink.error({ readerId: this.id, code: read.error.code, message: read.error.message, messageRu: read.error.messageRu });
    const v = read.value;
    this.sink.card({ readerId: this.id, source: 'hid', kind: 'magstripe', cardNumber: v.cardNumber, ...(v.tracks ? { tracks: v.tracks } : {}), rawLength: report.length });
  }

  private setState(status: ReaderState['status'], reason?: string) {
    this.current = { readerId: this.id, kind: 'hid', status, since: new Date().toISOString(), ...(reason ? { reason } : {}) };
    this.sink.state(this.current);
  }
}

const hex4 = (n: number) => n.toString(16).padStart(4, '0');
