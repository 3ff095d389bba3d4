import { Inject, Injectable } from '@nestjs/common';
import type { ObservableAxiosInstance } from './capture/outgoing/axios-observer';
import { AxiosObserver } from './capture/outgoing/axios-observer';
import { ExchangeRecorder } from './capture/exchange-recorder';
import { currentExchange } from './capture/request-context';
import type { MetricsStats } from './interfaces/metrics-stats.interface';
import { RECORD_SINK, type RecordSink } from './interfaces/record-sink.interface';
import { METRICS_RESOLVED_OPTIONS } from './metrics.constants';
import { MetricsLogger } from './metrics.logger';
import type { ResolvedMetricsOptions } from './metrics.options';

/** The module's public handle: inject it anywhere. */
@Injectable()
export class MetricsService {
  private readonly logger = new MetricsLogger();

  constructor(
    @Inject(RECORD_SINK) private readonly dispatcher: RecordSink,
    private readonly recorder: ExchangeRecorder,
    private readonly axiosObserver: AxiosObserver,
    @Inject(METRICS_RESOLVED_OPTIONS) private readonly options: ResolvedMetricsOptions,
  ) {}

  /**
   * Attaches an error to the record of the request being handled (HAR entry field `_errors`: type, message, root
   * cause of its `cause` chain, stack). Takes Errors, strings, plain objects, anything. Never throws or rejects.
   * Outside a request (bootstrap, cron jobs) there is no record to attach to: the error is only logged, in debug mode.
   */
  reportError(error: unknown): void {
    try {
      const exchange = currentExchange();
      if (exchange) exchange.reportError(error, 'reportError');
      else if (this.options.debug) this.logger.debug(`reportError outside a request, not recorded: ${String(error)}`);
    } catch {
      // By contract this never throws.
    }
  }

  /**
   * Records the calls of a plain axios instance like those of `HttpService` (linked to the current request). The
   * calls keep going through the instance's own axios; observed at once when that axios was loaded with `require`,
   * a moment later when it was loaded as ES module. Does nothing with `enabled: false`.
   */
  observeAxios(instance: ObservableAxiosInstance): void {
    void this.axiosObserver.observe(instance);
  }

  /**
   * Resolves when every request finished so far was delivered or given up on (those whose async group function is
   * still running included, for up to `timeout` ms). Never rejects.
   */
  async flush(): Promise<void> {
    await this.recorder.whenHandedOver(this.options.timeout);
    await this.dispatcher.flush();
  }

  /**
   * Delivery counters: captured, sent, dropped, failed (of which unconfirmed), retried, queued, inFlight, and, outside
   * `captured`, sampledOut and groupTimeouts. See `MetricsStats`.
   */
  stats(): MetricsStats {
    return this.dispatcher.stats();
  }

  /** The record id (`_id`) of the request being handled, or undefined outside a request. */
  currentRequestId(): string | undefined {
    return currentExchange()?.id;
  }
}
