import 'reflect-metadata';
import {
  Body,
  Controller,
  Get,
  HttpCode,
  Module,
  Post,
  Query,
  type DynamicModule,
  type INestApplication,
  type LoggerService,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import axios from 'axios';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MetricsModule, MetricsService, type MetricsModuleOptions } from '../../src';
import type { AdapterName, RunningApp } from './adapters';

/** The app of wire-truth and bounds e2e specs: handlers that mutate, answer late, or answer huge. */
/** A loopback server answering after `delayMs`: the target of outgoing calls that finish after the response. */
export async function slowServer(delayMs: number): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    setTimeout(() => res.end('{"late":true}'), delayMs).unref();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** Where /truth/late-call sends its call; set by the test. */
export const outgoing = { target: '' };
const client = axios.create({ timeout: 5000 });

@Controller('truth')
class TruthController {
  constructor(metrics: MetricsService) {
    metrics.observeAxios(client);
  }

  @Post('mutate')
  @HttpCode(200)
  mutate(@Body() body: Record<string, unknown>) {
    const answer = { state: 'as sent', items: [1, 2, 3] };
    setImmediate(() => {
      answer.state = 'mutated after the response';
      answer.items.push(4);
      body.note = 'mutated after the response';
      (body.list as unknown[] | undefined)?.push('added later');
    });
    return answer;
  }

  @Get('plain')
  plain() {
    return { ok: true };
  }

  @Get('fail')
  fail() {
    throw new Error('handler failed');
  }

  @Get('late-call')
  lateCall() {
    void client.get(`${outgoing.target}/late`).catch(() => undefined);
    return { started: true };
  }

  @Post('sink')
  @HttpCode(200)
  sink(@Body() body: unknown, @Query('answer') answer?: string) {
    return answer === 'big' ? { echo: 'z'.repeat(5 * 1024 * 1024) } : { got: typeof body };
  }

  @Get('huge-string')
  hugeString() {
    return 'x'.repeat(100 * 1024 * 1024);
  }

  /** A key the default rules redact, so the body must go through redaction, and a million items after it. */
  @Get('huge-array')
  hugeArray() {
    return { token: 'huge-secret', rows: Array.from({ length: 1_000_000 }, (_, i) => ({ i })) };
  }
}

/** Module options of the truth and bounds suites: this collector, big batches, no timed flush (tests flush). */
export function truthOptions(collectorUrl: string, extra: MetricsModuleOptions = {}): MetricsModuleOptions {
  return { apiKey: 'k', baseUrl: collectorUrl, bufferLength: 100, flushInterval: 60_000, ...extra };
}

export function truthModule(options: MetricsModuleOptions): DynamicModule {
  @Module({})
  class TruthModule {}
  return { module: TruthModule, imports: [MetricsModule.forRoot(options)], controllers: [TruthController] };
}

export class Captured implements LoggerService {
  readonly lines: string[] = [];
  log(message: unknown) {
    this.lines.push(String(message));
  }
  warn(message: unknown) {
    this.lines.push(String(message));
  }
  error(message: unknown) {
    this.lines.push(String(message));
  }
}

/** Like startApp, with body limits big enough for 5 MB uploads and an optional global prefix. */
export async function start(
  module: unknown,
  adapter: AdapterName,
  setup: { prefix?: string; logger?: LoggerService } = {},
): Promise<RunningApp> {
  const httpAdapter =
    adapter === 'express' ? new ExpressAdapter() : new FastifyAdapter({ bodyLimit: 64 * 1024 * 1024 });
  const app: INestApplication = await NestFactory.create(module as never, httpAdapter as never, {
    logger: setup.logger ?? false,
    abortOnError: false,
  });
  if (adapter === 'express') (app as NestExpressApplication).useBodyParser('json', { limit: '64mb' });
  if (setup.prefix) app.setGlobalPrefix(setup.prefix);
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return { app, url, close: () => app.close() };
}
