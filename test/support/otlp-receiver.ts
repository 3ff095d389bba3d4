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
    this.decoded.length = 0;
    this.requests.length = 0;
  }

  async close(): Promise<void> {
    await this.server.close();
  }
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
