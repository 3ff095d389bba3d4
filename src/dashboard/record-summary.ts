import type { HarEntry } from '../interfaces/har.interface';
import type { MetricsRecord } from '../interfaces/metrics-record.interface';

/** What the list of recent exchanges shows of a record, and filters on: all of it read from the record itself. */
export interface RecordSummary {
  id: string;
  startedDateTime: string;
  method: string;
  url: string;
  /** The route as the record names it (its `pageref` without the origin): `/orders/:id`, `/graphql#query GetOrder`. */
  route: string;
  status: number;
  /** ms, as the record says. */
  time: number;
  /** The group's label, else its email, else its masked key id; undefined without a group. */
  consumer?: string;
  /** The masked key id (`sha512-…?abcd`), never the raw key. */
  consumerId?: string;
  errors: number;
  outgoing: number;
}

const ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i;

/** Reads a record's summary; undefined when the bytes are not a ReadMe record with an entry. */
export function summarizeRecord(bytes: Buffer): RecordSummary | undefined {
  let record: MetricsRecord;
  try {
    record = JSON.parse(bytes.toString('utf8')) as MetricsRecord;
  } catch {
    return undefined;
  }
  const entries: HarEntry[] | undefined = record?.request?.log?.entries;
  const entry = entries?.[0];
  if (!entry?.request || !entry.response) return undefined;
  const group = record.group;
  const consumerId = typeof group?.id === 'string' && group.id !== '' ? group.id : undefined;
  const errors = Array.isArray(entry._errors) ? entry._errors.length : 0;
  return {
    id: String(record._id ?? ''),
    startedDateTime: String(entry.startedDateTime ?? ''),
    method: String(entry.request.method ?? ''),
    url: String(entry.request.url ?? ''),
    route: routeOf(entry),
    status: Number(entry.response.status) || 0,
    time: Number(entry.time) || 0,
    consumer: group?.label || group?.email || consumerId,
    consumerId,
    errors,
    outgoing: entries!.length - 1,
  };
}

function routeOf(entry: HarEntry): string {
  const named = typeof entry.pageref === 'string' ? entry.pageref : String(entry.request.url ?? '');
  const path = named.replace(ORIGIN, '');
  // Requests no route matched name their URL: the path, without the query.
  return path === named || !entry.pageref ? path.replace(/\?.*$/, '') : path || '/';
}

/** The list's filters, as the page sends them (each optional; all must match). */
export interface RecordFilter {
  /** `GET /orders/:id`, or a route alone (any method). */
  route?: string;
  /** `5xx` (a class), or an exact status. */
  status?: string;
  /** The consumer as the list names it, or its masked key id. */
  consumer?: string;
}

/** A predicate over summaries for `filter`; compiled once per page request. */
export function matcher(filter: RecordFilter): (s: RecordSummary) => boolean {
  const tests: ((s: RecordSummary) => boolean)[] = [];
  if (filter.route) {
    const space = filter.route.indexOf(' ');
    const method = space > 0 && /^[A-Z_]+$/.test(filter.route.slice(0, space)) ? filter.route.slice(0, space) : '';
    const route = method ? filter.route.slice(space + 1) : filter.route;
    // A GraphQL series is named by its operation; its records by `path#operation`.
    tests.push((s) => (s.route === route || s.route.endsWith(`#${route}`)) && (!method || s.method === method));
  }
  if (filter.status) {
    const cls = /^([1-5])xx$/i.exec(filter.status);
    if (cls) {
      const hundreds = Number(cls[1]);
      tests.push((s) => Math.floor(s.status / 100) === hundreds);
    } else {
      const status = Number(filter.status);
      tests.push((s) => s.status === status);
    }
  }
  if (filter.consumer) {
    const c = filter.consumer;
    tests.push((s) => s.consumer === c || s.consumerId === c);
  }
  return (s) => tests.every((t) => t(s));
}
