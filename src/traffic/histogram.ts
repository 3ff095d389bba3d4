import type { TrafficHistogram } from '../interfaces/traffic.interface';

/** The buckets OpenTelemetry's HTTP semantic conventions advise for `http.server.request.duration` (seconds). */
export const DURATION_BOUNDS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
]);

/** Body sizes in bytes (the conventions advise none): one bucket per decade, from empty to 10 MB. */
export const BODY_SIZE_BOUNDS: readonly number[] = Object.freeze([
  0, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000,
]);

/**
 * An explicit-bucket histogram held in one Float64Array: the bucket counts, then count, sum, min, max. Adding a value
 * is a short scan of the bounds and four writes; nothing is allocated.
 */
export class Histogram {
  private readonly data: Float64Array;
  private readonly n: number;

  constructor(private readonly bounds: readonly number[]) {
    this.n = bounds.length + 1;
    this.data = new Float64Array(this.n + 4);
    this.data[this.n + 2] = Infinity;
    this.data[this.n + 3] = -Infinity;
  }

  add(value: number): void {
    const { bounds, data, n } = this;
    let i = 0;
    while (i < n - 1 && value > bounds[i]!) i++;
    data[i]!++;
    data[n]!++;
    data[n + 1]! += value;
    if (value < data[n + 2]!) data[n + 2] = value;
    if (value > data[n + 3]!) data[n + 3] = value;
  }

  get count(): number {
    return this.data[this.n]!;
  }

  /** A copy as plain data. */
  toData(): TrafficHistogram {
    const { data, n } = this;
    const count = data[n]!;
    return {
      count,
      sum: data[n + 1]!,
      ...(count > 0 && { min: data[n + 2]!, max: data[n + 3]! }),
      counts: Array.from(data.subarray(0, n)),
    };
  }
}

/** `now − before` of two copies of one cumulative histogram (delta temporality): min and max cannot be subtracted. */
export function histogramDelta(now: TrafficHistogram, before: TrafficHistogram | undefined): TrafficHistogram {
  if (!before) return now;
  return {
    count: now.count - before.count,
    sum: now.sum - before.sum,
    counts: now.counts.map((c, i) => c - (before.counts[i] ?? 0)),
  };
}
