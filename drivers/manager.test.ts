import { describe, expect, it } from 'vitest';
import { ReaderManager } from './manager';
import { parseReaders } from './config';
import type { ReaderState } from './types';

describe('reader manager with real adapters', () => {
  it('loads serialport and node-hid; a missing port or device is a state with its reason, not a crash', async () => {
    const manager = new ReaderManager([
      { type: 'simulated', id: 'sim-1' },
      { type: 'serial', id: 'ser-1', path: '/dev/ttyLOYALTY-missing', protocol: 'lines' },
      { type: 'hid', id: 'hid-1', vendorId: 0x0801, productId: 0x0002, layout: 'magtek' },
    ]);
    const seen: ReaderState[] = [];
    manager.on('state', (s) => seen.push(s));
    await manager.start();
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !(seen.some((s) => s.readerId === 'hid-1' && s.status === 'disconnected') && seen.some((s) => s.readerId === 'ser-1' && s.status === 'disconnected'))) await new Promise((r) => setTimeout(r, 20));
    const states = Object.fromEntries(manager.states().map((s) => [s.readerId, s]));
    expect(states['sim-1']!.status).toBe('connected');
    expect(states['ser-1']).toMatchObject({ status: 'disconnected', reason: expect.stringContaining('cannot open /dev/ttyLOYALTY-missing') });
    expect(states['hid-1']).toMatchObject({ status: 'disconnected', reason: 'no HID device 0801:0002' });
    await manager.stop();
  });
});

describe('readers file', () => {
  it('accepts hex USB ids and presets; names the path of each mistake', () => {
    expect(parseReaders([{ type: 'hid', id: 'msr', vendorId: '0x0801', productId: '0002', layout: 'magtek' }])).toEqual({ ok: true, value: [{ type: 'hid', id: 'msr', vendorId: 0x801, productId: 2, layout: 'magtek' }] });
    const bad = parseReaders([{ type: 'serial', id: 'a', path: '/dev/ttyUSB0', linePattern: '(' }, { type: 'hid', id: 'a', vendorId: 1, productId: 2, layout: 'acme' }]);
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.message).toMatch(/\[0\]\.linePattern: not a valid regular expression/);
    expect(!bad.ok && bad.message).toMatch(/\[1\]\.layout/);
  });
});
