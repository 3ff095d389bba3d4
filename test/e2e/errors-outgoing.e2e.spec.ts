import 'reflect-metadata';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { before, describe, it } from 'node:test';
import { HttpModule, HttpService } from '@nestjs/axios';
import {
  BadRequestException,
  Body,
  Catch,
  Controller,
  ForbiddenException,
  Get,
  HttpCode,
  HttpException,
  Module,
  Param,
  ParseIntPipe,
  Post,
  Query,
  UseFilters,
  UseGuards,
  type ArgumentsHost,
  type DynamicModule,
  type ExceptionFilter,
} from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import axios from 'axios';
import { delay, firstValueFrom, map, of } from 'rxjs';
import {
  MetricsModule,
  MetricsService,
  ReportToMetrics,
  type MetricsModuleOptions,
  type MetricsRecord,
} from '../../src';
import { ADAPTERS, startApp, type AdapterName, type RunningApp } from '../support/adapters';
import { Collector } from '../support/collector';
import { assertValidHar, header } from '../support/har';
import { httpRequest } from '../support/http';
import { appPerTest } from '../support/suite';

/** Where the app's outgoing calls go: the app itself (set once it listens), or a closed port. */
const targets = { self: '', closed: '' };

class DenyGuard {
  canActivate(): boolean {
    throw new ForbiddenException('no entry');
  }
}

@Controller('target')
class TargetController {
  @Get('ok')
  ok(@Query('n') n?: string) {
    return { target: 'ok', n };
  }

  @Get('missing')
  missing() {
    throw new HttpException({ reason: 'gone' }, 404);
  }

  @Get('broken')
  broken() {
    throw new Error('target broke');
  }

  @Get('slow')
  async slow() {
    await sleep(300);
    return { slow: true };
  }

  @Post('echo')
  @HttpCode(200)
  echo(@Body() body: unknown) {
    return body;
  }
}

/** A method-scoped filter of the app, without @ReportToMetrics(): only the interceptor sees what it catches. */
@Catch()
class ScopedTeapotFilter implements ExceptionFilter {
  catch(_exception: unknown, host: ArgumentsHost) {
    const res = host.switchToHttp().getResponse<{ raw?: unknown }>();
    const raw = (res.raw ?? res) as import('node:http').ServerResponse;
    raw.writeHead(418, { 'content-type': 'application/json' }).end('{"scoped":true}');
  }
}

@Controller('ctx')
class ContextController {
  constructor(
    private readonly metrics: MetricsService,
    private readonly http: HttpService,
  ) {}

  @Get('await')
  async afterAwait() {
    await sleep(5);
    this.metrics.reportError(new Error('after await', { cause: new RangeError('root cause') }));
    return { id: this.metrics.currentRequestId() };
  }

  @Get('rxjs')
  rxjs() {
    return of(1).pipe(
      delay(5),
      map(() => {
        this.metrics.reportError('a string error');
        return { id: this.metrics.currentRequestId() };
      }),
    );
  }

  @Get('timer')
  timer() {
    return new Promise((resolve) =>
      setTimeout(() => {
        this.metrics.reportError({ name: 'PlainError', message: 'plain object' });
        this.metrics.reportError(42);
        resolve({ id: this.metrics.currentRequestId() });
      }, 5),
    );
  }

  @Get('throw')
  throws() {
    throw new Error('handler error');
  }

  @Get('guarded')
  @UseGuards(DenyGuard)
  guarded() {
    return 'never';
  }

  @Get('pipe/:id')
  pipe(@Param('id', ParseIntPipe) id: number) {
    return id;
  }

  @Get('scoped')
  @UseFilters(ScopedTeapotFilter)
  async scoped() {
    await sleep(1);
    throw new Error('caught by a scoped filter');
  }

  @Get('custom')
  custom() {
    throw new BadRequestException({ field: 'name', problem: 'missing' });
  }

