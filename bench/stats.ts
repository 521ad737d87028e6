// Shared figures for the benchmarks: percentiles and the `<figure>: <value> <unit>` line format.
export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

export function figure(name: string, value: number, unit: string, digits = 3) {
  console.log(`${name}: ${Number(value.toFixed(digits))} ${unit}`);
}

/** Times `fn` `n` times after `warmup` runs; returns milliseconds per call. */
export function timeEach(n: number, fn: (i: number) => void, warmup = Math.min(1000, n)): number[] {
  for (let i = 0; i < warmup; i++) fn(i);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    fn(i);
    out[i] = Number(process.hrtime.bigint() - t0) / 1e6;
  }
  return out;
}

/**
 * The machine's own stalls: spins `ms` reading the clock and keeps every gap longer than 5 µs (the
 * guest stopped by its host, an interrupt). A timed call that meets a stall is slower by it, so a
 * p99 of a few tens of µs is worth reading beside these.
 */
export function machineStalls(ms = 500): { perMs: number; medianMs: number; share: number } {
  const gaps: number[] = [];
  let last = performance.now();
  const end = last + ms;
  while (last < end) {
    const t = performance.now();
    if (t - last > 0.005) gaps.push(t - last);
    last = t;
  }
  return { perMs: gaps.length / ms, medianMs: percentile(gaps, 50), share: gaps.reduce((s, g) => s + g, 0) / ms };
}

/** Benchmarks run from the project root (npm scripts), bundled or not. */
export function resourceFile(name: string): string {
  return `${process.cwd()}/resources/${name}`;
}
