// The simulated reader: demos and tests "swipe" raw reader text through the same parser and the
// same events as a real reader.
import { identifyCard } from './parse';
import type { Reader, ReaderSink, ReaderState } from './types';

export class SimulatedReader implements Reader {
  readonly kind = 'simulated' as const;
  private current: ReaderState;

  constructor(
    readonly id: string,
    private readonly sink: ReaderSink,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.current = { readerId: id, kind: 'simulated', status: 'disconnected', since: clock().toISOString() };
  }

  async start() {
    this.setState('connected');
  }

  async stop() {
    this.setState('disconnected');
  }

  state(): ReaderState {
    return this.current;
  }

  /** Raw reader output, exactly as a reader would deliver it. */
  swipe(raw: string) {
    const read = identifyCard(raw);
    if (!read.ok) {
      this.sink.error({ readerId: this.id, code: read.error.code, message: read.error.message, messageRu: read.error.messageRu });
      return;
    }
    const v = read.value;
    this.sink.card({
      readerId: this.id,
      source: 'simulated',
      kind: v.kind,
      cardNumber: v.cardNumber,
      ...(v.tracks ? { tracks: v.tracks } : {}),
      ...(v.chipUid ? { chip: { uid: v.chipUid } } : {}),
      rawLength: v.rawLength,
    });
  }

  private setState(status: ReaderState['status'], reason?: string) {
    this.current = { readerId: this.id, kind: 'simulated', status, since: this.clock().toISOString(), ...(reason ? { reason } : {}) };
    this.sink.state(this.current);
  }
}
