import 'reflect-metadata';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { HttpService } from '@nestjs/axios';
import { Body, Controller, Get, HttpCode, Inject, Module, Param, Post } from '@nestjs/common';
import { ApplicationConfig } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import type { AxiosStatic } from 'axios';
import { firstValueFrom } from 'rxjs';
import {
  MetricsCapture,
  MetricsExceptionFilter,
  MetricsInterceptor,
  MetricsSample,
  MetricsService,
  METRICS_MODULE_OPTIONS,
  type MetricsModuleOptions,
} from '../../src';
import { currentExchange } from '../../src/capture/request-context';
import { ADAPTERS, startApp, type AdapterName } from '../support/adapters';
import { assertValidHar, entryOf, header } from '../support/har';
import { httpRequest } from '../support/http';
import { appPerTest } from '../support/suite';
import { testAppModule } from '../support/test-app';

const API_KEY = 'project-api-key';
// An axios other than ours (package.json: "axios-1.7": "npm:axios@1.7.9"), as an app pinned to it would have.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const appAxios = require('axios-1.7') as AxiosStatic;

/** Answers every request with the User-Agent it received. */
let uaServer: Server;
let uaUrl = '';

@Controller('ctl')
class ControlController {
  constructor(
    private readonly metrics: MetricsService,
    @Inject(HttpService) private readonly http: HttpService,
  ) {}

  @Get('sampled-always')
  @MetricsSample(1)
  always() {
    return { always: true };
  }

  @Get('fail/:code')
  fail(@Param('code') code: string) {
    throw Object.assign(new Error(`failed with ${code}`), { status: Number(code) });
  }

  @Post('fail')
  failWithBody(@Body() body: { order?: string }) {
    throw new Error(`could not place ${body.order ?? 'nothing'}`);
  }

  @Post('no-request-body')
  @HttpCode(200)
  @MetricsCapture({ requestBody: false })
  noRequestBody(@Body() body: unknown) {
    return { echoed: body };
  }

  @Post('no-response-body')
  @HttpCode(200)
  @MetricsCapture({ responseBody: false })
  noResponseBody(@Body() body: unknown) {
    return { secretAnswer: body };
  }

  /** Whether capture had taken the request body by the time the handler ran. */
  @Post('body-taken')
  @HttpCode(200)
  bodyTaken(@Body() body: unknown) {
    return { taken: currentExchange()?.requestBodyTaken ?? null, body };
  }

  @Get('request-id')
  requestId() {
    return { id: this.metrics.currentRequestId() ?? null };
  }

  /** An outgoing call through HttpService, whose axios is the app's 1.7.9. */
  @Get('outgoing')
  async outgoing() {
    const res = await firstValueFrom(this.http.get<{ ua: string }>(uaUrl));
    return res.data;
  }

  /** A plain axios 1.7.9 instance, observed through observeAxios(). */
  @Get('plain-outgoing')
  async plainOutgoing() {
    const instance = appAxios.create();
    this.metrics.observeAxios(instance);
    return (await instance.get<{ ua: string }>(uaUrl)).data;
  }
}

function controlModule(adapter: AdapterName, options: MetricsModuleOptions) {
  const base = testAppModule(adapter, { apiKey: API_KEY, ...options });
  @Module({})
  class ControlAppModule {}
  return {
    ...base,
    module: ControlAppModule,
    controllers: [...(base.controllers ?? []), ControlController],
    providers: [{ provide: HttpService, useFactory: () => new HttpService(appAxios.create() as never) }],
  };
}

before(async () => {
  uaServer = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ua: req.headers['user-agent'] ?? null }));
  });
  await new Promise<void>((resolve) => uaServer.listen(0, '127.0.0.1', resolve));
  uaUrl = `http://127.0.0.1:${(uaServer.address() as AddressInfo).port}/ua`;
});
after(() => new Promise<void>((resolve) => uaServer.close(() => resolve())));

