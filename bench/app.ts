/*
 * The benchmarked app: one NestJS app, variant chosen by argument (see variants.ts). GET and POST /items exchange
 * ~1 KB of JSON.
 * Usage (from the repo root, after `npm run build:test`): node dist/bench/app.js <variant> <express|fastify>
 * Env: PORT, SINK_URL. Prints "ready <port>" once listening. On SIGTERM it closes the app (the module flushes what it
 * holds), prints "records <n>" for the variants that keep records in the process (`capture-only`: exchanges the
 * record sink was handed; `+format`, `+redact`: records in the batches it discarded), and exits.
 */
import 'reflect-metadata';
import {
  Body,
  Controller,
  Get,
  HttpCode,
  Injectable,
  Module,
  Post,
  type CallHandler,
  type DynamicModule,
  type NestInterceptor,
} from '@nestjs/common';
import { APP_INTERCEPTOR, NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsModule, OtlpTransport, type MetricsModuleOptions } from '../src';
// A deep import, bench only: `capture-only` swaps the record sink's entry points on the app's instance.
import { RECORD_SINK, type RecordSink } from '../src/interfaces/record-sink.interface';
import { installFloor } from './floor';
import { PAYLOAD, VARIANTS, type Variant } from './variants';

/** The peers live in bench/node_modules, out of the library's dependency tree. */
const requirePeer = createRequire(join(__dirname, '..', '..', 'bench', 'package.json'));

@Controller('items')
class ItemsController {
  @Get()
  list() {
    return PAYLOAD;
  }

  @Post()
  @HttpCode(200)
  create(@Body() body: unknown) {
    return body;
  }
}

interface BenchRequest {
  headers: Record<string, string | string[] | undefined>;
}
const group = (req: BenchRequest) => ({
  apiKey: String(req.headers['x-api-key'] ?? 'bench-key'),
  label: 'Bench',
  email: 'bench@example.com',
});

@Injectable()
class NoopInterceptor implements NestInterceptor {
  intercept(_context: unknown, next: CallHandler) {
    return next.handle();
  }
}

/** Overrides `send`, so it has no encoded side: OTLP records as they were before #25 (see variants.ts). */
class BatchOtlpTransport extends OtlpTransport {
  override send(...args: Parameters<OtlpTransport['send']>) {
    return super.send(...args);
  }
}

/** Records kept in this process by the ablation variants (printed on exit). */
let records = 0;

const RULES = ['$.user.password', '$.card.number'];

function metricsOptions(variant: Variant, sink: string): MetricsModuleOptions | undefined {
  switch (variant) {
    case 'nestjs-api-metrics':
    case 'otlp':
    case 'otlp-batch':
    case 'nestjs-api-metrics-offload':
    case 'no-interceptor':
    case 'offload-no-interceptor':
    case 'no-traffic-metrics':
    case 'dashboard':
    case 'capture-only': // the Dispatcher is cut off after start-up, see main()
      return {
        apiKey: 'bench-project-key',
        baseUrl: sink,
        group,
        redactRequestBody: RULES,
        redactResponseBody: RULES,
        ...((variant === 'nestjs-api-metrics-offload' || variant === 'offload-no-interceptor') && {
          offload: 'worker' as const,
        }),
        ...((variant === 'no-interceptor' || variant === 'offload-no-interceptor') && { interceptor: false }),
        ...(variant === 'no-traffic-metrics' && { trafficMetrics: false }),
        ...(variant === 'otlp' && {
          transport: new OtlpTransport({ url: `${sink}/v1/traces`, protocol: 'http/protobuf' }),
        }),
        ...(variant === 'otlp-batch' && {
          transport: new BatchOtlpTransport({ url: `${sink}/v1/traces`, protocol: 'http/protobuf' }),
        }),
        ...(variant === 'dashboard' && { dashboard: true }),
      };
    // The built-in ReadMe transport, so records take the write-once path; its sender is cut off after start-up.
    case '+format':
      return { apiKey: 'bench-project-key', baseUrl: sink, group, redactDefaults: false };
    case '+redact':
      return { apiKey: 'bench-project-key', baseUrl: sink, group, redactRequestBody: RULES, redactResponseBody: RULES };
    default:
      return undefined;
  }
}

function appModule(variant: Variant, sink: string): DynamicModule {
  @Module({})
  class BenchModule {}
  const options = metricsOptions(variant, sink);
  const imports = options ? [MetricsModule.forRoot(options)] : [];
  // The floor carries the no-op interceptor too: the library registers a global interceptor by default.
  const providers =
    variant === 'noop-interceptor' || variant === 'floor'
      ? [{ provide: APP_INTERCEPTOR, useClass: NoopInterceptor }]
      : [];
  return { module: BenchModule, imports, providers, controllers: [ItemsController] };
}

