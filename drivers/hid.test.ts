// The HID reader over node-hid's async API, driven by recorded reports: a fake device stands in
// for the USB hardware this machine does not have (the decoders themselves are tested in parse/).
import { describe, expect, it } from 'vitest';
import { EventEmitter } from 'node:events';
import { HidReader, type HidApi, type HidDevice } from './hid';
import { asciiToBytes } from './parse/bytes';
import { MAGTEK_REPORT_LENGTH } from './parse/hid';
import type { CardReadEvent, ReadErrorEvent, ReaderState } from './types';

function magtek(track2: string): Buffer {
  const r = Buffer.alloc(MAGTEK_REPORT_LENGTH);
  r[4] = track2.length;
  r.set(asciiToBytes(track2), 7 + 110);
  return r;
}

class FakeDevice extends EventEmitter implements HidDevice {
  closed = false;
  async close() {
    this.closed = true;
  }
}

class FakeHid implements HidApi {
  plugged = true;
  opened: FakeDevice[] = [];
  lastQuery: [number, number] | null = null;
  async devicesAsync(vendorId: number, productId: number) {
    this.lastQuery = [vendorId, productId];
    return this.plugged ? [{ path: '/dev/hidraw3' }] : [];
  }
  async open() {
    if (!this.plugged) throw new Error('could not open device');
    const d = new FakeDevice();
    this.opened.push(d);
    return d;
  }
}

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('HID reader', () => {
  it('opens the configured vid/pid, reads swipes, survives garbage, reopens after an error and an unplug', async () => {
    const hid = new FakeHid();
    const cards: CardReadEvent[] = [];
    const errors: ReadErrorEvent[] = [];
    const states: ReaderState[] = [];
    const reader = new HidReader(
      { id: 'hid-1', vendorId: 0x0801, productId: 0x0002, layout: 'magtek', reconnectMinMs: 20, reconnectMaxMs: 100 },
      { card: (e) => cards.push(e), error: (e) => errors.push(e), state: (s) => states.push(s) },
      async () => hid,
    );
    await reader.start();
    expect(hid.lastQuery).toEqual([0x0801, 0x0002]);
    expect(reader.state().status).toBe('connected');

    hid.opened[0]!.emit('data', magtek(';7789000000019=2812?'));
    hid.opened[0]!.emit('data', Buffer.from([1, 2, 3]));
    hid.opened[0]!.emit('data', magtek(';4111111111111111=28121010000000000000?'));
    expect(cards).toEqual([{ readerId: 'hid-1', source: 'hid', kind: 'magstripe', cardNumber: '7789000000019', tracks: { track2: ';7789000000019=2812?' }, rawLength: 337 }]);
    expect(errors.map((e) => e.code)).toEqual(['hid_report', 'bank_card']);
    expect(JSON.stringify(errors)).not.toContain('4111111111111111');

    // A read error: the device is closed and opened again.
    hid.opened[0]!.emit('error', new Error('could not read from HID device'));
    await until('a reopen', () => hid.opened.length === 2 && reader.state().status === 'connected');
    expect(hid.opened[0]!.closed).toBe(true);

    // Unplugged: the error, then no device for a while, then it comes back.
    hid.plugged = false;
    hid.opened[1]!.emit('error', new Error('could not read from HID device'));
    await until('no device', () => states.find((s) => s.status === 'disconnected' && s.reason === 'no HID device 0801:0002'));
    hid.plugged = true;
    await until('reconnected', () => hid.opened.length === 3 && reader.state().status === 'connected');
    hid.opened[2]!.emit('data', magtek(';7789000000027=2812?'));
    expect(cards.at(-1)?.cardNumber).toBe('7789000000027');
    await reader.stop();
    expect(reader.state().status).toBe('disconnected');
  });
});
