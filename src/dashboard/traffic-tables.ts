import type { TrafficHistogram, TrafficSeries, TrafficSnapshot } from '../interfaces/traffic.interface';

/** One row of the routes or consumers table. */
export interface TrafficRow {
  /** Route rows: the method; consumer rows: undefined. */
  method?: string;
  /** Route rows: the route template (undefined: requests no route matched); consumer rows: the consumer's name. */
  name?: string;
  /** Consumer rows: the masked key id (`other` past `maxConsumers`). */
  id?: string;
  requests: number;
  /** 5xx answers and failures below 500 (GraphQL `errors`). */
  errors: number;
  /** ms, estimated from the duration histogram's buckets (exact min and max bound them). */
  p50?: number;
  p95?: number;
  p99?: number;
  /** Mean request / response body size, bytes, of the exchanges whose size is known. */
  requestBytes?: number;
  responseBytes?: number;
}

export interface TrafficTables {
  routes: TrafficRow[];
  consumers: TrafficRow[];
  /** `2xx` → count; `0` for exchanges no response reached. */
  statusClasses: Record<string, number>;
}

interface Merged {
  row: TrafficRow;
  duration: TrafficHistogram;
  requestBodySize: TrafficHistogram;
  responseBodySize: TrafficHistogram;
}

/** The tables the page shows, from one snapshot of the exact traffic metrics: routes, consumers, status classes. */
export function trafficTables(snapshot: TrafficSnapshot): TrafficTables {
  const routes = new Map<string, Merged>();
  const consumers = new Map<string, Merged>();
  const statusClasses: Record<string, number> = {};
  for (const s of snapshot.series) {
    const cls = s.status === 0 ? '0' : `${Math.floor(s.status / 100)}xx`;
    statusClasses[cls] = (statusClasses[cls] ?? 0) + s.duration.count;
    add(routes, `${s.method} ${s.route ?? ''}`, () => ({ method: s.method, name: s.route }), s);
    if (s.consumer) add(consumers, s.consumer.id, () => ({ name: s.consumer!.name, id: s.consumer!.id }), s);
  }
  const bounds = snapshot.bounds.duration;
  const finish = (m: Merged): TrafficRow => ({
    ...m.row,
    p50: quantileMs(m.duration, bounds, 0.5),
    p95: quantileMs(m.duration, bounds, 0.95),
    p99: quantileMs(m.duration, bounds, 0.99),
    requestBytes: mean(m.requestBodySize),
    responseBytes: mean(m.responseBodySize),
  });
  const byCount = (a: TrafficRow, b: TrafficRow) => b.requests - a.requests;
  return {
    routes: [...routes.values()].map(finish).sort(byCount),
    consumers: [...consumers.values()].map(finish).sort(byCount),
    statusClasses,
  };
}

function add(
  into: Map<string, Merged>,
  key: string,
  row: () => Omit<TrafficRow, 'requests' | 'errors'>,
  s: TrafficSeries,
) {
  let m = into.get(key);
  if (!m) {
    m = {
      row: { ...row(), requests: 0, errors: 0 },
      duration: empty(s.duration),
      requestBodySize: empty(s.requestBodySize),
      responseBodySize: empty(s.responseBodySize),
    };
    into.set(key, m);
  }
  m.row.requests += s.duration.count;
  if (s.status >= 500 || s.errorType !== undefined) m.row.errors += s.duration.count;
  merge(m.duration, s.duration);
  merge(m.requestBodySize, s.requestBodySize);
  merge(m.responseBodySize, s.responseBodySize);
}

function empty(like: TrafficHistogram): TrafficHistogram {
  return { count: 0, sum: 0, counts: like.counts.map(() => 0) };
}

function merge(into: TrafficHistogram, h: TrafficHistogram): void {
  if (h.count === 0) return;
  into.count += h.count;
  into.sum += h.sum;
  into.min = into.min === undefined ? h.min : Math.min(into.min, h.min ?? into.min);
  into.max = into.max === undefined ? h.max : Math.max(into.max, h.max ?? into.max);
  for (let i = 0; i < h.counts.length; i++) into.counts[i]! += h.counts[i] ?? 0;
}

function mean(h: TrafficHistogram): number | undefined {
  return h.count ? Math.round(h.sum / h.count) : undefined;
}

/**
 * The q-quantile of a duration histogram, ms: linear within its bucket, the bucket's edges narrowed to the exact min
 * and max. An estimate as good as the buckets (OpenTelemetry's advised ones: 5, 10, 25, 50, 75, 100 ms, …).
 */
export function quantileMs(h: TrafficHistogram, bounds: readonly number[], q: number): number | undefined {
  if (!h.count || h.min === undefined || h.max === undefined) return undefined;
  const rank = q * h.count;
  let seen = 0;
  for (let i = 0; i < h.counts.length; i++) {
    const c = h.counts[i]!;
    if (c === 0 || seen + c < rank) {
      seen += c;
      continue;
    }
    const low = Math.max(i === 0 ? h.min : bounds[i - 1]!, h.min);
    const high = Math.min(i < bounds.length ? bounds[i]! : h.max, h.max);
    const value = low + (high - low) * Math.min(1, Math.max(0, (rank - seen) / c));
    return Math.round(value * 1e4) / 10; // ms with one decimal
  }
  return Math.round(h.max * 1e4) / 10;
}