async function main(): Promise<void> {
  const [variant = 'bare', adapter = 'express'] = process.argv.slice(2) as [Variant?, string?];
  if (!VARIANTS.includes(variant)) throw new Error(`unknown variant ${variant}`);
  const sink = process.env.SINK_URL ?? 'http://127.0.0.1:9';
  process.env.README_METRICS_SERVER = sink; // readmeio
  process.env.APITALLY_HUB_BASE_URL = sink; // apitally
  const app = await NestFactory.create(
    appModule(variant, sink),
    (adapter === 'fastify' ? new FastifyAdapter() : new ExpressAdapter()) as never,
    { logger: ['error'] },
  );
  const dispatcher = () => app.get<symbol, RecordSink>(RECORD_SINK, { strict: false });
  if (variant === 'capture-only') {
    const sink = dispatcher();
    sink.enqueue = () => {
      records++;
    };
    sink.deliverNow = () => {
      records++;
      return Promise.resolve();
    };
  } else if (variant === '+format' || variant === '+redact') {
    // Records are written (redacted, escaped, encoded) when they settle and queued; the batches are discarded.
    const sender = (dispatcher() as unknown as { stage?: { encoded?: { send(batch: Buffer[]): Promise<void> } } }).stage
      ?.encoded;
    if (!sender) throw new Error('the bench expects the write-once path of the built-in ReadMe transport');
    sender.send = (batch) => {
      records += batch.length;
      return Promise.resolve();
    };
  }
  let logDir: string | undefined;
  const floor = variant === 'floor' ? installFloor(app, adapter, sink, group) : undefined;
  if (variant === 'pino-http') {
    // One JSON line per request into a file on disk (removed on exit), through pino's asynchronous destination.
    const pino = requirePeer('pino') as {
      (options: object, stream: unknown): unknown;
      destination(options: object): unknown;
    };
    const pinoHttp = requirePeer('pino-http') as (
      options: object,
    ) => (req: unknown, res: unknown, next: () => void) => void;
    logDir = mkdtempSync(join(tmpdir(), 'bench-pino-'));
    const logger = pino({}, pino.destination({ dest: join(logDir, 'requests.log'), sync: false, mkdir: true }));
    app.use(pinoHttp({ logger }));
  } else if (variant === 'readmeio') {
    const readme = requirePeer('readmeio') as {
      log(key: string, req: unknown, res: unknown, group: unknown, options: unknown): void;
    };
    app.use((req: BenchRequest, res: unknown, next: () => void) => {
      readme.log('bench-project-key', req, res, group(req), { baseLogUrl: sink, bufferLength: 10 });
      next();
    });
  } else if (variant === 'moesif-nodejs') {
    const moesif = requirePeer('moesif-nodejs') as (options: object) => unknown;
    app.use(
      moesif({
        applicationId: 'bench-application-id-'.padEnd(64, 'x'), // moesif only checks the length
        baseUri: sink,
        identifyUser: (req: BenchRequest) => group(req).apiKey,
        logBody: true,
      }),
    );
  } else if (variant === 'apitally') {
    const apitally = requirePeer(`apitally/${adapter}`) as { useApitally(app: unknown, config: object): Promise<void> };
    await apitally.useApitally(adapter === 'express' ? app.getHttpAdapter().getInstance() : app, {
      clientId: 'fd5b3c5e-0c6b-4a8b-9a6e-2b5c1d7e8f90',
      env: 'bench',
      requestLogging: {
        enabled: true,
        logQueryParams: true,
        logRequestHeaders: true,
        logRequestBody: true,
        logResponseHeaders: true,
        logResponseBody: true,
      },
    });
  }
  // Not enableShutdownHooks(): it re-raises the signal after closing, and the process dies without a word.
  process.once('SIGTERM', () => {
    void Promise.all([app.close(), floor?.close()]) // the module (and the floor) flush what they hold
      .catch((error: unknown) => process.stderr.write(`close: ${(error as Error)?.stack ?? String(error)}\n`))
      .finally(() => {
        if (variant === 'capture-only' || variant === '+format' || variant === '+redact') {
          process.stdout.write(`records ${records}\n`);
        }
        if (logDir) rmSync(logDir, { recursive: true, force: true });
        process.exit(0);
      });
  });
  await app.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
  const port = Number(new URL(await app.getUrl()).port);
  process.stdout.write(`ready ${port}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
