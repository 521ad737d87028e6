// Serial readers on @serialport/binding-mock and on a real pseudo-terminal pair made by socat,
// with the reader emulator on the other end: card lines, the framed chip exchange with injected
// garbage and a dropped byte, and unplug → return → reading again.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPortMock } from 'serialport';
import { ReaderEmulator } from './emulator';
import { SerialReader, type SerialReaderOptions } from './serial';
import type { CardReadEvent, ReadErrorEvent, ReaderState } from './types';

type MockPortBinding = NonNullable<SerialPortMock['port']>;

class Sink {
  cards: CardReadEvent[] = [];
  errors: ReadErrorEvent[] = [];
  states: ReaderState[] = [];
  card = (e: CardReadEvent) => this.cards.push(e);
  error = (e: ReadErrorEvent) => this.errors.push(e);
  state = (s: ReaderState) => this.states.push(s);
}

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const fast = { reconnectMinMs: 50, reconnectMaxMs: 400, framed: { ackTimeoutMs: 100, responseTimeoutMs: 300, retries: 4, interByteTimeoutMs: 60 } };
let reader: SerialReader | undefined;
afterEach(async () => {
  await reader?.stop();
  reader = undefined;
});

describe('serial readers on @serialport/binding-mock', () => {
  // The mock binding SerialPortMock itself uses (serialport bundles its own copy).
  const MockBinding = SerialPortMock.binding;
  const path = '/dev/ttyMOCK0';
  function mockReader(opts: Partial<SerialReaderOptions>, sink: Sink) {
    const opened: SerialPortMock[] = [];
    reader = new SerialReader({ id: 'ser-1', path, ...fast, ...opts }, sink, (p, baudRate) => {
      const port = new SerialPortMock({ path: p, baudRate, autoOpen: false });
      opened.push(port);
      return port;
    });
    const binding = () => opened.at(-1)!.port as MockPortBinding;
    return { opened, binding };
  }

  it('reads card lines; a line that does not match is a clear read error', async () => {
    MockBinding.reset();
    MockBinding.createPort(path);
    const sink = new Sink();
    const { binding } = mockReader({ protocol: 'lines' }, sink);
    await reader!.start();
    expect(reader!.state().status).toBe('connected');
    binding().emitData(';7789000000019=2812?\r\nnoise\r\n');
    await until('a card', () => sink.cards.length === 1 && sink.errors.length === 1);
    expect(sink.cards[0]).toMatchObject({ readerId: 'ser-1', source: 'serial', kind: 'magstripe', cardNumber: '7789000000019' });
    expect(sink.errors[0]).toMatchObject({ code: 'line', message: 'The reader sent a line without a card number — read the card again' });
  });

  it('RFID preset: a reader that prints the chip UID on a line', async () => {
    MockBinding.reset();
    MockBinding.createPort(path);
    const sink = new Sink();
    const { binding } = mockReader({ protocol: 'lines', linePreset: 'rfid' }, sink);
    await reader!.start();
    binding().emitData('UID: 04A224B1C2D380\n');
    await until('a card', () => sink.cards.length === 1);
    expect(sink.cards[0]).toMatchObject({ kind: 'contactless', cardNumber: '04A224B1C2D380', chip: { uid: '04A224B1C2D380' } });
  });

  it('framed chip exchange survives garbage and a dropped byte (61xx and 6Cxx followed)', async () => {
    MockBinding.reset();
    MockBinding.createPort(path);
    const sink = new Sink();
    const { binding } = mockReader({ protocol: 'framed' }, sink);
    await reader!.start();
    const b = binding();
    const emulator = new ReaderEmulator({ cardNumber: '7789000000027', garbageFrames: 2, dropFrames: 1, followUps: true }, (bytes) => b.isOpen && b.emitData(Buffer.from(bytes)));
    const write = b.write.bind(b);
    b.write = async (buf: Buffer) => {
      await write(buf);
      emulator.receive(buf);
    };
    emulator.insertCard();
    await until('a chip card', () => sink.cards[0] ?? (sink.errors[0] && Promise.reject(new Error(JSON.stringify(sink.errors)))));
    expect(sink.cards[0]).toMatchObject({ kind: 'chip', cardNumber: '7789000000027', chip: { aid: 'F04C4F59414C5459' } });
    expect(emulator.stats.resends).toBeGreaterThan(0);
    expect(reader!.linkStats.garbageBytes).toBeGreaterThan(0);
    expect(sink.errors).toEqual([]);
  });

  it('unplug → disconnected with the reason → port returns → reconnected and reading again', async () => {
    MockBinding.reset();
    MockBinding.createPort(path);
    const sink = new Sink();
    const { binding, opened } = mockReader({ protocol: 'lines' }, sink);
    await reader!.start();
    // Unplugging makes the pending read fail the way a vanished tty does.
    const pending = await until('a pending read', () => (binding() as unknown as { pendingRead: ((e: Error) => void) | null }).pendingRead);
    MockBinding.reset();
    pending!(new Error('EIO: i/o error, read'));
    await until('disconnected', () => sink.states.find((s) => s.status === 'disconnected' && s.reason === 'unplugged'));
    await until('a failed reopen', () => sink.states.find((s) => s.status === 'disconnected' && s.reason?.startsWith('cannot open')));
    MockBinding.createPort(path);
    await until('reconnected', () => reader!.state().status === 'connected' && opened.length >= 2 && opened.at(-1)!.isOpen);
    binding().emitData(';7789000000035=2812?\n');
    await until('a card after the return', () => sink.cards.length === 1);
    expect(sink.cards[0]!.cardNumber).toBe('7789000000035');
  });
});

