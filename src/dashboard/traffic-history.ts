import type { TrafficSnapshot } from '../interfaces/traffic.interface';

/** The totals of the traffic metrics at one moment. */
export interface HistoryPoint {
  /** ms since the epoch. */
  t: number;
  requests: number;
  /** 5xx answers and failures below 500 (`errorType`, e.g. GraphQL `errors`). */
  errors: number;
  /** Sum of the durations, seconds. */
  seconds: number;
}

/** At most one point per this many ms (the chart's resolution). */
export const HISTORY_STEP_MS = 60_000;
/** Points kept: 24 hours at one a minute (~40 bytes each, ~60 KB in all). */
export const HISTORY_POINTS = 24 * 60;

/** Totals of a snapshot: every series summed. Exact, as the traffic metrics are. */
export function totalsOf(snapshot: TrafficSnapshot): HistoryPoint {
  let requests = 0;
  let errors = 0;
  let seconds = 0;
  for (const s of snapshot.series) {
    requests += s.duration.count;
    seconds += s.duration.sum;
    if (s.status >= 500 || s.errorType !== undefined) errors += s.duration.count;
  }
  return { t: snapshot.time, requests, errors, seconds };
}

/**
 * Traffic over time, from the exact traffic metrics: their totals, sampled when the page asks (nothing runs while no
 * page is open, and nothing per request). Consecutive points give the traffic between them; the first is the start
 * of counting, at zero. While the page is closed no point is taken: the next one spans the gap, and the chart shows
 * its average. Within one step the last point is replaced, so memory is bounded by HISTORY_POINTS.
 */
export class TrafficHistory {
  private readonly points: HistoryPoint[] = [];

  /** Adds the totals of `snapshot` and returns the points, oldest first. */
  sample(snapshot: TrafficSnapshot): readonly HistoryPoint[] {
    const point = totalsOf(snapshot);
    if (this.points.length === 0) this.points.push({ t: snapshot.startTime, requests: 0, errors: 0, seconds: 0 });
    const last = this.points[this.points.length - 1]!;
    const prev = this.points[this.points.length - 2];
    // Replace the last point while it is within the step of the one before it (the start point stays).
    if (this.points.length > 1 && prev && last.t - prev.t < HISTORY_STEP_MS)
      this.points[this.points.length - 1] = point;
    else if (point.t > last.t || this.points.length === 1) this.points.push(point);
    if (this.points.length > HISTORY_POINTS) this.points.splice(0, this.points.length - HISTORY_POINTS);
    return this.points;
  }
}
