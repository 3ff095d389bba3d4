import 'reflect-metadata';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { HttpModule, HttpService } from '@nestjs/axios';
import {
  Body,
  Controller,
  Get,
  Header,
  HttpCode,
  Module,
  Post,
  Query,
  type DynamicModule,
  type INestApplication,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { MetricsModule, MetricsService, type MetricsModuleOptions } from '../../src';
import { ADAPTERS, type AdapterName, type RunningApp } from '../support/adapters';
import { assertValidHar, entryOf, header } from '../support/har';
import { httpRequest } from '../support/http';
import { appPerTest } from '../support/suite';

/*
 * What a hostile client (or an unlucky app) can make us ship: every secret is a canary that must not reach the
 * collector in any shape, on both platforms, through the real pipeline and collector.
 */

const CANARY = (n: string) => `CANARY${n}z9k`;
const LEAK = /CANARY\w+z9k/g;

@Controller('hostile')
class HostileController {
  constructor(private readonly http: HttpService) {}

  @Get('echo')
  get(@Query() query: unknown) {
    return { ok: true, keys: Object.keys(query as object).length };
  }

  @Post('echo')
  @HttpCode(200)
  post(@Body() body: unknown) {
    return { ok: true, type: typeof body };
  }

  @Get('redirect')
  @HttpCode(302)
  @Header('Location', `https://app.example/cb?code=visible&access_token=${CANARY('L1')}&state=kept`)
  @Header('Content-Location', `/r?id_token=${CANARY('L2')}`)
  redirect() {
    return '';
  }

  @Get('tokens')
  @Header('X-Auth-Token', CANARY('T1'))
  @Header('X-Access-Token', CANARY('T2'))
  @Header('Token', CANARY('T3'))
  @Header('X-CSRF-Token', CANARY('T4'))
  tokens() {
    return { ok: true };
  }

  @Get('text')
  @Header('content-type', 'text/plain; charset=utf-8')
  text() {
    return `user=visible\npassword=${CANARY('X1')}\ntoken: ${CANARY('X2')}\n<secret>${CANARY('X3')}</secret>\n`;
  }

  @Get('broken-json')
  @Header('content-type', 'application/json')
  broken() {
    return `{"pass\\u0077ord": "${CANARY('J1')}", "visible": "yes"`;
  }

  @Get('outgoing')
  async outgoing(@Query('target') target: string) {
    const url = new URL(target);
    url.username = 'bob';
    url.password = CANARY('U1');
    url.search = `token=${CANARY('U2')}&kept=1`;
    await this.http.axiosRef.get(url.toString(), { validateStatus: () => true });
    return { ok: true };
  }
}

function hostileModule(options: MetricsModuleOptions): DynamicModule {
  @Module({})
  class HostileAppModule {}
  return {
    module: HostileAppModule,
    imports: [MetricsModule.forRoot({ group: () => ({ apiKey: 'hostile-key' }), ...options }), HttpModule.register({})],
    controllers: [HostileController],
  };
}

/** A real app (like test/support's startApp) with the options this suite needs: rawBody, text parser on Express. */
async function startHostileApp(
  module: DynamicModule,
  adapter: AdapterName,
  rawBody: boolean,
): Promise<RunningApp & { port: number }> {
  const httpAdapter = adapter === 'express' ? new ExpressAdapter() : new FastifyAdapter();
  const app: INestApplication = await NestFactory.create(module as never, httpAdapter as never, {
    logger: false,
    abortOnError: false,
    rawBody,
  });
  if (adapter === 'express') (app as NestExpressApplication).useBodyParser('text');
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return { app, url, port: Number(new URL(url).port), close: () => app.close() };
}

/** One raw HTTP/1.1 request (what no client library would send), answered by the app; resolves on the answer. */
function rawRequest(port: number, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(`${head}\r\nConnection: close\r\n\r\n`));
    let answer = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer')));
  });
}

