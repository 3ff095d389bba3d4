import type { CapturedExchange } from '../../interfaces/captured-exchange.interface';
import type { ResolvedMetricsOptions } from '../../metrics.options';
import type { MetricsStats } from '../../interfaces/metrics-stats.interface';
import type { TransportOrigin } from '../transports/transport-origin';

/*
 * The messages between the main thread (OffloadDispatcher) and the worker (offload-worker.ts). Everything here is
 * structured-cloned: plain strings, numbers, arrays, objects (and the Set of `allowedHttpHosts`), never a function.
 */

/**
 * The options the worker never gets, listed once: what runs on the main thread (`group` at capture, the traffic
 * metrics, the dashboard) or cannot cross (functions; the transport instance, rebuilt there from its description).
 */
const MAIN_THREAD_ONLY = ['group', 'transport', 'traffic', 'dashboard'] as const;

/** The resolved options as the worker gets them. */
export type WorkerOptions = Omit<ResolvedMetricsOptions, (typeof MAIN_THREAD_ONLY)[number]>;

/** The options without MAIN_THREAD_ONLY, for `workerData`. */
export function workerOptionsOf(options: ResolvedMetricsOptions): WorkerOptions {
  const copy: Partial<ResolvedMetricsOptions> = { ...options };
  for (const key of MAIN_THREAD_ONLY) delete copy[key];
  return copy as WorkerOptions;
}

/** `workerData`: the options, and the built-in transport to build again (its kind and constructor options). */
export interface WorkerInit {
  options: WorkerOptions;
  transport: TransportOrigin;
  /** The dashboard is on: the worker sends back each record as written (`records`). */
  tapRecords?: boolean;
}

/** What the worker holds and has done, as its Dispatcher counts it. */
export interface WorkerState {
  stats: MetricsStats;
  /** Bytes its queue and calls in flight hold (counted against `maxQueueBytes`). */
  bytes: number;
  /** Records received so far: acknowledges the batches the main thread posted. */
  received: number;
}

/** The levels of the worker's CoreLogger, each forwarded as a line. */
export type LogLevel = 'log' | 'error' | 'warn' | 'debug';

export type ToWorker =
  /** Captured exchanges, in capture order, for the queue. */
  | { type: 'batch'; exchanges: CapturedExchange[] }
  /** `backgroundWorkerMode: false`: deliver this one now, answer `done` when sent or given up on. */
  | { type: 'now'; id: number; exchange: CapturedExchange }
  /** Deliver everything received so far, answer `done`. */
  | { type: 'flush'; id: number }
  /** Flush (bounded by `shutdownTimeout`), close the transport, answer `done`. */
  | { type: 'shutdown'; id: number };

export type FromWorker =
  /** The transport is built (and a HAR file writable): records can come. */
  | { type: 'ready' }
  /** Startup failed; the app must not start (as it would not in process). */
  | { type: 'failed'; message: string }
  /** Counters after a change (and after each batch, to acknowledge it). */
  | { type: 'state'; state: WorkerState }
  /** The answer to `now`, `flush`, `shutdown`, with the counters at that moment. */
  | { type: 'done'; id: number; state: WorkerState }
  /** A line of the worker's MetricsLogger, for the app's Nest logger. */
  | { type: 'log'; level: LogLevel; message: string }
  /** With `tapRecords`: the records written since the last message, concatenated (transferred, not copied). */
  | { type: 'records'; bytes: Uint8Array; lengths: number[] };
