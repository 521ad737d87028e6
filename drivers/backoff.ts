// Reconnect delays for readers: exponential from `minMs`, capped at `maxMs`, reset on success.
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly minMs = 250,
    private readonly maxMs = 10_000,
  ) {}

  next(): number {
    const delay = Math.min(this.maxMs, this.minMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return delay;
  }

  reset() {
    this.attempt = 0;
  }
}
