import { AsyncResource } from 'node:async_hooks';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { CapturedExchange } from '../../interfaces/captured-exchange.interface';
import type { AnyMetricsTransport } from '../../interfaces/metrics-transport.interface';
import type { OnceLogging } from '../../interfaces/core-logger.interface';
import type { ResolvedMetricsOptions } from '../../metrics.options';
import type { MetricsStats } from '../../interfaces/metrics-stats.interface';
import type { RecordSink } from '../../interfaces/record-sink.interface';
import { DropWarnings, type DropReport, type QueueBound } from '../drop-warnings';
import { heldBytes } from '../held-bytes';
import { RecordQueue } from '../record-queue';
import { workerOptionsOf, type FromWorker, type ToWorker, type WorkerInit, type WorkerState } from './protocol';
import type { RecordTap } from '../../interfaces/record-tap.interface';
import { describeTransport } from './transport-description';

/**
 * Records wait on the main thread at most this long, or until POST_RECORDS (or POST_BYTES) of them wait, before one
 * postMessage carries them all. Measured (Node 20, ~1 KB bodies, 100k records): one message per record cost 4.1-4.8 µs
 * of main-thread CPU a record, batches of 16-256 2.6-2.9 µs (and one wake-up of the worker per batch, not per record).
 */
const POST_INTERVAL_MS = 25;
const POST_RECORDS = 64;
/** Big bodies go at once: the main thread holds little, and one message never carries much. */
const POST_BYTES = 1024 * 1024;
/** Past this, the app starts without the worker having answered: it cannot have started. */
const STARTUP_TIMEOUT_MS = 30_000;
/** Shutdown waits `shutdownTimeout` for the worker's own bounded flush, plus this for its answer and transport close. */
const SHUTDOWN_GRACE_MS = 1_000;

const EMPTY: MetricsStats = {
  captured: 0,
  sent: 0,
  dropped: 0,
  failed: 0,
  unconfirmed: 0,
  retried: 0,
  queued: 0,
  inFlight: 0,
  sampledOut: 0,
  groupTimeouts: 0,
};

/** The dashboard, when on: the records the worker wrote, and the lines it logged. */
export interface OffloadFeed {
  tap: RecordTap;
  logged(level: string, message: string): void;
}

interface Pending {
  resolve: (answered: boolean) => void;
  timer: NodeJS.Timeout;
}

/**
 * `offload: 'worker'`: stands in for the Dispatcher on the main thread (same entry points for the recorder and
 * MetricsService). It buffers captured exchanges for at most POST_INTERVAL_MS and posts them in one message to a
 * worker thread (offload-worker.ts) that runs the real Dispatcher, formatter, redactor and transport.
 *
 * - Bounds: `maxQueueSize` / `maxQueueBytes` count the main buffer, the batches posted but not yet acknowledged, and
 *   what the worker holds as it last reported (it can only have shrunk since: it grows only by our batches, which
 *   its report acknowledges). When full, the records still here are dropped, oldest first, then the new one: the
 *   worker's are out of reach synchronously.
 * - `stats()` is synchronous: the worker's counters as last reported (within ~25 ms, exact after `flush()`), plus
 *   what this side holds, dropped, and counts itself (`sampledOut`, `groupTimeouts`).
 * - A worker that dies is logged once; what it held and every later record are counted as failed. Nothing throws
 *   into the app, and the thread never keeps the process alive (`unref`).
 */
export class OffloadDispatcher implements RecordSink {
  /** Records waiting on this thread for the next post. */
  private readonly buffer = new RecordQueue<CapturedExchange>();
  private timer?: NodeJS.Timeout;
  /** Records and bytes posted so far; and, per post not yet acknowledged, the totals once it is. */
  private postedRecords = 0;
  private postedBytes = 0;
  private unacked: { records: number; bytes: number }[] = [];
  private ackedBytes = 0;
  private worker: WorkerState = { stats: EMPTY, bytes: 0, received: 0 };
  private readonly own = { captured: 0, dropped: 0, failed: 0, sampledOut: 0, groupTimeouts: 0 };
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Set once the worker is gone (died, or terminated at shutdown): records are then counted as failed. */
  private gone = false;
  private stopping = false;
  private readonly drops = new DropWarnings((report) => this.warnDropped(report));
  /** Timers start in the module's async context, not in that of the request that filled a batch (see Dispatcher). */
  private readonly scope = new AsyncResource('nestjs-api-metrics.offload');