describe('serial readers on a real pseudo-terminal pair (socat) with the reader emulator', () => {
  const dir = mkdtempSync(join(tmpdir(), 'loyalty-pty-'));
  const link = join(dir, 'reader');
  let socat: ChildProcess | undefined;

  function plugIn(args: string[]) {
    const emulator = ['node', '--import', 'tsx', 'scripts/reader-emulator.ts', ...args].join(' ');
    socat = spawn('socat', [`pty,rawer,echo=0,link=${link}`, `EXEC:${emulator}`], { stdio: 'ignore' });
    return until('the pty link', () => existsSync(link));
  }
  async function unplug() {
    const p = socat!;
    socat = undefined;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
  }
  afterEach(async () => {
    if (socat) await unplug();
  });

  it('card lines through the pty; unplug (emulator killed) and return (restarted) → reading again', async () => {
    await plugIn(['--mode', 'lines', '--card', '7789000000019', '--every', '150']);
    const sink = new Sink();
    reader = new SerialReader({ id: 'pty-1', path: link, protocol: 'lines', ...fast }, sink);
    await reader.start();
    await until('a card line', () => sink.cards.length > 0);
    expect(sink.cards[0]).toMatchObject({ source: 'serial', kind: 'magstripe', cardNumber: '7789000000019' });

    await unplug();
    await until('disconnected', () => reader!.state().status === 'disconnected');
    const before = sink.cards.length;
    await plugIn(['--mode', 'lines', '--card', '7789000000043', '--every', '150']);
    await until('reconnected and reading', () => sink.cards.slice(before).find((c) => c.cardNumber === '7789000000043'), 15_000);
    expect(sink.states.some((s) => s.status === 'disconnected')).toBe(true);
    expect(reader.state().status).toBe('connected');
  }, 40_000);

  it('framed chip exchange through the pty with garbage and a dropped byte', async () => {
    await plugIn(['--mode', 'framed', '--card', '7789000000027', '--garbage', '2', '--drop', '1', '--follow-ups']);
    const sink = new Sink();
    reader = new SerialReader({ id: 'pty-2', path: link, protocol: 'framed', ...fast }, sink);
    await reader.start();
    await until('a chip card', () => sink.cards.length > 0, 15_000);
    expect(sink.cards[0]).toMatchObject({ kind: 'chip', cardNumber: '7789000000027' });
    expect(sink.cards[0]!.chip?.atr).toMatch(/^3B/);
    // The injected garbage was skipped and the frame with a dropped byte was detected and re-read.
    expect(reader.linkStats.garbageBytes).toBeGreaterThan(0);
    expect(reader.linkStats.badFrames + reader.linkStats.resends).toBeGreaterThan(0);
  }, 40_000);

  afterEach(() => {
    if (!socat) rmSync(join(dir, 'reader'), { force: true });
  });
});
