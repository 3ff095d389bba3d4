import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { AsyncResource } from 'node:async_hooks';
import type { CapturedBody, CapturedExchange } from '../interfaces/captured-exchange.interface';
import { RecordFormatter } from '../format/record-formatter';
import type { MetricsRecord } from '../interfaces/metrics-record.interface';
import type { MetricsTransport } from '../interfaces/metrics-transport.interface';
import { METRICS_RESOLVED_OPTIONS, METRICS_TRANSPORT } from '../metrics.constants';
import { MetricsLogger } from '../metrics.logger';
import type { ResolvedMetricsOptions } from '../metrics.options';
import { verdictOf, MetricsDeliveryError } from './delivery-error';

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
  /** Records given up on after retries, or rejected by the collector. */
  failed: number;
  /** Delivery attempts repeated after a retryable failure. */
  retried: number;
  /** Records waiting in the queue. */
  queued: number;
  /** Records in delivery calls now. */
  inFlight: number;
  /**
   * Exchanges not recorded because their async group function did not settle within `timeout` ms. They never
   * reached delivery, so they are not part of `captured`.
   */
  groupTimeouts: number;
}

const MAX_ATTEMPTS = 4;
/** Under load more than bufferLength records wait; up to this many go in one call (fewer calls, less overhead). */
const MAX_BATCH = 100;
/**
 * A call costs ~250 us of CPU whatever its size (measured: 10-record batches ~40 us a record, 100-record ~15):
 * under load, calls start at most this often unless a full batch waits, so a busy server sends fewer, bigger ones.
 * At low traffic every batch still goes as soon as bufferLength records are queued.
 */
const MIN_CALL_GAP_MS = 50;
/** Formatting yields to the event loop after this long, so a big batch never holds up requests for long. */
const FORMAT_SLICE_MS = 1;
const BASE_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 10_000;
const DROP_WARNING_INTERVAL_MS = 60_000;

/**
 * Batches captured exchanges and delivers them in the background: bounded queue (oldest dropped first), bounded
 * concurrency, retries with backoff. Nothing here ever throws into the app.
 */
@Injectable()
export class Dispatcher implements OnApplicationShutdown {
  private readonly logger = new MetricsLogger();
  private queue: CapturedExchange[] = [];
  /** Bytes each queued record holds (its strings), parallel to `queue`, and their sum; and those of records in flight. */
  private queueSizes: number[] = [];
  private queueBytes = 0;
  private inFlightBytes = 0;
  private groupTimeouts = 0;
  private timer?: NodeJS.Timeout;
  /** Wakes the pump once MIN_CALL_GAP_MS has passed since the last call started. */
  private gapTimer?: NodeJS.Timeout;
  private lastCallAt = -Infinity;
  private inFlightRecords = 0;
  private inFlightCalls = 0;
  private paused = false;
  private lastDropWarning = 0;
  private droppedSinceWarning = 0;
  private readonly counters = { captured: 0, sent: 0, dropped: 0, failed: 0, retried: 0 };
  private waiters: { target: number; resolve: () => void }[] = [];
  /**
   * The async context the module started in. Timers and delivery calls are started in it, not in the context of
   * the request that happened to fill a batch: a call that hangs must not keep that request (its parsed body, its
   * response) alive through the request's AsyncLocalStorage stores.
   */
  private readonly scope = new AsyncResource('nestjs-api-metrics.dispatcher');

  constructor(
    @Inject(METRICS_RESOLVED_OPTIONS) private readonly options: ResolvedMetricsOptions,
    @Inject(METRICS_TRANSPORT) private readonly transport: MetricsTransport,
    private readonly formatter: RecordFormatter,
  ) {}

  stats(): MetricsStats {
    return {
      ...this.counters,
      queued: this.queue.length,
      inFlight: this.inFlightRecords,
      groupTimeouts: this.groupTimeouts,
    };
  }

  /** An exchange was not recorded: its group function did not settle within `timeout`. */
  countGroupTimeout(): void {
    this.groupTimeouts++;
  }

