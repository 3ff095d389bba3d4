import 'reflect-metadata';
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { MetricsService, OtlpTransport, type MetricsModuleOptions, type MetricsStats } from '../../src';
import { ADAPTERS, startApp, type AdapterName, type RunningApp } from '../support/adapters';
import { Collector } from '../support/collector';
import { httpRequest } from '../support/http';
import { testAppModule } from '../support/test-app';
import { watchUnexpectedErrors } from '../support/unexpected';

/*
 * Faults of an OTLP receiver: the http/* receiver is a plain HTTP server told how to answer (test/support/collector),
 * the gRPC one a real @grpc/grpc-js server answering the OTLP Export method with the status it is told.
 */

const REQUESTS = 10;
const EXPORT = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

type GrpcAnswer = (callback: grpc.sendUnaryData<Buffer>) => void;

class GrpcReceiver {
  calls: number[] = [];
  answer: GrpcAnswer = (callback) => callback(null, Buffer.alloc(0));

  private constructor(
    private readonly server: grpc.Server,
    readonly url: string,
  ) {}

  static async start(): Promise<GrpcReceiver> {
    const server = new grpc.Server();
    const identity = (b: Buffer) => b;
    const holder: { receiver?: GrpcReceiver } = {};
    server.addService(
      {
        Export: {
          path: EXPORT,
          requestStream: false,
          responseStream: false,
          requestSerialize: identity,
          requestDeserialize: identity,
          responseSerialize: identity,
          responseDeserialize: identity,
        },
      },
      {
        Export: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
          holder.receiver!.calls.push(performance.now());
          holder.receiver!.answer(callback);
        },
      },
    );
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, p) =>
        error ? reject(error) : resolve(p),
      ),
    );
    holder.receiver = new GrpcReceiver(server, `http://127.0.0.1:${port}`);
    return holder.receiver;
  }

  reset(): void {
    this.calls = [];
    this.answer = (callback) => callback(null, Buffer.alloc(0));
  }

  close(): void {
    this.server.forceShutdown();
  }
}

function assertCountsAddUp(stats: MetricsStats): void {
  const { captured, sent, dropped, failed, queued, inFlight } = stats;
  assert.equal(sent + dropped + failed + queued + inFlight, captured, JSON.stringify(stats));
}

/** REQUESTS requests; every answer is right and quick whatever the receiver does. */
async function load(app: RunningApp): Promise<void> {
  for (let i = 0; i < REQUESTS; i++) {
    const res = await httpRequest(`${app.url}/orders/${i}`);
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body.toString()), { id: i, item: 'book' });
    assert.ok(res.ms < 1000, `answer took ${res.ms.toFixed(0)} ms`);
  }
}

