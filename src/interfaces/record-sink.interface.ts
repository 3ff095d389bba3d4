import type { CapturedExchange } from './captured-exchange.interface';
import type { MetricsStats } from './metrics-stats.interface';

/**
 * Where capture hands finished exchanges: the delivery pipeline on this thread (Dispatcher) or its stand-in that
 * posts them to the offload worker (OffloadDispatcher). Capture and MetricsService depend on this, not on either.
 * Nothing here throws into the caller.
 */
export interface RecordSink {
  /** Background mode: queue the exchange (written once, now, for a built-in transport). */
  enqueue(exchange: CapturedExchange): void;
  /** backgroundWorkerMode false: deliver this one now; resolves when sent or given up on. */
  deliverNow(exchange: CapturedExchange): Promise<void>;
  /** An exchange the sampling decision left out: counted, nothing else. */
  countSampledOut(): void;
  /** An exchange not recorded because its group function did not settle within `timeout`. */
  countGroupTimeout(): void;
  /** Resolves when everything handed over so far was delivered or given up on. Never rejects. */
  flush(): Promise<void>;
  stats(): MetricsStats;
}

/** The injection token of the module's RecordSink. */
export const RECORD_SINK = Symbol('nestjs-api-metrics.record-sink');
