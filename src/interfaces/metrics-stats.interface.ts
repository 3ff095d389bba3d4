/**
 * Counters of the delivery pipeline. `captured = sent + failed + dropped + queued + inFlight` at every moment.
 * `dropped` counts records dropped because the queue (`maxQueueSize`, or `maxQueueBytes` counting the queue and the
 * records in flight) was full.
 */
export interface MetricsStats {
  /** Exchanges handed to delivery. */
  captured: number;
  /** Records the transport accepted. */
  sent: number;
  /** Records dropped because the queue was full. */
  dropped: number;
  /** Records given up on after retries, or rejected by the collector (`unconfirmed` included). */
  failed: number;
  /**
   * Of `failed`: records sent in full whose answer never came (past the answer deadline, connection closed, reply not
   * HTTP). The collector may have stored them; they are never resent, so no record arrives twice.
   */
  unconfirmed: number;
  /** Delivery attempts repeated after a retryable failure. */
  retried: number;
  /** Records waiting in the queue. */
  queued: number;
  /** Records in delivery calls now. */
  inFlight: number;
  /** Exchanges not recorded because of `sampleRate` / `@MetricsSample()` (not part of `captured`). */
  sampledOut: number;
  /**
   * Exchanges not recorded because their async group function did not settle within `timeout` ms. They never
   * reached delivery, so they are not part of `captured`.
   */
  groupTimeouts: number;
}
