import assert from 'node:assert/strict';
import { after, afterEach, before } from 'node:test';
import type { RunningApp } from './adapters';
import { watchUnexpectedErrors } from './unexpected';
// @elastic/mockotlpserver ships no types; it decodes real OTLP over http/protobuf, http/json and gRPC.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const mock = require('@elastic/mockotlpserver') as {
  MockOtlpServer: new (options: Record<string, unknown>) => {
    httpUrl: URL | null;
    grpcUrl: URL | null;
    start(): Promise<void>;
    close(): Promise<void>;
  };
  normalizeTrace(raw: unknown): NormalizedTrace;
  normalizeMetrics(raw: unknown): NormalizedMetrics;
};

export type OtlpAttributes = Record<string, unknown>;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: OtlpAttributes;
  events?: { name: string; timeUnixNano: string; attributes: OtlpAttributes }[];
  status: { code?: string; message?: string };
  /** Added here: the resource and scope the span came with. */
  resource: OtlpAttributes;
  scope: { name: string; version?: string };
}

/** One histogram data point as a collector decoded it, with its metric, resource and scope. */
export interface ReceivedHistogramPoint {
  /** Which export request it came in (0, 1, …). */
  request: number;
  name: string;
  unit: string;
  description: string;
  /** 1 delta, 2 cumulative (AggregationTemporality), whatever the encoding wrote. */
  temporality: number;
  attributes: OtlpAttributes;
  count: number;
  sum: number;
  min?: number;
  max?: number;
  bucketCounts: number[];
  explicitBounds: number[];
  startTimeUnixNano: string;
  timeUnixNano: string;
  resource: OtlpAttributes;
  scope: { name: string; version?: string };
}

interface NormalizedMetrics {
  resourceMetrics?: {
    resource?: { attributes?: OtlpAttributes };
    scopeMetrics?: {
      scope?: { name: string; version?: string };
      metrics?: {
        name: string;
        unit?: string;
        description?: string;
        histogram?: { aggregationTemporality?: number | string; dataPoints?: Record<string, unknown>[] };
      }[];
    }[];
  }[];
}

interface NormalizedTrace {
  resourceSpans: {
    resource?: { attributes?: OtlpAttributes };
    scopeSpans: { scope?: { name: string; version?: string }; spans: Omit<ReceivedSpan, 'resource' | 'scope'>[] }[];
  }[];
}

/**
 * A real OTLP receiver on 127.0.0.1 (http and gRPC on port 0), decoding what it gets as a collector would.
 * mockotlpserver publishes through a process-wide diagnostics channel: run one receiver at a time.
 */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  /** Histogram points of every metrics export, in arrival order. */
  readonly histograms: ReceivedHistogramPoint[] = [];
  /** Metrics export requests received. */
  metricsRequests = 0;
  /** Every decoded request, as JSON text (what the privacy tests search for canaries). */
  readonly decoded: string[] = [];
  /** Headers (http) or metadata (gRPC) of every request, names lower-cased. */
  readonly requests: { transport: string; headers: Record<string, string>; at: number }[] = [];

  private constructor(private readonly server: InstanceType<typeof mock.MockOtlpServer>) {}

  static async start(): Promise<OtlpReceiver> {
    const holder: { receiver?: OtlpReceiver } = {};
    const server = new mock.MockOtlpServer({
      logLevel: 'warn',
      services: ['http', 'grpc'],
      httpHostname: '127.0.0.1',
      httpPort: 0,
      grpcHostname: '127.0.0.1',
      grpcPort: 0,
      onTrace: (raw: unknown) => holder.receiver?.add(raw),
      onMetrics: (raw: unknown) => holder.receiver?.addMetrics(raw),
      onRequest: (req: {
        transport: string;
        headers?: Record<string, string>;
        metadata?: { getMap(): Record<string, unknown> };
      }) => {
        const headers = req.headers ?? (req.metadata?.getMap() as Record<string, string> | undefined) ?? {};
        holder.receiver?.requests.push({ transport: req.transport, headers: { ...headers }, at: performance.now() });
      },
    });
    holder.receiver = new OtlpReceiver(server);
    await server.start();
    return holder.receiver;
  }

  /** Traces URL for http/* protocols. */
  get httpTracesUrl(): string {
    return `${this.server.httpUrl!.origin.replace(/\/+$/, '')}/v1/traces`;
  }

  /** Address for gRPC. */
  get grpcUrl(): string {
    return this.server.grpcUrl!.origin.replace(/\/+$/, '');
  }

  urlFor(protocol: 'http/protobuf' | 'http/json' | 'grpc'): string {
    return protocol === 'grpc' ? this.grpcUrl : this.httpTracesUrl;
  }

  private add(raw: unknown): void {
    // The receiver's own protobuf-to-object step, as mockotlpserver does it, then the empty-array fix below.
    const type = (raw as { constructor?: { toObject?: (m: unknown, o: object) => unknown } }).constructor;
    const plain = typeof type?.toObject === 'function' ? type.toObject(raw, { longs: String, json: true }) : raw;
    fillEmptyArrays(plain, 0);
    const trace = mock.normalizeTrace(plain);
    this.decoded.push(JSON.stringify(trace));
    for (const rs of trace.resourceSpans ?? []) {
      for (const ss of rs.scopeSpans ?? []) {
        for (const span of ss.spans ?? []) {
          this.spans.push({
            ...span,
            attributes: span.attributes ?? {},
            resource: rs.resource?.attributes ?? {},
            scope: ss.scope ?? { name: '' },
          });
        }
      }
    }
  }

  private addMetrics(raw: unknown): void {
    const request = this.metricsRequests++;
    const normalized = mock.normalizeMetrics(raw);
    this.decoded.push(JSON.stringify(normalized));
    const temporalities: Record<string, number> = {
      AGGREGATION_TEMPORALITY_DELTA: 1,
      AGGREGATION_TEMPORALITY_CUMULATIVE: 2,
    };
    for (const rm of normalized.resourceMetrics ?? []) {
      for (const sm of rm.scopeMetrics ?? []) {
        for (const metric of sm.metrics ?? []) {
          const histogram = metric.histogram;
          if (!histogram) continue;
          const t = histogram.aggregationTemporality;
          for (const p of histogram.dataPoints ?? []) {
            const optional = (v: unknown) => (v === undefined || v === null ? undefined : numberOf(v));
            this.histograms.push({
              request,
              name: metric.name,
              unit: metric.unit ?? '',
              description: metric.description ?? '',
              temporality: typeof t === 'string' ? (temporalities[t] ?? Number(t)) : (t ?? 0),
              attributes: (p.attributes as OtlpAttributes | undefined) ?? {},
              count: numberOf(p.count),
              sum: numberOf(p.sum),
              min: optional(p.min),
              max: optional(p.max),
              bucketCounts: ((p.bucketCounts as unknown[] | undefined) ?? []).map((v) => numberOf(v)),
              explicitBounds: ((p.explicitBounds as unknown[] | undefined) ?? []).map(Number),
              startTimeUnixNano: String(numberOf(p.startTimeUnixNano, true)),
              timeUnixNano: String(numberOf(p.timeUnixNano, true)),
              resource: rm.resource?.attributes ?? {},
              scope: sm.scope ?? { name: '' },
            });
          }
        }
      }
    }
  }

  /** Waits (bounded) until at least `count` metrics export requests arrived. */
  async waitForMetricsRequests(count: number, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.metricsRequests < count) {
      if (Date.now() > deadline)
        throw new Error(`receiver got ${this.metricsRequests} metrics requests, expected ${count}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Waits (bounded) until at least `count` spans arrived. */
  async waitForSpans(count: number, timeoutMs = 5000): Promise<ReceivedSpan[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.spans.length < count) {
      if (Date.now() > deadline) throw new Error(`receiver got ${this.spans.length} spans, expected ${count}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return this.spans;
  }

  reset(): void {
    this.spans.length = 0;
    this.histograms.length = 0;
    this.metricsRequests = 0;
    this.decoded.length = 0;
    this.requests.length = 0;
  }

  async close(): Promise<void> {
    await this.server.close();
  }
}

