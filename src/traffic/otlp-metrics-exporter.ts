import { verdictOf, MetricsDeliveryError } from '../deliver/delivery-error';
import type { ResourceLike } from '../format/otlp/span';
import type { OnceLogging } from '../interfaces/core-logger.interface';
import { OtlpMetricsEncoder, type MetricsTemporality } from './otlp-metrics';
import type { TrafficAggregator } from './traffic-aggregator';

/** What the exporter needs of an OTLP transport: its protocol, resource, and a call to the collector's metrics service. */
export interface OtlpMetricsSender {
  readonly protocol: 'http/protobuf' | 'http/json' | 'grpc';
  readonly resource: ResourceLike;
  /** One ExportMetricsServiceRequest, encoded: `/v1/metrics` over http, the metrics service over gRPC. */
  sendMetrics(body: Uint8Array): Promise<void>;
}

export interface OtlpMetricsExporterOptions {
  /** ms between exports. */
  interval: number;
  temporality: MetricsTemporality;
  debug: boolean;
}

const MAX_ATTEMPTS = 4;
const BASE_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 10_000;
/** While the collector rejects the key, exports are tried at most this rarely (doubling from the interval). */
const MAX_PAUSE_MS = 10 * 60_000;

/**
 * Exports the traffic aggregates as OTLP metrics every `interval` ms, and once more on shutdown. The delivery rules are
 * the spans' (delivery-error.ts verdicts): retryable failures are retried with backoff, 401/403 pauses the exports
 * (tried again after a doubling delay), anything else is logged once. A failed export loses nothing: the next one
 * carries its counts (cumulative totals, or a delta from the last accepted export). One export at a time.
 */
export class OtlpMetricsExporter {
  private readonly encoder: OtlpMetricsEncoder;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopping = false;
  /** Set while the collector rejects the key: no export before `until`. */
  private pause?: { status: number; delay: number; until: number };
  /** Exports the collector accepted (for logs and tests). */
  exports = 0;

  constructor(
    private readonly aggregator: TrafficAggregator,
    private readonly sender: OtlpMetricsSender,
    private readonly options: OtlpMetricsExporterOptions,
    private readonly logger: Pick<OnceLogging, 'errorOnce' | 'error' | 'log' | 'debug'>,
  ) {
    this.encoder = new OtlpMetricsEncoder(sender.protocol === 'http/json', sender.resource, options.temporality);
  }

  start(): void {
    this.timer = setInterval(() => void this.exportNow(), this.options.interval);
    this.timer.unref(); // never keeps the process alive
  }

  /** Exports now (or joins the export under way). Never rejects. */
  exportNow(): Promise<void> {
    this.running ??= this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  /** The last export: waits for one under way, then exports what was counted since, within `timeoutMs`. */
  async shutdown(timeoutMs: number): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    let deadline: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<void>((resolve) => {
      deadline = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([
      (async () => {
        await this.running;
        this.stopping = true; // no retry sleeps now: the app is closing
        await this.exportNow();
      })(),
      gaveUp,
    ]);
    clearTimeout(deadline);
  }

  private async run(): Promise<void> {
    const pause = this.pause;
    if (pause && Date.now() < pause.until) return;
    let encoded: ReturnType<OtlpMetricsEncoder['encode']>;
    try {
      encoded = this.encoder.encode(this.aggregator.liveSeries());
    } catch (error) {
      this.logger.errorOnce('traffic-encode', 'Could not encode the traffic metrics', error);
      return;
    }
    if (!encoded) return;
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      try {
        await this.sender.sendMetrics(encoded.body);
        encoded.commit();
        this.exports++;
        if (this.options.debug) {
          this.logger.debug(`exported traffic metrics in ${(performance.now() - started).toFixed(1)} ms`);
        }
        if (pause) {
          this.pause = undefined;
          this.logger.log('The collector accepts the traffic metrics again: exports resumed.');
        }
        return;
      } catch (error) {
        const verdict = verdictOf(error);
        if (verdict === 'retry' && attempt < MAX_ATTEMPTS && !this.stopping && !pause) {
          await sleep(backoff(attempt, error));
          continue;
        }
        if (verdict === 'reject-key') return this.rejected((error as MetricsDeliveryError).status ?? 401);
        this.logger.errorOnce(
          `traffic-export-${verdict}`,
          `The traffic metrics export failed after ${attempt} attempt(s); the next export carries its counts ` +
            '(later failures are not logged)',
          error,
        );
        return;
      }
    }
  }

  private rejected(status: number): void {
    const delay = this.pause
      ? Math.min(Math.max(MAX_PAUSE_MS, this.options.interval), this.pause.delay * 2)
      : this.options.interval;
    if (!this.pause) {
      this.logger.error(
        `The collector rejected the traffic metrics (HTTP ${status}): check the transport's credentials. Exports ` +
          'are paused and tried again later; the counts are kept meanwhile.',
      );
    }
    // Half an interval of slack: the timer that tries again fires about `delay` from now, never much later.
    this.pause = { status, delay, until: Date.now() + delay - this.options.interval / 2 };
  }
}

function backoff(attempt: number, error: unknown): number {
  const retryAfter = error instanceof MetricsDeliveryError ? error.retryAfterMs : undefined;
  if (retryAfter !== undefined) return Math.min(retryAfter, MAX_BACKOFF_MS * 3);
  const exp = Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** (attempt - 1));
  return exp / 2 + Math.random() * (exp / 2);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