  private constructor(
    private readonly options: ResolvedMetricsOptions,
    /** The app's own `transport` instance (closed at shutdown); undefined for the ReadMe one, built in the worker. */
    private readonly transport: AnyMetricsTransport | undefined,
    private readonly thread: Worker,
    private readonly logger: OnceLogging,
    private readonly feed?: OffloadFeed,
  ) {
    thread.on('message', (message: FromWorker) => this.onMessage(message));
    thread.on('error', (error) => this.lost(error));
    thread.on('messageerror', (error) => this.lost(error));
    thread.on('exit', (code) => this.lost(new Error(`the thread exited with code ${code}`)));
  }

  /**
   * Starts the worker and resolves once its transport is ready (a HAR file writable). Rejects, so that the app does
   * not start, when the transport cannot run there (MetricsOptionsError naming the option) or the worker fails.
   * The logger writes this side's lines and the worker's (Nest's, through MetricsLogger, in the module).
   */
  static async start(
    options: ResolvedMetricsOptions,
    transport: AnyMetricsTransport | undefined,
    logger: OnceLogging,
    feed?: OffloadFeed,
  ): Promise<OffloadDispatcher> {
    const init: WorkerInit = {
      options: workerOptionsOf(options),
      transport: describeTransport(transport, options),
      tapRecords: !!feed,
    };
    const thread = new Worker(join(__dirname, 'offload-worker.js'), { workerData: init, name: 'nestjs-api-metrics' });
    await new Promise<void>((resolve, reject) => {
      const fail = (error: Error) => {
        cleanup();
        void thread.terminate();
        reject(error);
      };
      const onMessage = (message: FromWorker) => {
        if (message.type === 'ready') {
          cleanup();
          resolve();
        } else if (message.type === 'failed') {
          fail(new Error(message.message));
        }
      };
      const onError = (error: Error) => fail(error);
      const onExit = (code: number) =>
        fail(new Error(`nestjs-api-metrics: the offload worker thread exited at startup (code ${code})`));
      const timer = setTimeout(
        () =>
          fail(new Error(`nestjs-api-metrics: the offload worker thread did not start in ${STARTUP_TIMEOUT_MS} ms`)),
        STARTUP_TIMEOUT_MS,
      );
      const cleanup = () => {
        clearTimeout(timer);
        thread.off('message', onMessage).off('error', onError).off('exit', onExit);
      };
      thread.on('message', onMessage).on('error', onError).on('exit', onExit);
    });
    // From now on the thread never keeps the process alive.
    thread.unref();
    return new OffloadDispatcher(options, transport, thread, logger, feed);
  }

  stats(): MetricsStats {
    const w = this.worker.stats;
    const transit = this.postedRecords - this.worker.received;
    return {
      captured: this.own.captured,
      sent: w.sent,
      dropped: w.dropped + this.own.dropped,
      failed: w.failed + this.own.failed,
      unconfirmed: w.unconfirmed,
      retried: w.retried,
      queued: this.buffer.length + transit + w.queued,
      inFlight: w.inFlight,
      sampledOut: this.own.sampledOut,
      groupTimeouts: this.own.groupTimeouts,
    };
  }

  countGroupTimeout(): void {
    this.own.groupTimeouts++;
  }

  countSampledOut(): void {
    this.own.sampledOut++;
  }

