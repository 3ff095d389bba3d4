import type { OnceLogger } from '../core-logger';
import { MetricsDeliveryError, verdictOf } from './delivery-error';
import { sleep } from './durations';

const MAX_ATTEMPTS = 4;
const BASE_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 10_000;

/** What the attempts need of the pipeline that owns them. */
export interface AttemptsHost {
  /** The pipeline's counters: this piece adds what it sent, gave up, left unconfirmed and retried. */
  readonly counters: { sent: number; failed: number; unconfirmed: number; retried: number };
  readonly logger: OnceLogger;
  debug(message: string): void;
  /** Whether a failed call may be retried now (not while the key is rejected, unless this is the probe). */
  mayRetry(): boolean;
  /** Counts records given up without a call. */
  giveUp(records: unknown[], reason: string): void;
}

/**
 * The calls of one batch: each failure's verdict (delivery-error.ts) decides. `retry`: up to MAX_ATTEMPTS with
 * jittered exponential backoff (or the collector's Retry-After); `split` (400/413): the halves one after the other,
 * down to single records, a part the collector accepted never sent again; `reject-key`: the status goes back to the
 * caller, which pauses delivery; `unconfirmed` (sent in full, never answered, when the sender's policy gives such a
 * batch up): counted and never resent; anything else: given up.
 */
export class BatchAttempts<T> {
  constructor(
    private readonly send: (batch: T[]) => Promise<void>,
    private readonly host: AttemptsHost,
  ) {}

  /** Resolves with the status when the collector rejected the key. `tally` counts what this batch gave up. */
  async run(records: T[], tally: { failed: number }): Promise<number | undefined> {
    const { counters, logger } = this.host;
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      try {
        await this.send(records);
        counters.sent += records.length;
        this.host.debug(`delivered ${records.length} records in ${(performance.now() - started).toFixed(1)} ms`);
        return undefined;
      } catch (error) {
        const verdict = verdictOf(error);
        this.host.debug(`delivery of ${records.length} records failed (${(error as Error)?.message}), ${verdict}`);
        if (verdict === 'retry' && attempt < MAX_ATTEMPTS && this.host.mayRetry()) {
          counters.retried++;
          await sleep(backoff(attempt, error));
          continue;
        }
        if (verdict === 'split' && records.length > 1) {
          const half = Math.ceil(records.length / 2);
          const rejected = await this.run(records.slice(0, half), tally);
          if (rejected === undefined) return this.run(records.slice(half), tally);
          tally.failed += records.length - half;
          this.host.giveUp(records.slice(half), `the collector rejected the API key (HTTP ${rejected})`);
          return rejected;
        }
        counters.failed += records.length;
        tally.failed += records.length;
        if (verdict === 'reject-key') return (error as MetricsDeliveryError).status ?? 401;
        if (verdict === 'unconfirmed') {
          counters.unconfirmed += records.length;
          logger.errorOnce(
            'give-up-unconfirmed',
            `${records.length} records were sent but the collector did not answer; they are not resent, as it may ` +
              'have stored them (counted as failed and unconfirmed; later cases are only counted)',
            error,
          );
        } else {
          logger.errorOnce(`give-up-${verdict}`, `Records were dropped after ${attempt} attempt(s)`, error);
        }
        return undefined;
      }
    }
  }
}

/** The wait before attempt `attempt + 1`: Retry-After when the collector sent one, else jittered exponential. */
function backoff(attempt: number, error: unknown): number {
  const retryAfter = error instanceof MetricsDeliveryError ? error.retryAfterMs : undefined;
  if (retryAfter !== undefined) return Math.min(retryAfter, MAX_BACKOFF_MS * 3);
  const exp = Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** (attempt - 1));
  return exp / 2 + Math.random() * (exp / 2); // jitter, so many instances do not retry in step
}