/** A number as the encodings decode it: a number, a decimal string, or a 64-bit Long (`{ low, high }`) from gRPC. */
function numberOf(value: unknown, big: true): bigint;
function numberOf(value: unknown): number;
function numberOf(value: unknown, big?: true): number | bigint {
  if (value !== null && typeof value === 'object' && 'low' in value && 'high' in value) {
    const { low, high } = value as { low: number; high: number };
    const n = (BigInt(high >>> 0) << 32n) + BigInt(low >>> 0);
    return big ? n : Number(n);
  }
  return big ? BigInt(String(value)) : Number(value);
}

/**
 * Protobuf omits empty repeated fields, so an empty array attribute (APIToolkit's `apitoolkit.tags: []`) decodes as
 * an ArrayValue without `values`, which mockotlpserver's normalizer cannot read: give it the empty list it means.
 */
function fillEmptyArrays(node: unknown, depth: number): void {
  if (depth > 64 || node === null || typeof node !== 'object' || ArrayBuffer.isView(node)) return;
  const record = node as Record<string, unknown>;
  const arrayValue = record['arrayValue'] as { values?: unknown[] } | undefined;
  if (arrayValue && typeof arrayValue === 'object' && !Array.isArray(arrayValue.values)) arrayValue.values = [];
  for (const value of Array.isArray(node) ? node : Object.values(record)) fillEmptyArrays(value, depth + 1);
}

/** What the tests of a suite built by `receiverPerTest` share; `running` is the app the current test started. */
export interface ReceiverPerTestSuite {
  readonly receiver: OtlpReceiver;
  running: RunningApp | undefined;
}

/**
 * Hooks for a suite whose tests each start their own app against one OTLP receiver (as `appPerTest` does with the
 * ReadMe collector): after every test the app is closed, the receiver reset, and no unhandled rejection may have fired.
 */
export function receiverPerTest(): ReceiverPerTestSuite {
  let receiver: OtlpReceiver | undefined;
  const suite: ReceiverPerTestSuite = {
    get receiver(): OtlpReceiver {
      assert.ok(receiver, 'the receiver starts in the suite’s before hook');
      return receiver;
    },
    running: undefined,
  };
  const unexpected = watchUnexpectedErrors();
  before(async () => {
    receiver = await OtlpReceiver.start();
  });
  afterEach(async () => {
    await suite.running?.close();
    suite.running = undefined;
    suite.receiver.reset();
    assert.deepEqual(unexpected, [], 'no unhandled rejection or uncaught exception');
  });
  after(async () => {
    await receiver?.close();
  });
  return suite;
}
