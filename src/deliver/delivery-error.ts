/**
 * What a transport throws when a batch was not accepted. `status` is the collector's HTTP status (none for network
 * errors and timeouts); it decides between retrying, splitting, dropping and pausing.
 */
export class MetricsDeliveryError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    /** From a `Retry-After` header, in ms. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'MetricsDeliveryError';
  }
}

export type DeliveryVerdict = 'retry' | 'split' | 'reject-key' | 'drop';

export function verdictOf(error: unknown): DeliveryVerdict {
  const status = error instanceof MetricsDeliveryError ? error.status : undefined;
  if (status === undefined || status === 408 || status === 429 || status >= 500) return 'retry';
  if (status === 401 || status === 403) return 'reject-key';
  if (status === 400 || status === 413) return 'split';
  return 'drop';
}

/** Parses a Retry-After header (seconds or an HTTP date) into ms. */
export function parseRetryAfter(value: unknown, now = Date.now()): number | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