  enqueue(exchange: CapturedExchange): void {
    this.counters.captured++;
    if (this.paused) {
      // The collector rejected our key: holding records could only end in dropping them later.
      this.counters.failed++;
      this.resolveWaiters();
      return;
    }
    const size = heldBytes(exchange);
    const { maxQueueSize, maxQueueBytes } = this.options;
    while (
      this.queue.length > 0 &&
      (this.queue.length >= maxQueueSize || this.queueBytes + this.inFlightBytes + size > maxQueueBytes)
    ) {
      this.take(1);
      this.counters.dropped++;
      this.warnDropped();
    }
    // Records in flight alone fill the bound: the new one cannot be held either.
    if (this.inFlightBytes + size > maxQueueBytes && this.inFlightBytes > 0) {
      this.counters.dropped++;
      this.warnDropped();
      this.resolveWaiters();
      return;
    }
    this.queue.push(exchange);
    this.queueSizes.push(size);
    this.queueBytes += size;
    if (this.queue.length >= this.options.bufferLength) this.scope.runInAsyncScope(this.pump, this, false);
    else if (!this.timer) this.scope.runInAsyncScope(this.armTimer, this);
  }

  /** backgroundWorkerMode false: deliver one exchange now, bypassing the queue. Resolves when sent or given up on. */
  async deliverNow(exchange: CapturedExchange): Promise<void> {
    this.counters.captured++;
    await this.deliver([exchange], 2 * heldBytes(exchange));
  }

  /** Resolves when everything captured so far was delivered or given up on. Never rejects. */
  flush(): Promise<void> {
    const target = this.counters.captured;
    if (this.settledCount() >= target) return Promise.resolve();
    this.clearTimer();
    const done = new Promise<void>((resolve) => this.waiters.push({ target, resolve }));
    this.scope.runInAsyncScope(this.pump, this, true);
    return done;
  }

  async onApplicationShutdown(): Promise<void> {
    let timeout: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<boolean>((resolve) => {
      // Deliberately not unref'd: it keeps the process alive just long enough (bounded) for the last records.
      timeout = setTimeout(() => resolve(true), this.options.shutdownTimeout);
    });
    const timedOut = await Promise.race([this.flush().then(() => false), gaveUp]);
    clearTimeout(timeout);
    this.clearTimer();
    if (timedOut) {
      this.logger.warn(
        `Shutdown: ${this.queue.length + this.inFlightRecords} records not delivered within ${this.options.shutdownTimeout} ms`,
      );
    }
    try {
      await this.transport.close?.();
    } catch (error) {
      this.logger.errorOnce('transport-close', 'The transport failed to close', error);
    }
  }

  private settledCount(): number {
    const { sent, dropped, failed } = this.counters;
    return sent + dropped + failed;
  }

