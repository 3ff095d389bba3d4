/**
 * What a transport throws when a batch was not accepted. `status` is the collector's HTTP status (none for network
 * errors and timeouts); it decides between retrying, splitting, dropping and pausing.
 */
export class MetricsDeliveryError extends Error {
  /**
   * The whole batch was sent but no answer came (the answer deadline passed, the connection closed, the reply was
   * not HTTP): the collector may have stored it. The dispatcher never resends such a batch, so a record cannot
   * arrive twice; it is counted as `failed` and `unconfirmed`.
   */
  readonly mayHaveArrived: boolean;

  constructor(
    message: string,
    readonly status?: number,
    /** From a `Retry-After` header, in ms. */
    readonly retryAfterMs?: number,
    options: { mayHaveArrived?: boolean } = {},
  ) {
    super(message);
    this.name = 'MetricsDeliveryError';
    this.mayHaveArrived = options.mayHaveArrived === true && status === undefined;
  }
}

/**
 * retry: the collector did not take the batch (408, 429, 5xx, or it never had all of it); split: it found the batch
 * too large or malformed; reject-key: 401/403; unconfirmed: sent in full, never answered; drop: any other status.
 */
export type DeliveryVerdict = 'retry' | 'split' | 'reject-key' | 'unconfirmed' | 'drop';

export function verdictOf(error: unknown): DeliveryVerdict {
  const status = error instanceof MetricsDeliveryError ? error.status : undefined;
  if (error instanceof MetricsDeliveryError && error.mayHaveArrived) return 'unconfirmed';
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