  enqueue(exchange: CapturedExchange): void {
    this.own.captured++;
    if (this.gone) {
      this.own.failed++;
      return;
    }
    const size = heldBytes(exchange);
    const { maxQueueSize, maxQueueBytes } = this.options;
    // What the worker queues, and what is on its way there, count with what waits here.
    const elsewhere = this.postedRecords - this.worker.received + this.worker.stats.queued;
    const elsewhereBytes = this.postedBytes - this.ackedBytes + this.worker.bytes;
    const full = (): QueueBound | undefined =>
      elsewhere + this.buffer.length >= maxQueueSize
        ? 'maxQueueSize'
        : elsewhereBytes + this.buffer.bytes + size > maxQueueBytes
          ? 'maxQueueBytes'
          : undefined;
    for (let bound = full(); bound && this.buffer.length > 0; bound = full()) {
      this.buffer.take(1);
      this.dropped(bound);
    }
    const bound = full();
    if (bound) {
      this.dropped(bound);
      return;
    }
    this.buffer.push(exchange, size);
    if (this.buffer.length >= POST_RECORDS || this.buffer.bytes >= POST_BYTES) this.post();
    else if (!this.timer) this.scope.runInAsyncScope(this.armTimer, this);
  }

  /** backgroundWorkerMode false: the worker delivers this one now; resolves when sent or given up on. */
  async deliverNow(exchange: CapturedExchange): Promise<void> {
    this.own.captured++;
    if (this.gone) {
      this.own.failed++;
      return;
    }
    // In flight it is held twice (captured and formatted), as in the Dispatcher.
    const id = this.nextId++;
    this.postToWorker({ type: 'now', id, exchange }, 1, 2 * heldBytes(exchange));
    await this.awaitDone(id, this.deadline(), 'deliver a record');
  }

  /** Resolves when everything captured so far was delivered or given up on (or the worker is gone). Never rejects. */
  async flush(): Promise<void> {
    if (this.gone) return;
    this.post();
    const id = this.nextId++;
    this.postToWorker({ type: 'flush', id }, 0, 0);
    await this.awaitDone(id, this.deadline(), 'flush');
  }

  /**
   * Flushes through the worker within `shutdownTimeout` (+ a grace for its answer), then ends the thread. Nest calls
   * it (the module provides this instance); the name is Nest's OnApplicationShutdown, not imported: no Nest here.
   */
  async onApplicationShutdown(): Promise<void> {
    this.clearTimer();
    if (!this.gone) {
      this.post();
      this.thread.ref(); // the answer must be able to arrive
      const id = this.nextId++;
      this.postToWorker({ type: 'shutdown', id }, 0, 0);
      // Not unref'd, as in the Dispatcher: the process lives just long enough (bounded) for the last records.
      const answered = await this.awaitDone(id, this.options.shutdownTimeout + SHUTDOWN_GRACE_MS, 'shut down', true);
      this.stopping = true;
      this.gone = true;
      const held = this.stats();
      // The worker logged what its own bounded flush left; if it never answered, say it here.
      if (!answered && held.queued + held.inFlight > 0) {
        this.logger.warn(
          `Shutdown: ${held.queued + held.inFlight} records not delivered within ${this.options.shutdownTimeout} ms`,
        );
      }
      // Whatever is still held goes with the thread: counted as failed, so the counters add up.
      this.countLost();
      await this.thread.terminate().catch(() => undefined);
    }
    this.drops.report();
    try {
      // The main thread's instance never sent anything; it may hold sockets or agents all the same.
      await this.transport?.close?.();
    } catch (error) {
      this.logger.errorOnce('transport-close', 'The transport failed to close', error);
    }
  }

  private onMessage(message: FromWorker): void {
    switch (message.type) {
      case 'state':
        this.accept(message.state);
        return;
      case 'done': {
        this.accept(message.state);
        const pending = this.pending.get(message.id);
        if (!pending) return;
        this.pending.delete(message.id);
        clearTimeout(pending.timer);
        pending.resolve(true);
        return;
      }
      case 'log':
        this.logger[message.level](message.message);
        this.feed?.logged(message.level, message.message);
        return;
      case 'records': {
        const bytes = Buffer.from(message.bytes.buffer, message.bytes.byteOffset, message.bytes.byteLength);
        let at = 0;
        for (const length of message.lengths) this.feed?.tap(bytes.subarray(at, (at += length)));
        return;
      }
      default:
        return;
    }
  }

