import type { TrafficHistogram } from '../interfaces/traffic.interface';

/** The buckets OpenTelemetry's HTTP semantic conventions advise for `http.server.request.duration` (seconds). */
export const DURATION_BOUNDS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
]);

/** Body sizes in bytes (the conventions advise none): one bucket per decade, from empty to 10 MB. */
export const BODY_SIZE_BOUNDS: readonly number[] = Object.freeze([
  0, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000,
]);

/** Slots a histogram takes in a Float64Array: one count per bucket (the last is +Inf), then count, sum, min, max. */
export function histogramSlots(bounds: readonly number[]): number {
  return bounds.length + 5;
}

/**
 * Adds a value to the histogram at `offset` of `data`: a short scan of the bounds and four writes, nothing allocated.
 * A series keeps its three histograms in one Float64Array, so counting an exchange touches one block of memory.
 */
export function addToHistogram(data: Float64Array, offset: number, bounds: readonly number[], value: number): void {
  const n = bounds.length;
  let i = 0;
  while (i < n && value > bounds[i]!) i++;
  data[offset + i]!++;
  const stats = offset + n + 1;
  data[stats]!++;
  data[stats + 1]! += value;
  if (value < data[stats + 2]!) data[stats + 2] = value;
  if (value > data[stats + 3]!) data[stats + 3] = value;
}

/** A histogram of a series, read at export time: a view of its slots in the series' Float64Array. */
export class Histogram {
  private readonly n: number;

  constructor(
    private readonly bounds: readonly number[],
    private readonly data: Float64Array = new Float64Array(histogramSlots(bounds)),
    private readonly offset = 0,
  ) {
    this.n = bounds.length + 1;
    data[offset + this.n + 2] = Infinity;
    data[offset + this.n + 3] = -Infinity;
  }

  add(value: number): void {
    addToHistogram(this.data, this.offset, this.bounds, value);
  }

  get count(): number {
    return this.data[this.offset + this.n]!;
  }

  /** A copy as plain data. */
  toData(): TrafficHistogram {
    const { data, n, offset } = this;
    const count = data[offset + n]!;
    return {
      count,
      sum: data[offset + n + 1]!,
      ...(count > 0 && { min: data[offset + n + 2]!, max: data[offset + n + 3]! }),
      counts: Array.from(data.subarray(offset, offset + n)),
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