for (const adapter of ADAPTERS) {
  describe(`route control (${adapter})`, () => {
    const suite = appPerTest();

    async function start(options: MetricsModuleOptions) {
      suite.running = await startApp(
        controlModule(adapter, { baseUrl: suite.collector.url, bufferLength: 100, ...options }),
        adapter,
      );
      return suite.running;
    }

    async function recorded(): Promise<string[]> {
      await suite.running!.app.get(MetricsService).flush();
      return suite.collector.records.map((r) => {
        const e = entryOf(r);
        return `${e.request.method} ${new URL(e.request.url).pathname} ${e.response.status}`;
      });
    }

    it('enabled: false records nothing, needs no apiKey, and registers no guard, interceptor, filter or context', async () => {
      const app = await start({ enabled: false, apiKey: undefined });
      for (const path of ['/orders/1', '/nowhere', '/orders/500']) await httpRequest(app.url + path);
      const id = JSON.parse((await httpRequest(`${app.url}/ctl/request-id`)).body.toString()) as { id: unknown };
      assert.equal(id.id, null, 'no request context was opened');
      assert.deepEqual(await recorded(), []);
      const stats = app.app.get(MetricsService).stats();
      assert.equal(stats.captured, 0);
      // Nest keeps the undefined a disabled enhancer's factory returns, and skips it when building each route.
      const config = app.app.get(ApplicationConfig);
      assert.ok(!config.getGlobalInterceptors().some((i) => i instanceof MetricsInterceptor));
      assert.ok(!config.getGlobalFilters().some((f) => f instanceof MetricsExceptionFilter));
      assert.deepEqual(
        config
          .getGlobalGuards()
          .filter((g) => g != null)
          .map((g) => g.constructor.name),
        [],
      );
      const out = JSON.parse((await httpRequest(`${app.url}/ctl/outgoing`)).body.toString()) as { ua: string };
      assert.equal(out.ua, 'axios/1.7.9', 'the app’s own axios, untouched');
    });

    it('Test.createTestingModule: overrideProvider(METRICS_MODULE_OPTIONS) turns the module off', async () => {
      const moduleRef = await Test.createTestingModule({
        imports: [controlModule(adapter, { baseUrl: suite.collector.url })],
      })
        .overrideProvider(METRICS_MODULE_OPTIONS)
        .useValue({ enabled: false })
        .compile();
      const app = moduleRef.createNestApplication(adapter === 'express' ? new ExpressAdapter() : new FastifyAdapter());
      await app.listen(0, '127.0.0.1');
      suite.running = { app, url: (await app.getUrl()).replace('[::1]', '127.0.0.1'), close: () => app.close() };
      assert.equal((await httpRequest(`${suite.running.url}/orders/1`)).status, 200);
      assert.deepEqual(await recorded(), []);
      assert.equal(
        app
          .get(ApplicationConfig)
          .getGlobalInterceptors()
          .filter((i) => i != null).length,
        0,
      );
    });

    it('exclude: route templates (method-specific, wildcards) and, for unknown routes, the path', async () => {
      const app = await start({
        exclude: ['/misc/header', { path: '/orders', method: 'POST' }, '/orders/*/handler-group', '/gone/*'],
      });
      await httpRequest(`${app.url}/misc/header?x=1`); // excluded
      await httpRequest(`${app.url}/misc/header/`); // trailing slash: the same route where the platform allows it
      await httpRequest(`${app.url}/orders`, {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      });
      await httpRequest(`${app.url}/orders/7/handler-group`); // excluded by wildcard
      await httpRequest(`${app.url}/orders/7`); // template /orders/:id: recorded
      await httpRequest(`${app.url}/gone/a/b?q=1`); // 404, path matches /gone/*
      await httpRequest(`${app.url}/elsewhere`); // 404, recorded
      const got = await recorded();
      assert.ok(got.includes('GET /orders/7 200'), got.join('\n'));
      assert.ok(got.includes('GET /elsewhere 404'), got.join('\n'));
      assert.ok(!got.some((l) => l.startsWith('GET /misc/header ')), got.join('\n'));
      assert.ok(!got.some((l) => l.startsWith('POST /orders ')), got.join('\n'));
      assert.ok(!got.some((l) => l.includes('handler-group')), got.join('\n'));
      assert.ok(!got.some((l) => l.includes('/gone/')), got.join('\n'));
    });

    it('sampleRate 0: only 5xx responses are recorded; @MetricsSample(1) overrides; stats() counts sampled-out', async () => {
      const app = await start({ sampleRate: 0 });
      await httpRequest(`${app.url}/orders/1`);
      await httpRequest(`${app.url}/nowhere`);
      await httpRequest(`${app.url}/orders/500`);
      await httpRequest(`${app.url}/ctl/fail/503`);
      await httpRequest(`${app.url}/ctl/sampled-always`);
      await httpRequest(`${app.url}/ctl/outgoing`); // its outgoing call is left out with it
      const got = await recorded();
      assert.deepEqual(got.sort(), ['GET /ctl/fail/503 500', 'GET /ctl/sampled-always 200', 'GET /orders/500 500']);
      assert.ok(suite.collector.records.every((r) => r.request.log.entries.length === 1));
      const stats = app.app.get(MetricsService).stats();
      assert.equal(stats.sampledOut, 3);
      assert.equal(stats.captured, 3);
    });

    it('a sampled-out request body is never taken: the draw comes first, on Fastify too (route learnt once)', async () => {
      const app = await start({ sampleRate: 0 });
      const json = { 'content-type': 'application/json' };
      const answers: unknown[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await httpRequest(`${app.url}/ctl/body-taken`, {
          method: 'POST',
          body: `{"n":${i}}`,
          headers: json,
        });
        answers.push(JSON.parse(res.body.toString()));
      }
      // Fastify learns the route's handler from the first request Nest routed there; from then on its preHandler
      // draws before taking anything. Express's guard knows the handler from the first request.
      assert.deepEqual(answers.slice(1), [
        { taken: false, body: { n: 1 } },
        { taken: false, body: { n: 2 } },
      ]);
      assert.equal(app.app.get(MetricsService).stats().sampledOut, 3);
    });

    it('a sampled-out request that ends in a 5xx is recorded whole: request and response bodies', async () => {
      const app = await start({ sampleRate: 0 });
      const json = { 'content-type': 'application/json' };
      await httpRequest(`${app.url}/misc/echo`, { method: 'POST', body: '{"order":"sampled-out"}', headers: json });
      await httpRequest(`${app.url}/ctl/fail`, { method: 'POST', body: '{"order":"A-42"}', headers: json });
      const got = await recorded();
      assert.deepEqual(got, ['POST /ctl/fail 500']);
      const entry = entryOf(suite.collector.records[0]!);
      assert.equal(entry.request.postData?.text, '{"order":"A-42"}');
      assert.match(entry.response.content.text ?? '', /Internal server error/);
      assert.equal(app.app.get(MetricsService).stats().sampledOut, 1);
    });

    it('sampleRate 0.5 records about half of the requests, each drawn independently', async () => {
      const app = await start({ sampleRate: 0.5 });
      for (let i = 0; i < 100; i++) await httpRequest(`${app.url}/orders/${i}`);
      const got = await recorded();
      const stats = app.app.get(MetricsService).stats();
      // Binomial(100, 0.5): 20..80 holds with probability 1 - 2e-9.
      assert.ok(got.length >= 20 && got.length <= 80, `recorded ${got.length} of 100`);
      assert.equal(stats.sampledOut + got.length, 100);
    });

    it('captureRequestBody / captureResponseBody and @MetricsCapture() leave bodies out, with a comment', async () => {
      const app = await start({ captureResponseBody: false });
      const json = { 'content-type': 'application/json' };
      await httpRequest(`${app.url}/misc/echo`, { method: 'POST', body: '{"a":"visible-req"}', headers: json });
      await httpRequest(`${app.url}/ctl/no-request-body`, { method: 'POST', body: '{"pii":"CANARY1"}', headers: json });
      await app.app.get(MetricsService).flush();
      const [echo, noReq] = suite.collector.records.map(entryOf);
      assert.equal(echo?.request.postData?.text, '{"a":"visible-req"}');
      assert.equal(echo?.response.content.text, '');
      assert.match(echo?.response.content.comment ?? '', /not recorded \(captureResponseBody\)/);
      assert.equal(echo?.response.content.size, Number(header(echo!.response.headers, 'content-length')));
      assert.equal(noReq?.request.postData?.text, '');
      assert.match(noReq?.request.postData?.comment ?? '', /not recorded \(captureRequestBody\)/);
      assert.ok(!JSON.stringify(suite.collector.records).includes('CANARY1'));
      for (const record of suite.collector.records) await assertValidHar(record);
    });

    it('@MetricsCapture({ responseBody: false }) on a handler keeps the request body', async () => {
      const app = await start({});
      const json = { 'content-type': 'application/json' };
      await httpRequest(`${app.url}/ctl/no-response-body`, { method: 'POST', body: '{"q":"CANARY2"}', headers: json });
      await app.app.get(MetricsService).flush();
      const entry = entryOf(suite.collector.records[0]!);
      assert.equal(entry.request.postData?.text, '{"q":"CANARY2"}');
      assert.equal(entry.response.content.text, '');
      assert.ok(!JSON.stringify(entry.response).includes('CANARY2'));
    });

    it("outgoing calls go through the app's own axios (1.7.9, not ours): HttpService and observeAxios()", async () => {
      const app = await start({});
      for (const path of ['/ctl/outgoing', '/ctl/plain-outgoing']) {
        const res = await httpRequest(app.url + path);
        assert.deepEqual(JSON.parse(res.body.toString()), { ua: 'axios/1.7.9' }, path);
      }
      await app.app.get(MetricsService).flush();
      const outgoing = suite.collector.records.flatMap((r) => r.request.log.entries.slice(1));
      assert.equal(outgoing.length, 2, 'both calls recorded');
      for (const entry of outgoing) {
        assert.equal(header(entry.request.headers, 'user-agent'), 'axios/1.7.9');
        assert.equal(entry.response.status, 200);
      }
    });
  });
}
