import type { MetricsDashboardOptions, MetricsModuleOptions } from '../interfaces/metrics-options.interface';
import { describeValue, MetricsOptionsError } from '../option-checks';
import type { DashboardAllow } from './dashboard-access';

export const DEFAULT_DASHBOARD_PATH = '/api-metrics';
/** Bytes of recent records the page can show (4 MB). */
export const DEFAULT_DASHBOARD_RECORD_BYTES = 4 * 1024 * 1024;

/** The dashboard's options with defaults filled in; false when it is off. */
export type ResolvedDashboardOptions = false | { path: string; allow?: DashboardAllow; maxRecordBytes: number };

const KNOWN = new Set(['path', 'allow', 'maxRecordBytes']);
/** Plain URL path characters only: the path is written into the page, and must not need escaping anywhere. */
const PATH = /^(?:\/[A-Za-z0-9._~-]+)+$/;

export function resolveDashboardOptions(options: MetricsModuleOptions): ResolvedDashboardOptions {
  const value: unknown = options.dashboard;
  if (value === undefined || value === false) return false;
  if (value === true) return { path: DEFAULT_DASHBOARD_PATH, maxRecordBytes: DEFAULT_DASHBOARD_RECORD_BYTES };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new MetricsOptionsError(
      `"dashboard" must be true, false or { path?, allow?, maxRecordBytes? }, got ${describeValue(value)}.`,
    );
  }
  const extra = Object.keys(value).find((k) => !KNOWN.has(k));
  if (extra !== undefined) throw new MetricsOptionsError(`"dashboard" has an unknown key "${extra}".`);
  const {
    path = DEFAULT_DASHBOARD_PATH,
    allow,
    maxRecordBytes = DEFAULT_DASHBOARD_RECORD_BYTES,
  } = value as MetricsDashboardOptions;
  if (typeof path !== 'string' || !PATH.test(path)) {
    throw new MetricsOptionsError(
      `"dashboard.path" must be a path like '/api-metrics' (letters, digits, "._~-" between slashes, no trailing ` +
        `slash), got ${describeValue(path)}.`,
    );
  }
  if (allow !== undefined && typeof allow !== 'function') {
    throw new MetricsOptionsError(
      `"dashboard.allow" must be a function (req) => boolean | Promise<boolean>, got ${describeValue(allow)}.`,
    );
  }
  if (!Number.isInteger(maxRecordBytes) || maxRecordBytes < 1024 || maxRecordBytes > 1024 * 1024 * 1024) {
    throw new MetricsOptionsError(
      `"dashboard.maxRecordBytes" must be a whole number of bytes from 1024 to 1 GiB, got ${describeValue(maxRecordBytes)}.`,
    );
  }
  return { path, allow: allow as DashboardAllow | undefined, maxRecordBytes };
}