  @Get('call/:kind')
  async call(@Param('kind') kind: string, @Query('n') n?: string) {
    const url =
      kind === 'network' ? `${targets.closed}/target/ok` : `${targets.self}/target/${kind}?n=${n ?? ''}&token=CANARYq1`;
    try {
      const res = await firstValueFrom(
        this.http.get(url, { headers: { authorization: 'Bearer CANARYq2' }, timeout: kind === 'slow' ? 100 : 2000 }),
      );
      return { status: res.status, data: res.data };
    } catch (error) {
      return { failed: (error as { code?: string }).code ?? 'unknown' };
    }
  }

  @Get('post')
  async post() {
    const res = await firstValueFrom(this.http.post(`${targets.self}/target/echo`, { password: 'CANARYq3', a: 1 }));
    return res.data;
  }

  /** A plain axios instance with the app's own interceptors, observed through observeAxios(). */
  @Get('plain-axios')
  async plainAxios() {
    const instance = axios.create();
    const order: string[] = [];
    instance.interceptors.request.use((config) => {
      order.push('request-1');
      config.headers.set('x-added-by-app', 'yes');
      return config;
    });
    instance.interceptors.request.use((config) => {
      order.push('request-2');
      return config;
    });
    instance.interceptors.response.use((response) => {
      order.push('response');
      return { ...response, data: { wrapped: response.data } };
    });
    this.metrics.observeAxios(instance);
    this.metrics.observeAxios(instance); // idempotent
    const res = await instance.get(`${targets.self}/target/ok?n=7`);
    // Our marker on the app's defaults must not show in copies of them (`{ ...defaults }`, Object.assign).
    const copied = Object.getOwnPropertySymbols({ ...instance.defaults }).map(String);
    return { data: res.data, order, copied };
  }

  @Get('late')
  late() {
    // Fire and forget: the call ends after this request did.
    void firstValueFrom(this.http.get(`${targets.self}/target/slow`)).catch(() => undefined);
    return { id: this.metrics.currentRequestId() };
  }
}

function appModule(options: MetricsModuleOptions | undefined, extraProviders: unknown[] = []): DynamicModule {
  @Module({})
  class ErrorsAppModule {}
  return {
    module: ErrorsAppModule,
    imports: [...(options ? [MetricsModule.forRoot(options)] : []), HttpModule.register({})],
    controllers: options ? [ContextController, TargetController] : [TargetController, ContextController],
    providers: [
      ...(options
        ? []
        : [{ provide: MetricsService, useValue: { reportError: () => undefined, currentRequestId: () => '' } }]),
      ...(extraProviders as never[]),
    ],
  };
}

function entries(record: MetricsRecord) {
  return record.request.log.entries;
}