  private armTimer(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump(true);
    }, this.options.flushInterval);
    this.timer.unref(); // our timer never keeps the process alive
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.gapTimer) clearTimeout(this.gapTimer);
    this.gapTimer = undefined;
  }

  private armGapTimer(wait: number): void {
    if (this.gapTimer) return;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = undefined;
      this.pump(this.waiters.length > 0);
    }, Math.ceil(wait));
    this.gapTimer.unref();
  }

  /** Starts delivery calls while there is room; `all` also sends a partial batch. */
  private pump(all: boolean): void {
    const { bufferLength, maxConcurrentRequests } = this.options;
    while (!this.paused && this.inFlightCalls < maxConcurrentRequests && this.queue.length > 0) {
      if (!all && this.queue.length < bufferLength) break;
      const now = performance.now();
      const wait = this.lastCallAt + MIN_CALL_GAP_MS - now;
      if (!all && wait > 0 && this.queue.length < MAX_BATCH) {
        this.armGapTimer(wait);
        break;
      }
      this.lastCallAt = now;
      const size = Math.max(bufferLength, Math.min(this.queue.length, MAX_BATCH));
      // In flight, a record is held twice: as captured and as formatted (then serialized) for the call.
      const bytes = 2 * this.queueSizes.slice(0, size).reduce((sum, b) => sum + b, 0);
      void this.deliver(this.take(size), bytes).then(() => this.pump(this.waiters.length > 0));
    }
    if (this.queue.length > 0 && !this.paused) this.armTimer();
    if (this.paused && this.waiters.length) this.failQueued('delivery is paused');
  }

  /** `bytes`: what the batch holds; counted against `maxQueueBytes` until the call is over. */
  private async deliver(batch: CapturedExchange[], bytes: number): Promise<void> {
    this.inFlightCalls++;
    this.inFlightRecords += batch.length;
    this.inFlightBytes += bytes;
    try {
      const records: MetricsRecord[] = [];
      let sliceStart = performance.now();
      for (const exchange of batch) {
        if (performance.now() - sliceStart >= FORMAT_SLICE_MS) {
          await nextTurn();
          sliceStart = performance.now();
        }
        try {
          records.push(this.formatter.format(exchange));
        } catch (error) {
          this.counters.failed++;
          this.logger.errorOnce('format', 'Could not format a record; it was dropped', error);
        }
      }
      if (records.length) await this.send(records);
    } catch (error) {
      // A bug of ours must not become an unhandled rejection in the host.
      this.logger.errorOnce('deliver', 'Delivery failed', error);
    } finally {
      this.inFlightCalls--;
      this.inFlightRecords -= batch.length;
      this.inFlightBytes -= bytes;
      this.resolveWaiters();
    }
  }

  /** Sends one batch with retries; splits it when the collector finds it too large or malformed. */
  private async send(records: MetricsRecord[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      try {
        await this.transport.send(records);
        this.counters.sent += records.length;
        this.debug(`delivered ${records.length} records in ${(performance.now() - started).toFixed(1)} ms`);
        return;
      } catch (error) {
        const verdict = verdictOf(error);
        this.debug(`delivery of ${records.length} records failed (${(error as Error)?.message}), ${verdict}`);
        if (verdict === 'retry' && attempt < MAX_ATTEMPTS && !this.paused) {
          this.counters.retried++;
          await sleep(this.backoff(attempt, error));
          continue;
        }
        if (verdict === 'split' && records.length > 1) {
          const half = Math.ceil(records.length / 2);
          await this.send(records.slice(0, half));
          await this.send(records.slice(half));
          return;
        }
        if (verdict === 'reject-key') {
          this.paused = true;
          this.logger.error(
            'ReadMe rejected the API key (HTTP ' +
              (error as MetricsDeliveryError).status +
              '): ' +
              'check the apiKey option. Delivery is paused; the app keeps running.',
          );
        } else {
          this.logger.errorOnce(`give-up-${verdict}`, `Records were dropped after ${attempt} attempt(s)`, error);
        }
        this.counters.failed += records.length;
        return;
      }
    }
  }

  private backoff(attempt: number, error: unknown): number {
    const retryAfter = error instanceof MetricsDeliveryError ? error.retryAfterMs : undefined;
    if (retryAfter !== undefined) return Math.min(retryAfter, MAX_BACKOFF_MS * 3);
    const exp = Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** (attempt - 1));
    return exp / 2 + Math.random() * (exp / 2); // jitter, so many instances do not retry in step
  }

  private failQueued(reason: string): void {
    this.counters.failed += this.queue.length;
    this.debug(`${this.queue.length} queued records given up: ${reason}`);
    this.take(this.queue.length);
    this.resolveWaiters();
  }

  /** Removes the `count` oldest records from the queue. */
  private take(count: number): CapturedExchange[] {
    for (const size of this.queueSizes.splice(0, count)) this.queueBytes -= size;
    return this.queue.splice(0, count);
  }

  private resolveWaiters(): void {
    const settled = this.settledCount();
    this.waiters = this.waiters.filter((w) => {
      if (settled < w.target) return true;
      w.resolve();
      return false;
    });
  }

  private warnDropped(): void {
    this.droppedSinceWarning++;
    const now = Date.now();
    if (now - this.lastDropWarning < DROP_WARNING_INTERVAL_MS) return;
    this.logger.warn(
      `Metrics queue full (maxQueueSize ${this.options.maxQueueSize}): dropped ${this.droppedSinceWarning} oldest records`,
    );
    this.lastDropWarning = now;
    this.droppedSinceWarning = 0;
  }

  private debug(message: string): void {
    if (this.options.debug) this.logger.debug(message);
  }
}

/**
 * What a record holds in memory: bodies were cut to `maxBodyBytes` at capture and every field is a string, so this
 * is their length (2 bytes a character: V8 keeps non-Latin-1 strings as UTF-16) plus a fixed overhead for the
 * objects and the strings Node shares with the request (headers). While in flight, a record also has its formatted
 * form, counted by the same figure again.
 */
function heldBytes(x: CapturedExchange): number {
  let bytes = 1024 + bodyBytes(x.requestBody) + bodyBytes(x.responseBody) + 2 * (x.responseHead?.length ?? 0);
  for (const header of x.requestHeaders) bytes += 2 * header.length;
  for (const header of x.responseHeaders) bytes += 2 * header.length;
  if (x.outgoing) for (const call of x.outgoing) bytes += heldBytes(call);
  if (x.errors) for (const e of x.errors) bytes += 2 * (e.message.length + (e.stackTrace?.length ?? 0));
  return bytes;
}

function bodyBytes(body: CapturedBody | undefined): number {
  return body ? 2 * body.text.length : 0;
}

/** Lets pending I/O (the app's requests) run before going on. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