for (const adapter of ADAPTERS) {
  describe(`privacy against a hostile client (${adapter})`, () => {
    const suite = appPerTest();

    async function start(options: MetricsModuleOptions = {}, rawBody = false) {
      const app = await startHostileApp(
        hostileModule({ apiKey: 'k', baseUrl: suite.collector.url, ...options }),
        adapter,
        rawBody,
      );
      suite.running = app;
      return app;
    }

    async function shipped(app: RunningApp) {
      await app.app.get(MetricsService).flush();
      const raw = suite.collector.calls.map((c) => c.raw).join('\n');
      assert.equal(raw.match(LEAK), null, `leaked: ${raw.match(LEAK)?.join(', ')}`);
      for (const record of suite.collector.records) await assertValidHar(record);
      return { raw, entries: suite.collector.records.map(entryOf) };
    }

    it('bracket keys in the URL, queryString and urlencoded bodies (item 6)', async () => {
      const app = await start({ denylist: ['card'] });
      const query =
        `?password[]=${CANARY('B1')}&user[password]=${CANARY('B2')}&a[b][token]=${CANARY('B3')}` +
        `&user%5Btoken%5D=${CANARY('B4')}&x[card]=${CANARY('B5')}&page=2`;
      assert.equal((await httpRequest(`${app.url}/hostile/echo${query}`)).status, 200);
      const form = await httpRequest(`${app.url}/hostile/echo`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `user[password]=${CANARY('B6')}&password[]=${CANARY('B7')}&a[b][token]=${CANARY('B8')}&name=Bob`,
      });
      assert.equal(form.status, 200);
      const { raw, entries } = await shipped(app);
      for (const kept of ['page', 'Bob']) assert.ok(raw.includes(kept), `${kept} kept`);
      const [get] = entries;
      assert.deepEqual(
        get!.request.queryString.map((p) => p.value),
        ['[REDACTED]', '[REDACTED]', '[REDACTED]', '[REDACTED]', '[REDACTED]', '2'],
      );
    });

    it('a Host header cannot move where the path or query starts (item 7)', async () => {
      const app = await start();
      for (const host of ['evil?x=', 'evil#', 'evil/x?', 'a@evil', 'evil x']) {
        await rawRequest(app.port, `GET /hostile/echo?password=${CANARY('H1')}&n=1 HTTP/1.1\r\nHost: ${host}`);
      }
      const { entries } = await shipped(app);
      assert.ok(entries.length >= 1, 'recorded');
      for (const entry of entries) {
        const url = new URL(entry.request.url);
        assert.equal(url.pathname, '/hostile/echo', entry.request.url);
        assert.equal(url.search, '?password=%5BREDACTED%5D&n=1', entry.request.url);
        assert.deepEqual(entry.request.queryString, [
          { name: 'password', value: '[REDACTED]' },
          { name: 'n', value: '1' },
        ]);
        assert.ok(!/[?#@ ]/.test(url.host), entry.request.url);
      }
    });

    it('an absolute-form target is recorded as a correct URL, userinfo gone (item 10)', async () => {
      const app = await start();
      const answer = await rawRequest(
        app.port,
        `GET http://bob:${CANARY('A1')}@127.0.0.1:${app.port}/hostile/echo?token=${CANARY('A2')}&n=1 HTTP/1.1\r\n` +
          `Host: 127.0.0.1:${app.port}`,
      );
      assert.match(answer, /^HTTP\/1\.1 \d{3}/);
      const { entries } = await shipped(app);
      assert.equal(entries.length, 1);
      assert.equal(entries[0]!.request.url, `http://127.0.0.1:${app.port}/hostile/echo?token=%5BREDACTED%5D&n=1`);
    });

    it('outgoing calls: userinfo password and query secrets are redacted (items 10, 11)', async () => {
      const app = await start({ captureOutgoing: true });
      const target = `${suite.collector.url}/somewhere`;
      assert.equal((await httpRequest(`${app.url}/hostile/outgoing?target=${encodeURIComponent(target)}`)).status, 200);
      await shipped(app);
      const outgoing = suite.collector.records.flatMap((r) => r.request.log.entries).find((e) => e._outgoing);
      assert.ok(outgoing, 'the outgoing call is recorded');
      assert.match(
        outgoing.request.url,
        /^http:\/\/bob:%5BREDACTED%5D@127\.0\.0\.1:\d+\/somewhere\?token=%5BREDACTED%5D&kept=1$/,
      );
    });

    it("Nest's 404 echo of a URL with quotes and backslashes is redacted (item 9)", async () => {
      const app = await start();
      const answer = await rawRequest(
        app.port,
        `GET /nowhere?password=${CANARY('E1')}"\\%22&lang=en HTTP/1.1\r\nHost: 127.0.0.1`,
      );
      assert.match(answer, /^HTTP\/1\.1 404/);
      const { entries } = await shipped(app);
      assert.match(entries[0]!.response.content.text ?? '', /Cannot GET \/nowhere\?password=%5BREDACTED%5D&lang=en/);
    });

    it('token headers, Location/Content-Location/Referer query values, text bodies (item 11)', async () => {
      const app = await start();
      await httpRequest(`${app.url}/hostile/tokens?x-api-key=${CANARY('Q1')}&kept=1`, {
        headers: {
          'X-Auth-Token': CANARY('R1'),
          'X-Access-Token': CANARY('R2'),
          Token: CANARY('R3'),
          'X-API-Token': CANARY('R4'),
          Referer: `https://app.example/login?access_token=${CANARY('R5')}&from=home`,
        },
      });
      const redirect = await httpRequest(`${app.url}/hostile/redirect`);
      assert.equal(redirect.status, 302);
      assert.ok(String(redirect.headers.location).includes(CANARY('L1')), 'the client got the real header');
      await httpRequest(`${app.url}/hostile/text`);
      await httpRequest(`${app.url}/hostile/echo`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: `note=visible&password=${CANARY('P1')}\napi_key: ${CANARY('P2')}`,
      });
      const { raw, entries } = await shipped(app);
      for (const kept of ['from=home', 'code=visible', 'state=kept', 'user=visible', 'note=visible', 'kept=1']) {
        assert.ok(raw.includes(kept), `${kept} kept`);
      }
      const [tokens, redirected] = entries;
      assert.equal(
        header(tokens!.request.headers, 'referer'),
        'https://app.example/login?access_token=%5BREDACTED%5D&from=home',
      );
      assert.equal(header(tokens!.response.headers, 'x-auth-token'), '[REDACTED]');
      assert.equal(
        redirected!.response.redirectURL,
        'https://app.example/cb?code=visible&access_token=%5BREDACTED%5D&state=kept',
      );
    });

    it('rawBody JSON: escaped, nested and duplicate keys; labelled JSON that is not JSON is dropped (items 5, 8)', async () => {
      const app = await start({}, true);
      const deep = `${'{"a":'.repeat(80)}{"password":"${CANARY('D1')}"}${'}'.repeat(80)}`;
      const body =
        `{"pass\\u0077ord": "${CANARY('J2')}", "token": {"v": "${CANARY('J3')}"}, "secret": ["${CANARY('J4')}"],` +
        ` "password": "${CANARY('J5')}", "password": "[REDACTED]", "deep": ${deep}, "visible": "yes"}`;
      const res = await httpRequest(`${app.url}/hostile/echo`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      assert.equal(res.status, 200);
      const broken = await httpRequest(`${app.url}/hostile/broken-json`);
      assert.equal(broken.status, 200);
      assert.ok(broken.body.toString().includes(CANARY('J1')), 'the client got the real body');
      const { entries } = await shipped(app);
      const [posted, dropped] = entries;
      assert.ok(posted!.request.postData?.text?.includes('"visible": "yes"'), 'the raw text, redacted in place');
      assert.equal(dropped!.response.content.text, '');
      assert.match(dropped!.response.content.comment ?? '', /not valid JSON, not captured/);
    });
  });
}
