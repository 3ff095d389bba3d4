import { AsyncResource } from 'node:async_hooks';
import type { CapturedExchange } from '../interfaces/captured-exchange.interface';
import type { MetricsStats } from '../interfaces/metrics-stats.interface';
import type { RecordSink } from '../interfaces/record-sink.interface';
import type { RecordFormatter } from '../format/record-formatter';
import type { AnyMetricsTransport } from '../interfaces/metrics-transport.interface';
import { OnceLogger } from '../core-logger';
import type { CoreLogger } from '../interfaces/core-logger.interface';
import type { ResolvedMetricsOptions } from '../metrics.options';
import { RecordStage, type Batch, type Queued } from '../write/record-stage';
import { dropWarning, DropWarnings, type DropReport } from './drop-warnings';
import type { RecordTap } from '../interfaces/record-tap.interface';
import { KeyPause } from './key-pause';
import { BatchAttempts } from './batch-attempts';
import { RecordQueue } from './record-queue';
import { MAX_BATCH, MAX_BATCH_BYTES, MIN_CALL_GAP_MS } from './batch-bounds';

/**
 * Batches captured exchanges and delivers them in the background: bounded queue (oldest dropped first), bounded
 * concurrency, retries with backoff. Nothing here ever throws into the app.
 */
export class Dispatcher implements RecordSink {
  private readonly logger: OnceLogger;
  /** Records waiting, with the bytes each holds (its Buffer, or the strings of a captured exchange). */
  private readonly queue = new RecordQueue<Queued>();
  /** Bytes held by the records in flight. */
  private inFlightBytes = 0;
  private groupTimeouts = 0;
  private timer?: NodeJS.Timeout;
  /** Wakes the pump once MIN_CALL_GAP_MS has passed since the last call started. */
  private gapTimer?: NodeJS.Timeout;
  private lastCallAt = -Infinity;
  private inFlightRecords = 0;
  private inFlightCalls = 0;
  /** Set while the collector rejects the API key (401/403): only probes call. */
  private readonly keyPause: KeyPause;
  /** One batch's calls: retries with backoff, splits, the verdict on each failure. */
  private readonly attempts: BatchAttempts<Batch[number]>;
  private readonly drops = new DropWarnings((report) => this.warnDropped(report));
  private readonly counters = {
    captured: 0,
    sent: 0,
    dropped: 0,
    failed: 0,
    unconfirmed: 0,
    retried: 0,
    sampledOut: 0,
  };
  private waiters: { target: number; resolve: () => void }[] = [];
  /**
   * The async context the module started in. Timers and delivery calls are started in it, not in the context of
   * the request that happened to fill a batch: a call that hangs must not keep that request (its parsed body, its
   * response) alive through the request's AsyncLocalStorage stores.
   */
  private readonly scope = new AsyncResource('nestjs-api-metrics.dispatcher');

  /** The write stage: records written before they are queued (built-in transports), or formatted at send. */
  readonly stage: RecordStage;
  /**
   * The bytes bound of a batch: for written records only, whose bytes are the call's body. Exchanges queued as
   * captured (a user's transport, OTLP) are counted by an estimate of what they hold, not what the call will carry.
   */
  private readonly maxBatchBytes: number;

  constructor(
    private readonly options: ResolvedMetricsOptions,
    private readonly transport: AnyMetricsTransport,
    formatter: RecordFormatter,
    logger: CoreLogger,
    tap?: RecordTap,
  ) {
    this.logger = new OnceLogger(logger);
    this.keyPause = new KeyPause(options, this.logger, {
      counters: this.counters,
      wake: (all) => this.pump(all || this.waiters.length > 0),
      stopTimers: () => this.clearTimer(),
    });
    this.stage = new RecordStage(
      transport,
      formatter,
      (error) => {
        this.counters.failed++;
        this.logger.errorOnce('format', 'Could not format a record; it was dropped', error);
        this.resolveWaiters();
      },
      tap,
    );
    this.maxBatchBytes = this.stage.encoded ? MAX_BATCH_BYTES : Infinity;
    this.attempts = new BatchAttempts((batch) => this.stage.send(batch as Batch), {
      counters: this.counters,
      logger: this.logger,
      debug: (message) => this.debug(message),
      // Not while the key is rejected, unless this is the probe.
      mayRetry: () => !this.keyPause.current || this.keyPause.current.probing,
      giveUp: (records, reason) => this.giveUp(records as Batch, reason),
    });
  }

  stats(): MetricsStats {
    return {
      ...this.counters,
      queued: this.queue.length,
      inFlight: this.inFlightRecords,
      groupTimeouts: this.groupTimeouts,
    };
  }

  /** Bytes held by the queue and the calls in flight, as counted against `maxQueueBytes` (offload reports it). */
  bytesHeld(): number {
    return this.queue.bytes + this.inFlightBytes;
  }

  /** An exchange was not recorded: its group function did not settle within `timeout`. */
  countGroupTimeout(): void {
    this.groupTimeouts++;
  }

  /** An exchange the sampling decision left out: counted, nothing else. */
  countSampledOut(): void {
    this.counters.sampledOut++;
  }

