// The readers a terminal owns. Each configured reader is built by its adapter's factory and
// reports through one sink; the manager re-emits card reads, read errors and state changes.
// A reader that fails to start is an 'error' state with its reason, never an exception.
import { EventEmitter } from 'node:events';
import { HidReader } from './hid';
import { SerialReader } from './serial';
import { SimulatedReader } from './simulated';
import type { CardReadEvent, ReadErrorEvent, Reader, ReaderConfig, ReaderSink, ReaderState } from './types';

type Factory<T extends ReaderConfig['type']> = (config: Extract<ReaderConfig, { type: T }>, sink: ReaderSink) => Reader;

/** One factory per reader type; adapters register here. */
const factories: { [T in ReaderConfig['type']]: Factory<T> } = {
  simulated: (config, sink) => new SimulatedReader(config.id, sink),
  hid: (config, sink) => new HidReader(config, sink),
  serial: (config, sink) => new SerialReader(config, sink),
};

export interface ReaderEvents {
  card: [CardReadEvent];
  error: [ReadErrorEvent];
  state: [ReaderState];
}

export class ReaderManager extends EventEmitter<ReaderEvents> {
  private readonly readers: Reader[];
  private readonly failed = new Map<string, ReaderState>();

  constructor(configs: ReaderConfig[]) {
    super();
    const sink: ReaderSink = {
      card: (e) => this.emit('card', e),
      error: (e) => this.emit('error', e),
      state: (s) => this.emit('state', s),
    };
    this.readers = configs.map((c) => (factories[c.type] as Factory<typeof c.type>)(c as never, sink));
  }

  async start() {
    await Promise.all(
      this.readers.map(async (r) => {
        try {
          await r.start();
        } catch (e) {
          const state: ReaderState = { readerId: r.id, kind: r.kind, status: 'error', reason: (e as Error).message, since: new Date().toISOString() };
          this.failed.set(r.id, state);
          this.emit('state', state);
        }
      }),
    );
  }

  async stop() {
    await Promise.allSettled(this.readers.map((r) => r.stop()));
  }

  states(): ReaderState[] {
    return this.readers.map((r) => this.failed.get(r.id) ?? r.state());
  }

  /** Demo and test path: raw reader text through the simulated reader (or the one named). */
  simulate(raw: string, readerId?: string) {
    const reader = this.readers.find((r) => r instanceof SimulatedReader && (!readerId || r.id === readerId));
    if (!(reader instanceof SimulatedReader)) throw new Error(readerId ? `no simulated reader "${readerId}"` : 'no simulated reader is configured');
    reader.swipe(raw);
  }
}