  /** The worker's counters; they acknowledge the batches it took in. */
  private accept(state: WorkerState): void {
    if (this.gone) return;
    this.worker = state;
    while (this.unacked.length > 0 && this.unacked[0]!.records <= state.received) {
      this.ackedBytes = this.unacked.shift()!.bytes;
    }
  }

  private post(): void {
    this.clearTimer();
    if (this.buffer.length === 0 || this.gone) return;
    const bytes = this.buffer.bytes;
    const exchanges = this.buffer.takeAll();
    this.postToWorker({ type: 'batch', exchanges }, exchanges.length, bytes);
  }

  private postToWorker(message: ToWorker, records: number, bytes: number): void {
    this.postedRecords += records;
    this.postedBytes += bytes;
    if (records > 0) this.unacked.push({ records: this.postedRecords, bytes: this.postedBytes });
    try {
      this.thread.postMessage(message);
    } catch (error) {
      // A record that cannot be cloned (a bug of capture: it holds plain strings only) must not throw into the app.
      this.logger.errorOnce('offload-post', 'Could not hand records to the offload worker; they were dropped', error);
      this.postedRecords -= records;
      this.postedBytes -= bytes;
      if (records > 0) this.unacked.pop();
      this.own.failed += records;
    }
  }

  /** Resolves on the worker's answer (true), at the deadline or when the worker is gone (false). */
  private awaitDone(id: number, deadline: number, what: string, keepAlive = false): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.logger.errorOnce(
          `offload-${what}`,
          `The offload worker did not ${what} within ${deadline} ms; not waiting longer (later cases are not logged)`,
        );
        resolve(false);
      }, deadline);
      if (!keepAlive) timer.unref();
      this.pending.set(id, { resolve, timer });
    });
  }

  /**
   * The longest a delivery can take in the worker: every attempt waits up to 3 × `timeout` for its answer, with
   * backoffs (Retry-After up to 30 s) between the 4 attempts. Past it the worker is stuck: flush() gives up.
   */
  private deadline(): number {
    return 4 * 3 * this.options.timeout + 3 * 30_000 + this.options.flushInterval;
  }

  /** The worker died (or was ended): what it held, and every record from now on, count as failed. */
  private lost(error: Error): void {
    if (this.gone) return;
    this.gone = true;
    this.clearTimer();
    if (!this.stopping) {
      this.logger.errorOnce(
        'offload-worker',
        'The offload worker thread failed: the records it held and all later ones are counted as failed, and ' +
          'nothing more is delivered (the app is not affected)',
        error,
      );
    }
    this.own.failed += this.buffer.length;
    this.buffer.takeAll();
    this.countLost();
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.resolve(false);
    }
    this.pending.clear();
  }

  /** Records on their way to the worker or in it will never be delivered: counted as failed. */
  private countLost(): void {
    const w = this.worker.stats;
    const lost = this.postedRecords - this.worker.received + w.queued + w.inFlight;
    this.own.failed += lost;
    this.worker = { stats: { ...w, queued: 0, inFlight: 0 }, bytes: 0, received: this.postedRecords };
    this.unacked = [];
    this.ackedBytes = this.postedBytes;
  }

  private armTimer(): void {
    this.timer = setTimeout(() => this.post(), POST_INTERVAL_MS);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private dropped(bound: QueueBound): void {
    this.own.dropped++;
    this.drops.note(bound);
  }

  /** The offload wording of a drop warning (DropWarnings throttles them, as for the Dispatcher). */
  private warnDropped({ bySize, byBytes }: DropReport): void {
    this.logger.warn(
      `Metrics queue full (maxQueueSize = ${this.options.maxQueueSize} records, maxQueueBytes = ` +
        `${this.options.maxQueueBytes} bytes, counted over both threads): dropped ${bySize + byBytes} records ` +
        `still on the main thread; ${this.stats().dropped} dropped in all.`,
    );
  }
}
