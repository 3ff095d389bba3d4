import type { OnceLogger } from '../core-logger';
import type { ResolvedMetricsOptions } from '../metrics.options';
import { seconds } from './durations';

/**
 * After a 401/403 the next call waits PROBE_FACTOR x max(timeout, flushInterval) (30 s with the defaults, at least
 * MIN_PROBE_MS), doubling after each rejected probe up to MAX_PROBE_MS; a probe carries at most PROBE_BATCH records.
 */
const PROBE_FACTOR = 10;
const MIN_PROBE_MS = 1_000;
const MAX_PROBE_MS = 10 * 60_000;
const PROBE_BATCH = 10;

/** Delivery stopped because the collector rejected the API key; a probe call tries it again later. */
export interface Pause {
  status: number;
  since: number;
  /** ms between the last rejection and the next probe. */
  delay: number;
  /** Set by the probe timer (not a clock comparison: a timer may fire a fraction of a ms early). */
  probeDue: boolean;
  /** A probe batch was taken from the queue / a call claimed the probe. */
  probeLaunched: boolean;
  probing: boolean;
  timer?: NodeJS.Timeout;
  /** Counters when the pause began, to say what it cost when it ends. */
  failedBefore: number;
  droppedBefore: number;
}

/** What the pause needs of the pipeline that owns it. */
export interface KeyPauseHost {
  /** The pipeline's counters, read when the pause begins and ends (for the log lines). */
  readonly counters: { readonly failed: number; readonly dropped: number };
  /** A probe's time came (`all`: send a partial batch), or delivery resumed: start calls again. */
  wake(all: boolean): void;
  /** The pipeline's batching timers stop while paused. */
  stopTimers(): void;
}

/**
 * The key pause: while the collector rejects the API key, no call is made but one small probe after a backoff
 * (doubling); the first accepted probe resumes delivery. Each transition is logged once, with what it cost.
 */
export class KeyPause {
  /** Set while delivery is paused. */
  current?: Pause;

  constructor(
    private readonly options: Pick<ResolvedMetricsOptions, 'timeout' | 'flushInterval' | 'bufferLength'>,
    private readonly logger: OnceLogger,
    private readonly host: KeyPauseHost,
  ) {}

  /** Records a probe may carry. */
  get probeSize(): number {
    return Math.min(PROBE_BATCH, this.options.bufferLength);
  }

  /** First rejection of the key: stop calling, give the queue a chance at the first probe. */
  start(status: number, failed: number): void {
    if (this.current) return; // a call that started before the pause; its records are counted already
    const delay = Math.min(
      MAX_PROBE_MS,
      Math.max(MIN_PROBE_MS, PROBE_FACTOR * Math.max(this.options.timeout, this.options.flushInterval)),
    );
    this.current = {
      status,
      since: performance.now(),
      delay,
      probeDue: false,
      probeLaunched: false,
      probing: false,
      failedBefore: this.host.counters.failed - failed,
      droppedBefore: this.host.counters.dropped,
    };
    this.host.stopTimers();
    this.scheduleProbe(this.current);
    this.logger.error(
      `The collector rejected the API key (HTTP ${status}): check the apiKey option. ${failed} records given up; ` +
        `delivery is paused, next try in ${seconds(delay)} with at most ${this.probeSize} records. Records captured ` +
        'meanwhile wait in the queue (maxQueueSize/maxQueueBytes still apply). The app keeps running.',
    );
  }

  /** A probe was rejected too: the next one waits twice as long. */
  again(pause: Pause, status: number, failed: number): void {
    pause.status = status;
    pause.delay = Math.min(MAX_PROBE_MS, pause.delay * 2);
    this.scheduleProbe(pause);
    this.logger.warn(
      `The API key is still rejected (HTTP ${status}): ${failed} more records given up ` +
        `(${this.host.counters.failed - pause.failedBefore} since delivery paused); next try in ${seconds(pause.delay)}.`,
    );
  }

  /** A probe was accepted: delivery resumes. */
  resume(pause: Pause): void {
    if (this.current !== pause) return;
    if (pause.timer) clearTimeout(pause.timer);
    this.current = undefined;
    this.logger.log(
      `The collector accepts the API key again: delivery resumed after ${seconds(performance.now() - pause.since)} ` +
        `paused (${this.host.counters.failed - pause.failedBefore} records given up, ` +
        `${this.host.counters.dropped - pause.droppedBefore} dropped from the full queue meanwhile).`,
    );
    // The caller's pump follows; a sync-mode probe (deliverNow) has no pump behind it.
    setImmediate(() => this.host.wake(false)).unref();
  }

  /**
   * One batch's calls (`run`, which resolves with the status when the key was rejected) under the pause: while the
   * key is rejected only the due probe calls, anything else is given up without a call; the outcome starts, renews
   * or ends the pause.
   */
  async send(
    run: (tally: { failed: number }) => Promise<number | undefined>,
    giveUp: (reason: string) => void,
  ): Promise<void> {
    const pause = this.current;
    if (pause) {
      if (pause.probing || !pause.probeDue) {
        giveUp(`delivery is paused (HTTP ${pause.status})`);
        return;
      }
      pause.probing = true;
    }
    let rejected: number | undefined;
    const tally = { failed: 0 };
    try {
      rejected = await run(tally);
    } finally {
      if (pause) {
        pause.probing = false;
        if (rejected === undefined) this.resume(pause);
        else this.again(pause, rejected, tally.failed);
      } else if (rejected !== undefined) {
        this.start(rejected, tally.failed);
      }
    }
  }

  /** Shutdown: no probe timer is left behind. */
  clear(): void {
    if (this.current?.timer) clearTimeout(this.current.timer);
  }

  private scheduleProbe(pause: Pause): void {
    pause.probeDue = false;
    if (pause.timer) clearTimeout(pause.timer);
    pause.timer = setTimeout(() => {
      pause.timer = undefined;
      pause.probeDue = true;
      this.host.wake(true);
    }, pause.delay);
    pause.timer.unref();
  }
}
