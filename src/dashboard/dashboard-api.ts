import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MetricsStats } from '../interfaces/metrics-stats.interface';
import type { TrafficSnapshot } from '../interfaces/traffic.interface';
import type { DeliveryLog } from './delivery-log';
import { matcher, summarizeRecord, type RecordSummary } from './record-summary';
import type { RecentRecords } from './recent-records';
import { TrafficHistory } from './traffic-history';
import { trafficTables } from './traffic-tables';

/** What the dashboard reads: plain functions and objects, no framework. */
export interface DashboardSources {
  /** The path the page is served at (`/api-metrics`): its own URLs are under it. */
  path: string;
  traffic(): TrafficSnapshot;
  trafficEnabled: boolean;
  stats(): MetricsStats;
  records: RecentRecords<RecordSummary>;
  deliveryLog: DeliveryLog;
  /** What the page says about where its exchanges come from (e.g. none with offload), or undefined. */
  recordsNote?: string;
}

/** An answer of the dashboard, for the shell to write as it is. */
export interface DashboardAnswer {
  status: number;
  type: string;
  body: Buffer | string;
}

/** The page's assets, shipped in the package (`assets/dashboard/`), read once. */
const ASSETS_DIR = join(__dirname, '..', '..', '..', 'assets', 'dashboard');
const LIST_DEFAULT = 100;
const LIST_MAX = 500;

/**
 * The dashboard's own URLs under `path`: the page, its script and style, and the JSON it reads. Everything is computed
 * when the page asks: nothing runs per request of the app, nothing while no page is open. Read-only: GET and HEAD.
 */
export class DashboardApi {
  private readonly history = new TrafficHistory();
  private readonly assets: Record<string, DashboardAnswer>;

  constructor(private readonly sources: DashboardSources) {
    const read = (name: string) => readFileSync(join(ASSETS_DIR, name), 'utf8');
    // The page names its script and style by absolute URL: `path` is validated to plain URL characters.
    const html = read('index.html').replaceAll('{{path}}', sources.path);
    this.assets = {
      '': { status: 200, type: 'text/html; charset=utf-8', body: html },
      '/app.js': { status: 200, type: 'text/javascript; charset=utf-8', body: read('app.js') },
      '/app.css': { status: 200, type: 'text/css; charset=utf-8', body: read('app.css') },
      '/favicon.svg': { status: 200, type: 'image/svg+xml', body: read('favicon.svg') },
    };
  }

  /** The answer for `url` (path and query, as requested); undefined when it is none of the dashboard's URLs. */
  async answer(url: string): Promise<DashboardAnswer | undefined> {
    const q = url.indexOf('?');
    const pathname = q === -1 ? url : url.slice(0, q);
    if (!pathname.startsWith(this.sources.path)) return undefined;
    let rest = pathname.slice(this.sources.path.length);
    if (rest === '/') rest = '';
    const asset = this.assets[rest];
    if (asset) return asset;
    const query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
    if (rest === '/api/overview') return json(this.overview());
    if (rest === '/api/exchanges') return json(await this.exchanges(query));
    const one = /^\/api\/exchanges\/(\d{1,15})$/.exec(rest);
    if (one) {
      const bytes = this.sources.records.get(Number(one[1]));
      return bytes && { status: 200, type: 'application/json; charset=utf-8', body: bytes };
    }
    return undefined;
  }

  /** Traffic tables, the chart's points, delivery health, what the ring holds. */
  overview(): unknown {
    const snapshot = this.sources.traffic();
    const points = this.history.sample(snapshot);
    const { records } = this.sources;
    return {
      now: snapshot.time,
      startTime: snapshot.startTime,
      trafficEnabled: this.sources.trafficEnabled,
      ...trafficTables(snapshot),
      history: points.map((p) => [p.t, p.requests, p.errors, p.seconds]),
      delivery: { ...this.sources.stats(), lastProblem: this.sources.deliveryLog.last },
      recent: {
        kept: records.length,
        bytes: records.bytes,
        capacity: records.capacity,
        evicted: records.evicted,
        tooLarge: records.tooLarge,
        note: this.sources.recordsNote,
      },
    };
  }

  /** The recent exchanges that match the filters, newest first: summaries, parsed once per record. */
  async exchanges(query: URLSearchParams): Promise<unknown> {
    const limit = Math.min(LIST_MAX, Math.max(1, Number(query.get('limit')) || LIST_DEFAULT));
    const match = matcher({
      route: query.get('route') ?? undefined,
      status: query.get('status') ?? undefined,
      consumer: query.get('consumer') ?? undefined,
    });
    const items: (RecordSummary & { seq: number })[] = [];
    let matched = 0;
    await this.sources.records.summarizeAll(summarizeRecord);
    for (const { seq, summary } of this.sources.records.newestFirst()) {
      if (!match(summary)) continue;
      matched++;
      if (items.length < limit) items.push({ seq, ...summary });
    }
    return { matched, items };
  }
}

function json(value: unknown): DashboardAnswer {
  return { status: 200, type: 'application/json; charset=utf-8', body: JSON.stringify(value) };
}

/**
 * Headers of every answer: a strict policy (scripts and styles from this origin only, no inline script, no other
 * origin to connect to, never framed), no sniffing, no caching of recorded data, no referrer.
 */
export const DASHBOARD_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-resource-policy': 'same-origin',
});