  enqueue(exchange: CapturedExchange): void {
    this.counters.captured++;
    const item = this.stage.written(exchange);
    if (item === undefined) return;
    const size = this.stage.bytesOf(item);
    const { maxQueueSize, maxQueueBytes } = this.options;
    this.queue.makeRoom(size, this.inFlightBytes, maxQueueSize, maxQueueBytes, (bound) => {
      this.counters.dropped++;
      this.drops.note(bound);
    });
    // Records in flight alone fill the bound: the new one cannot be held either.
    if (this.inFlightBytes + size > maxQueueBytes && this.inFlightBytes > 0) {
      this.counters.dropped++;
      this.drops.note('maxQueueBytes');
      this.resolveWaiters();
      return;
    }
    this.queue.push(item, size);
    if (this.queue.length >= this.options.bufferLength) this.scope.runInAsyncScope(this.pump, this, false);
    else if (!this.timer) this.scope.runInAsyncScope(this.armTimer, this);
  }

  /** backgroundWorkerMode false: deliver one exchange now, bypassing the queue. Resolves when sent or given up on. */
  async deliverNow(exchange: CapturedExchange): Promise<void> {
    this.counters.captured++;
    const item = this.stage.written(exchange);
    if (item === undefined) return;
    await this.deliver([item], 2 * this.stage.bytesOf(item));
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

  /**
   * The last flush (bounded by `shutdownTimeout`), then the transport is closed. Nest calls it at application shutdown
   * (the shell registers this instance as a provider); the offload worker calls it on the main thread's request.
   */
  async onApplicationShutdown(): Promise<void> {
    let timeout: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<boolean>((resolve) => {
      // Deliberately not unref'd: it keeps the process alive just long enough (bounded) for the last records.
      timeout = setTimeout(() => resolve(true), this.options.shutdownTimeout);
    });
    const timedOut = await Promise.race([this.flush().then(() => false), gaveUp]);
    clearTimeout(timeout);
    this.clearTimer();
    this.keyPause.clear();
    this.drops.report();
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
    if (this.keyPause.current) return this.pumpPaused();
    while (this.inFlightCalls < maxConcurrentRequests && this.queue.length > 0) {
      if (!all && this.queue.length < bufferLength) break;
      const now = performance.now();
      const wait = this.lastCallAt + MIN_CALL_GAP_MS - now;
      if (!all && wait > 0 && this.queue.length < MAX_BATCH && this.queue.bytes < this.maxBatchBytes) {
        this.armGapTimer(wait);
        break;
      }
      this.lastCallAt = now;
      const size = this.queue.countWithin(Math.max(bufferLength, MAX_BATCH), this.maxBatchBytes);
      void this.deliverOldest(size).then(() => this.pump(this.waiters.length > 0));
    }
    if (this.queue.length > 0) this.armTimer();
  }

  /** While the key is rejected: one small probe batch once its time came, nothing else. */
  private pumpPaused(): void {
    const pause = this.keyPause.current;
    if (!pause) return;
    if (this.waiters.length) {
      // flush() and shutdown cannot wait for the next probe (up to MAX_PROBE_MS away).
      this.failQueued(`delivery is paused (HTTP ${pause.status})`);
      return;
    }
    if (pause.probeLaunched || this.queue.length === 0 || !pause.probeDue) return;
    pause.probeLaunched = true;
    void this.deliverOldest(Math.min(this.keyPause.probeSize, this.queue.length)).then(() => {
      pause.probeLaunched = false;
      this.pump(this.waiters.length > 0);
    });
  }

  /** Delivers the `count` oldest queued records in one call. */
  private deliverOldest(count: number): Promise<void> {
    // In flight, a record is held twice: as queued (captured, or written) and in the batch's body for the call.
    const bytes = 2 * this.queue.bytesOfOldest(count);
    return this.deliver(this.queue.take(count), bytes);
  }

  /** `bytes`: what the batch holds; counted against `maxQueueBytes` until the call is over. */
  private async deliver(batch: Queued[], bytes: number): Promise<void> {
    this.inFlightCalls++;
    this.inFlightRecords += batch.length;
    this.inFlightBytes += bytes;
    try {
      const records = await this.stage.batch(batch);
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

  /**
   * Sends one batch with retries; splits it when the collector finds it too large or malformed. A part the collector
   * accepted is never sent again, and neither is one it may have received without answering (`unconfirmed`).
   */
  private send(records: Batch): Promise<void> {
    return this.keyPause.send(
      (tally) => this.attempts.run(records, tally),
      (reason) => this.giveUp(records, reason),
    );
  }

  private giveUp(records: Batch, reason: string): void {
    this.counters.failed += records.length;
    this.debug(`${records.length} records given up: ${reason}`);
  }

  private failQueued(reason: string): void {
    this.counters.failed += this.queue.length;
    this.debug(`${this.queue.length} queued records given up: ${reason}`);
    this.queue.takeAll();
    this.resolveWaiters();
  }

  private resolveWaiters(): void {
    const settled = this.settledCount();
    this.waiters = this.waiters.filter((w) => {
      if (settled < w.target) return true;
      w.resolve();
      return false;
    });
  }

  /** The Dispatcher's drop warning (DropWarnings throttles them). */
  private warnDropped(report: DropReport): void {
    this.logger.warn(dropWarning(report, this.options, this.keyPause.current?.status, this.counters.dropped));
  }

  private debug(message: string): void {
    if (this.options.debug) this.logger.debug(message);
  }
}