for (const adapter of ADAPTERS) {
  describe(`errors and outgoing calls (${adapter})`, () => {
    const suite = appPerTest();
    let closedUrl: string;

    before(async () => {
      const closed = await Collector.start();
      closedUrl = closed.url;
      await closed.close();
    });

    async function start(
      options: Partial<MetricsModuleOptions> = {},
      name: AdapterName = adapter,
      extra: unknown[] = [],
    ) {
      suite.running = await startApp(
        appModule({ apiKey: 'k', baseUrl: suite.collector.url, bufferLength: 500, ...options }, extra),
        name,
      );
      targets.self = suite.running.url;
      targets.closed = closedUrl;
      return suite.running;
    }

    async function flushRecords(): Promise<MetricsRecord[]> {
      await sleep(20);
      await suite.running!.app.get(MetricsService).flush();
      return suite.collector.records.filter((r) => !entries(r)[0]!.request.url.includes('/target/'));
    }

    it('reportError links errors to the request across awaits, RxJS and timers; ids known from the start', async () => {
      const app = await start();
      const bodies: { id: string }[] = [];
      for (const path of ['/ctx/await', '/ctx/rxjs', '/ctx/timer']) {
        bodies.push(JSON.parse((await httpRequest(app.url + path)).body.toString()));
      }
      const records = await flushRecords();
      assert.deepEqual(
        records.map((r) => r._id),
        bodies.map((b) => b.id),
      );
      const [awaited, rx, timer] = records.map((r) => entries(r)[0]!._errors as Record<string, unknown>[]);
      assert.equal(awaited!.length, 1);
      assert.equal(awaited![0]!.errorType, 'Error');
      assert.equal(awaited![0]!.message, 'after await');
      assert.equal(awaited![0]!.rootErrorType, 'RangeError');
      assert.equal(awaited![0]!.rootErrorMessage, 'root cause');
      assert.match(String(awaited![0]!.stackTrace), /after await/);
      assert.ok(!Number.isNaN(Date.parse(String(awaited![0]!.when))));
      assert.equal(rx![0]!.message, 'a string error');
      assert.deepEqual(
        timer!.map((e) => [e.errorType, e.message]),
        [
          ['PlainError', 'plain object'],
          ['number', '42'],
        ],
      );
      for (const record of records) await assertValidHar(record);
    });

    it('reportError outside a request never throws or rejects, and records nothing', async () => {
      const app = await start();
      const metrics = app.app.get(MetricsService);
      assert.equal(metrics.reportError(new Error('bootstrap')), undefined);
      assert.equal(metrics.reportError(Symbol('odd')), undefined);
      await metrics.flush();
      assert.equal(metrics.stats().captured, 0);
    });

    it('the filter reports every exception that ends a request, HttpExceptions marked', async () => {
      const app = await start();
      for (const path of ['/ctx/throw', '/ctx/guarded', '/ctx/pipe/abc', '/nowhere']) await httpRequest(app.url + path);
      const records = await flushRecords();
      const errors = records.map((r) => entries(r)[0]!._errors as Record<string, unknown>[]);
      assert.deepEqual(
        errors.map((list) => list.map((e) => [e.errorType, e.message, e.httpException ?? false])),
        [
          [['Error', 'handler error', false]],
          [['ForbiddenException', 'no entry', true]],
          [['BadRequestException', 'Validation failed (numeric string is expected)', true]],
          [['NotFoundException', 'Cannot GET /nowhere', true]],
        ],
      );
    });

    it("an error a handler throws is recorded even when the app's own method-scoped filter answers it", async () => {
      const app = await start();
      const res = await httpRequest(app.url + '/ctx/scoped');
      assert.equal(res.status, 418);
      assert.equal(res.body.toString(), '{"scoped":true}');
      const [record] = await flushRecords();
      assert.equal(entries(record!)[0]!.response.status, 418);
      assert.deepEqual(
        (entries(record!)[0]!._errors as Record<string, unknown>[]).map((e) => [e.errorType, e.message]),
        [['Error', 'caught by a scoped filter']],
      );
    });

    it('interceptor: false records the same exchanges and errors, except those a scoped filter of the app answers', async () => {
      const app = await start({ interceptor: false });
      const bodies: string[] = [];
      for (const path of ['/ctx/scoped', '/ctx/throw', '/ctx/await', '/ctx/rxjs', '/ctx/guarded']) {
        bodies.push((await httpRequest(app.url + path)).body.toString());
      }
      assert.equal(bodies[0], '{"scoped":true}');
      const records = await flushRecords();
      assert.deepEqual(
        records.map((r) => [
          entries(r)[0]!.response.status,
          ((entries(r)[0]!._errors ?? []) as Record<string, unknown>[]).map((e) => e.message),
        ]),
        [
          [418, []], // the one thing given up: only the interceptor sees what a scoped filter catches
          [500, ['handler error']],
          [200, ['after await']],
          [200, ['a string error']],
          [403, ['no entry']],
        ],
      );
      assert.equal(records[2]!._id, JSON.parse(bodies[2]!).id, 'the request context works without the interceptor');
      assert.equal(records[3]!._id, JSON.parse(bodies[3]!).id);
    });

    it('answers exactly as plain Nest does (status, headers, body bytes)', async () => {
      const paths = ['/ctx/throw', '/ctx/guarded', '/ctx/pipe/abc', '/nowhere', '/ctx/custom', '/target/missing'];
      const plain = await startApp(appModule(undefined), adapter);
      const withModule = await start();
      try {
        for (const path of paths) {
          const [a, b] = [await httpRequest(plain.url + path), await httpRequest(withModule.url + path)];
          assert.equal(b.status, a.status, path);
          assert.deepEqual(b.body, a.body, path);
          for (const name of ['content-type', 'content-length', 'cache-control', 'x-powered-by']) {
            assert.equal(b.headers[name], a.headers[name], `${path} ${name}`);
          }
        }
      } finally {
        await plain.close();
      }
    });

    /** An app's own catch-all filter: answers `{ mine: true }` with the exception's status. */
    function appCatchAll(decorated: boolean) {
      @Catch()
      class AppCatchAll implements ExceptionFilter {
        catch(exception: unknown, host: ArgumentsHost) {
          const res = host.switchToHttp().getResponse<{ raw?: unknown }>();
          const status = exception instanceof HttpException ? exception.getStatus() : 500;
          const raw = (res.raw ?? res) as import('node:http').ServerResponse;
          raw.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ mine: true }));
        }
      }
      if (decorated) {
        const descriptor = Object.getOwnPropertyDescriptor(AppCatchAll.prototype, 'catch')!;
        Object.defineProperty(
          AppCatchAll.prototype,
          'catch',
          ReportToMetrics()(AppCatchAll.prototype, 'catch', descriptor) as PropertyDescriptor,
        );
      }
      return AppCatchAll;
    }

    async function assertOwnFilterAnswersAndErrorsAreReported(app: RunningApp) {
      const statuses = [];
      for (const path of ['/ctx/guarded', '/nowhere', '/ctx/throw']) {
        const res = await httpRequest(app.url + path);
        statuses.push(res.status);
        assert.deepEqual(JSON.parse(res.body.toString()), { mine: true }, path);
      }
      assert.deepEqual(statuses, [403, 404, 500]);
      const records = await flushRecords();
      assert.deepEqual(
        records.map((r) => [
          entries(r)[0]!.response.status,
          (entries(r)[0]!._errors as { message: string }[]).map((e) => e.message),
        ]),
        [
          [403, ['no entry']],
          [404, ['Cannot GET /nowhere']],
          [500, ['handler error']],
        ],
      );
    }

    it("an app's own global filter (APP_FILTER) still answers, and errors are still reported", async () => {
      const app = await start({}, adapter, [{ provide: APP_FILTER, useClass: appCatchAll(false) }]);
      await assertOwnFilterAnswersAndErrorsAreReported(app);
    });

    it('a filter from app.useGlobalFilters() keeps reporting guard errors and 404s with @ReportToMetrics()', async () => {
      suite.running = await startApp(
        appModule({ apiKey: 'k', baseUrl: suite.collector.url, bufferLength: 500 }),
        adapter,
        (app) => {
          app.useGlobalFilters(new (appCatchAll(true))());
        },
      );
      await assertOwnFilterAnswersAndErrorsAreReported(suite.running);
    });

    it('outgoing calls: success, 4xx, 5xx, network error, timeout; linked and redacted', async () => {
      const app = await start();
      const results: Record<string, unknown> = {};
      for (const kind of ['ok', 'missing', 'broken', 'network', 'slow']) {
        results[kind] = JSON.parse((await httpRequest(`${app.url}/ctx/call/${kind}?n=1`)).body.toString());
      }
      // Observation changes nothing the app sees.
      assert.deepEqual(results, {
        ok: { status: 200, data: { target: 'ok', n: '1' } },
        missing: { failed: 'ERR_BAD_REQUEST' },
        broken: { failed: 'ERR_BAD_RESPONSE' },
        network: { failed: 'ECONNREFUSED' },
        slow: { failed: 'ECONNABORTED' },
      });
      await httpRequest(`${app.url}/ctx/post`);
      const records = await flushRecords();
      assert.equal(records.length, 6);
      const calls = records.map((r) => {
        assert.equal(entries(r).length, 2, 'the incoming exchange, then its outgoing call');
        const call = entries(r)[1]!;
        assert.equal(call._parentId, r._id);
        assert.equal(call._outgoing, true);
        return call;
      });
      assert.deepEqual(
        calls.map((c) => c.response.status),
        [200, 404, 500, 0, 0, 200],
      );
      assert.equal(JSON.parse(calls[0]!.response.content.text ?? '').target, 'ok');
      assert.deepEqual(JSON.parse(calls[1]!.response.content.text ?? ''), { reason: 'gone' });
      assert.equal((calls[3]!._error as { code: string }).code, 'ECONNREFUSED');
      assert.equal((calls[4]!._error as { code: string }).code, 'ECONNABORTED');
      assert.match(calls[0]!.request.url, /\/target\/ok\?n=1&token=%5BREDACTED%5D$/);
      assert.match(header(calls[0]!.request.headers, 'authorization') ?? '', /^sha512-/);
      assert.deepEqual(JSON.parse(calls[5]!.request.postData?.text ?? ''), { password: '[REDACTED]', a: 1 });
      assert.equal(
        suite.collector.calls
          .map((c) => c.raw)
          .join()
          .match(/CANARYq\d/g),
        null,
      );
      assert.ok(calls[4]!.time >= 90 && calls[4]!.time < 1000, `timeout recorded after ${calls[4]!.time} ms`);
      for (const record of records) await assertValidHar(record);
    });

    it('a call that ends after its request is shipped as its own record with _parentId', async () => {
      const app = await start();
      const { id } = JSON.parse((await httpRequest(`${app.url}/ctx/late`)).body.toString()) as { id: string };
      await sleep(400);
      const records = await flushRecords();
      const parent = records.find((r) => r._id === id)!;
      assert.equal(entries(parent).length, 1);
      const late = suite.collector.records.find((r) => entries(r)[0]!._parentId === id);
      assert.ok(late, 'late call recorded');
      assert.equal(entries(late)[0]!._outgoing, true);
      assert.match(entries(late)[0]!.request.url, /\/target\/slow$/);
      assert.equal(late.group.id, parent.group.id);
    });

    it('50 concurrent requests never cross-link their calls', async () => {
      const app = await start();
      await Promise.all(Array.from({ length: 50 }, (_, n) => httpRequest(`${app.url}/ctx/call/ok?n=${n}`)));
      const records = await flushRecords();
      assert.equal(records.length, 50);
      for (const record of records) {
        const [incoming, call] = entries(record);
        const n = /[?&]n=(\d+)/.exec(incoming!.request.url)?.[1];
        assert.ok(n !== undefined);
        assert.equal(call?._parentId, record._id);
        assert.equal(/[?&]n=(\d+)/.exec(call!.request.url)?.[1], n, 'the call carries its own request number');
      }
    });

    it('observeAxios(): a plain instance is recorded once, its interceptors keep their order and effect', async () => {
      const app = await start();
      const body = JSON.parse((await httpRequest(`${app.url}/ctx/plain-axios`)).body.toString());
      assert.deepEqual(body, {
        data: { wrapped: { target: 'ok', n: '7' } },
        order: ['request-2', 'request-1', 'response'],
        copied: [],
      });
      const records = await flushRecords();
      const all = entries(records[0]!);
      assert.equal(all.length, 2, 'one entry for the call, though observed twice');
      // The entry shows the request as sent (after the app's request interceptors) and the response as received.
      assert.equal(header(all[1]!.request.headers, 'x-added-by-app'), 'yes');
      assert.deepEqual(JSON.parse(all[1]!.response.content.text ?? ''), { target: 'ok', n: '7' });
    });

    it('captureOutgoing false leaves HttpService alone', async () => {
      const app = await start({ captureOutgoing: false });
      await httpRequest(`${app.url}/ctx/call/ok?n=1`);
      const records = await flushRecords();
      assert.equal(entries(records[0]!).length, 1);
    });
  });
}
