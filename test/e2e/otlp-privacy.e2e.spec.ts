import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HttpModule, HttpService } from '@nestjs/axios';
import { Body, Controller, Get, Header, HttpCode, Module, Post, Req, Res, type DynamicModule } from '@nestjs/common';
import { firstValueFrom } from 'rxjs';
import {
  ApitoolkitTransport,
  MetricsModule,
  MetricsService,
  OtlpTransport,
  type MetricsModuleOptions,
} from '../../src';
import { ADAPTERS, startApp } from '../support/adapters';
import { CANARY, CANARY_QUERY, canaryHeaders, canaryJson } from '../support/canaries';
import { httpRequest } from '../support/http';
import { receiverPerTest } from '../support/otlp-receiver';

/*
 * The privacy canaries of privacy.e2e.spec.ts, through OTLP: no canary byte may reach the receiver, in plain
 * attributes or in the base64 bodies of APIToolkit mode, from headers, query, bodies, errors or outgoing calls.
 */

const self = { url: '' };

@Controller('privacy')
class PrivacyController {
  constructor(
    private readonly http: HttpService,
    private readonly metrics: MetricsService,
  ) {}

  @Post()
  @HttpCode(200)
  @Header('x-internal-token', CANARY('R1'))
  accept(@Body() _body: unknown, @Res({ passthrough: true }) res: { header(name: string, value: string[]): void }) {
    res.header('set-cookie', [`session=${CANARY('N')}; HttpOnly`, `theme=dark`]);
    return { account: { iban: CANARY('O'), currency: 'EUR' }, refresh_token: CANARY('P'), status: 'fine' };
  }

  @Get('broken-json')
  @Header('content-type', 'application/json')
  broken() {
    return `{"password": "${CANARY('S')}", "visible": "yes"`;
  }

  @Get('err')
  err(@Req() req: { url: string }) {
    // An error message echoing the request URL, query secret included.
    this.metrics.reportError(new Error(`lookup failed for ${req.url}`));
    return { reported: true };
  }

  @Get('outgoing')
  async outgoing() {
    const reply = await firstValueFrom(
      this.http.get(`${self.url}/privacy/target?token=${CANARY('X')}&kept=outbound`, {
        headers: { authorization: `Bearer ${CANARY('Y')}`, 'x-api-key': CANARY('Y2') },
      }),
    );
    return { fetched: (reply.data as { ok: boolean }).ok };
  }

  @Get('target')
  target() {
    return { token: CANARY('Z'), ok: true, neighbour: 'target-kept' };
  }
}

function privacyModule(options: MetricsModuleOptions): DynamicModule {
  @Module({})
  class OtlpPrivacyModule {}
  return {
    module: OtlpPrivacyModule,
    imports: [HttpModule, MetricsModule.forRoot({ group: () => ({ apiKey: 'privacy-key' }), ...options })],
    controllers: [PrivacyController],
  };
}

const PROTOCOLS = ['http/protobuf', 'http/json', 'grpc'] as const;
const MODES = ['otlp', 'apitoolkit'] as const;

describe('privacy through OTLP', () => {
  const suite = receiverPerTest();

  for (const adapter of ADAPTERS) {
    for (const protocol of PROTOCOLS) {
      for (const mode of MODES) {
        it(`${adapter}, ${protocol}, ${mode}: no canary leaves, from any location`, async () => {
          const url = suite.receiver.urlFor(protocol);
          const transport =
            mode === 'otlp'
              ? new OtlpTransport({ url, protocol })
              : new ApitoolkitTransport({ apiKey: 'project-key', url, protocol });
          suite.running = await startApp(
            privacyModule({
              transport,
              redactHeaders: ['x-session', 'X-Internal-Token'],
              redactRequestBody: ['$.card.number', '$..cvv'],
              redactResponseBody: ['$.account.iban'],
              denylist: ['ssn'],
            }),
            adapter,
          );
          const app = suite.running;
          self.url = app.url;
          const json = canaryJson();
          const headers = canaryHeaders();
          const query = CANARY_QUERY;
          const statuses = [
            await httpRequest(`${app.url}/privacy${query}`, {
              method: 'POST',
              headers: { ...headers, 'content-type': 'application/json' },
              body: JSON.stringify(json),
            }),
            await httpRequest(`${app.url}/privacy`, {
              method: 'POST',
              headers: { 'content-type': 'application/x-www-form-urlencoded' },
              body: `password=${CANARY('L')}&name=Bob&ssn=${CANARY('M')}`,
            }),
            await httpRequest(`${app.url}/nowhere?access_token=${CANARY('Q')}&lang=en`),
            await httpRequest(`${app.url}/privacy/broken-json`),
            await httpRequest(`${app.url}/privacy/err?access_token=${CANARY('T')}&lang=fr`),
            await httpRequest(`${app.url}/privacy/outgoing`),
          ].map((r) => r.status);
          assert.deepEqual(statuses, [200, 200, 404, 200, 200, 200]);
          await app.app.get(MetricsService).flush();
          // 7 exchanges (the outgoing call's target is one) + 1 outgoing call.
          const spans = await suite.receiver.waitForSpans(8);

          // Everything the receiver decoded, plus the base64 bodies of APIToolkit mode decoded.
          const bodies = spans.flatMap((s) =>
            ['http.request.body', 'http.response.body'].map((k) =>
              Buffer.from(String(s.attributes[k] ?? ''), 'base64').toString('utf8'),
            ),
          );
          const shipped = [...suite.receiver.decoded, ...bodies].join('\n');
          const leaks = shipped.match(/CANARY\w+x7q/g);
          assert.equal(leaks, null, `leaked: ${leaks?.join(', ')}`);
          assert.ok(shipped.includes('CANARY') === false);
          for (const neighbour of ['page', 'lang', 'outbound']) assert.ok(shipped.includes(neighbour), neighbour);
          if (mode === 'apitoolkit') {
            // Not 'visible': the broken JSON answer cannot be proven clean, so it is dropped whole (see Redaction).
            for (const neighbour of ['hello', 'Ann', 'A1', 'EUR', 'Bob', 'fine', 'target-kept']) {
              assert.ok(shipped.includes(neighbour), `${neighbour} kept`);
            }
          }
          const err = spans.find((s) => s.attributes['url.path'] === '/privacy/err');
          const event = err?.events?.find((e) => e.name === 'exception');
          assert.match(String(event?.attributes['exception.message']), /access_token=%5BREDACTED%5D&lang=fr/);
        });
      }
    }
  }
});