for (const adapter of ADAPTERS) {
  describe(`OTLP delivery faults (${adapter})`, () => {
    let http: Collector;
    let grpcReceiver: GrpcReceiver;
    let running: RunningApp | undefined;
    const unexpected = watchUnexpectedErrors();

    before(async () => {
      http = await Collector.start();
      grpcReceiver = await GrpcReceiver.start();
    });
    afterEach(async () => {
      await running?.close();
      running = undefined;
      http.reset();
      grpcReceiver.reset();
      assert.deepEqual(unexpected, [], 'no unhandled rejection or uncaught exception');
    });
    after(async () => {
      await http.close();
      grpcReceiver.close();
    });

    async function start(transport: OtlpTransport, options: MetricsModuleOptions = {}, name: AdapterName = adapter) {
      running = await startApp(
        testAppModule(name, { transport, bufferLength: 100, shutdownTimeout: 300, ...options }),
        name,
      );
      return running;
    }

    const httpTransport = (protocol: 'http/protobuf' | 'http/json', timeout = 3000) =>
      new OtlpTransport({ url: `${http.url}/v1/traces`, protocol, timeout });

    for (const [status, protocol] of [
      [503, 'http/protobuf'],
      [429, 'http/json'],
    ] as const) {
      it(`${protocol} receiver answering ${status} with Retry-After: one retry, after the delay it asked for`, async () => {
        http.behaviour = (_c, res) => {
          if (http.calls.length === 1) res.writeHead(status, { 'retry-after': '1' }).end();
          else res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
        };
        const app = await start(httpTransport(protocol));
        await load(app);
        const metrics = app.app.get(MetricsService);
        await metrics.flush();
        const stats = metrics.stats();
        assert.equal(stats.sent, REQUESTS);
        assert.equal(stats.retried, 1);
        assert.equal(http.calls.length, 2, 'one retry layer: ours, not the exporter’s as well');
        const gap = http.calls[1]!.receivedAt - http.calls[0]!.receivedAt;
        assert.ok(gap >= 950, `retried after ${gap.toFixed(0)} ms`);
        assert.equal(
          http.calls[0]!.headers['content-type'],
          protocol === 'http/json' ? 'application/json' : 'application/x-protobuf',
        );
      });
    }

    it('http receiver answering 500 twice, then recovering: retried with backoff, nothing lost', async () => {
      http.behaviour = (_c, res) => res.writeHead(http.calls.length <= 2 ? 500 : 200).end();
      const app = await start(httpTransport('http/protobuf'));
      await load(app);
      const metrics = app.app.get(MetricsService);
      await metrics.flush();
      const stats = metrics.stats();
      assert.deepEqual([stats.sent, stats.failed, stats.retried, http.calls.length], [REQUESTS, 0, 2, 3]);
    });

    it('http receiver hanging after the batch was written: resent on purpose (unlike ReadMe: span ids let a backend drop a duplicate), each export bounded by timeout', async () => {
      http.behaviour = (_c, res) => {
        if (http.calls.length > 2) res.writeHead(200).end(); // the first two calls never get an answer
      };
      const app = await start(httpTransport('http/protobuf', 200));
      const started = performance.now();
      await load(app);
      const metrics = app.app.get(MetricsService);
      await metrics.flush();
      const stats = metrics.stats();
      assert.deepEqual([stats.sent, stats.retried, http.calls.length], [REQUESTS, 2, 3]);
      assert.ok(performance.now() - started < 3000, 'two timeouts of 200 ms and backoffs, not more');
    });

    it('http receiver down: answers unaffected, records given up after the retries, counts add up', async () => {
      const down = await Collector.start();
      const url = `${down.url}/v1/traces`;
      await down.close();
      const app = await start(new OtlpTransport({ url, protocol: 'http/protobuf', timeout: 200 }));
      await load(app);
      const metrics = app.app.get(MetricsService);
      await metrics.flush();
      const stats = metrics.stats();
      assert.equal(stats.failed, REQUESTS);
      assert.equal(stats.retried, 3);
      assertCountsAddUp(stats);
    });

    it('memory stays bounded while the receiver hangs', async () => {
      http.behaviour = () => undefined;
      const app = await start(httpTransport('http/protobuf', 60_000), {
        maxQueueSize: 20,
        maxConcurrentRequests: 1,
        bufferLength: 5,
      });
      for (let i = 0; i < 200; i += 10) {
        await Promise.all(Array.from({ length: 10 }, (_, j) => httpRequest(`${app.url}/orders/${i + j}`)));
      }
      const stats = app.app.get(MetricsService).stats();
      assert.ok(stats.queued <= 20, `queued ${stats.queued}`);
      assert.ok(stats.dropped >= 200 - 20 - 5 - 5, `dropped ${stats.dropped}`);
      assertCountsAddUp(stats);
    });

    for (const [code, name] of [
      [grpc.status.UNAVAILABLE, 'UNAVAILABLE'],
      [grpc.status.RESOURCE_EXHAUSTED, 'RESOURCE_EXHAUSTED'],
    ] as const) {
      it(`gRPC receiver answering ${name} once: retried, delivered`, async () => {
        grpcReceiver.answer = (callback) =>
          grpcReceiver.calls.length === 1 ? callback({ code, details: 'busy' }) : callback(null, Buffer.alloc(0));
        const app = await start(new OtlpTransport({ url: grpcReceiver.url, protocol: 'grpc' }));
        await load(app);
        const metrics = app.app.get(MetricsService);
        await metrics.flush();
        const stats = metrics.stats();
        assert.deepEqual([stats.sent, stats.retried, grpcReceiver.calls.length], [REQUESTS, 1, 2]);
      });
    }

    it('gRPC receiver hanging: the deadline bounds each export, delivery resumes', async () => {
      grpcReceiver.answer = (callback) => {
        if (grpcReceiver.calls.length > 1) callback(null, Buffer.alloc(0)); // the first call never gets an answer
      };
      const app = await start(new OtlpTransport({ url: grpcReceiver.url, protocol: 'grpc', timeout: 200 }));
      await load(app);
      const metrics = app.app.get(MetricsService);
      await metrics.flush();
      const stats = metrics.stats();
      assert.deepEqual([stats.sent, stats.retried, grpcReceiver.calls.length], [REQUESTS, 1, 2]);
    });

    it('gRPC receiver rejecting the key (UNAUTHENTICATED): delivery pauses after one call, the app runs on', async () => {
      grpcReceiver.answer = (callback) => callback({ code: grpc.status.UNAUTHENTICATED, details: 'bad key' });
      const app = await start(new OtlpTransport({ url: grpcReceiver.url, protocol: 'grpc' }), {
        maxConcurrentRequests: 1,
        bufferLength: 2,
      });
      await load(app);
      const metrics = app.app.get(MetricsService);
      await metrics.flush();
      assert.equal(grpcReceiver.calls.length, 1);
      assert.equal(metrics.stats().failed, REQUESTS);
    });

    it('gRPC receiver down: answers unaffected, given up after the retries, counts add up', async () => {
      const down = await GrpcReceiver.start();
      const url = down.url;
      down.close();
      const app = await start(new OtlpTransport({ url, protocol: 'grpc', timeout: 300 }));
      await load(app);
      const metrics = app.app.get(MetricsService);
      await metrics.flush();
      const stats = metrics.stats();
      assert.equal(stats.failed, REQUESTS);
      assertCountsAddUp(stats);
    });
  });
}
