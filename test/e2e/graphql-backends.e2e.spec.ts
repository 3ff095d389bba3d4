import 'reflect-metadata';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ApitoolkitTransport,
  HarFileTransport,
  MetricsService,
  OtlpTransport,
  type HarEntry,
  type MetricsModuleOptions,
} from '../../src';
import type { RunningApp } from '../support/adapters';
import { CANARY } from '../support/canaries';
import { Collector } from '../support/collector';
import { GRAPHQL_DRIVERS, startGraphqlApp, type GraphqlDriverName } from '../support/graphql-app';
import { assertValidHar, entryOf } from '../support/har';
import { httpRequest } from '../support/http';
import { OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver';
import { watchUnexpectedErrors } from '../support/unexpected';

const SECRET_DOCUMENT = `mutation Login($p: String!) { login(user: "ann", password: $p) }`;
const EXPECTED_DOCUMENT = SECRET_DOCUMENT;
const INLINE_DOCUMENT = `mutation Inline { login(user: "bob", password: """${CANARY('B1')}""") }`;
const INLINE_REDACTED = 'mutation Inline { login(user: "bob", password: "[REDACTED]") }';

/** The same five requests for every backend: named with partial errors, secrets inline and bound, anonymous, batch. */
async function traffic(app: RunningApp): Promise<void> {
  const send = (body: unknown) =>
    httpRequest(`${app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'gql-test/1' },
      body: JSON.stringify(body),
    });
  const answers = [
    await send({ query: 'query Partial { order(id: "5") { id } boom }' }),
    await send({ query: SECRET_DOCUMENT, variables: { p: CANARY('B2') } }),
    await send({ query: INLINE_DOCUMENT }),
    await send({ query: '{ orders { id } }' }),
    await send([{ query: 'query GetOrder { order(id: "1") { id } }' }, { query: 'mutation { refund(id: "3") }' }]),
  ];
  assert.deepEqual(
    answers.map((a) => a.status),
    [200, 200, 200, 200, 200],
  );
  await app.app.get(MetricsService).flush();
}

const OPERATIONS = [
  'query Partial',
  'mutation Login',
  'mutation Inline',
  'query { orders }',
  'batch: query GetOrder; mutation { refund }',
];

/** The HAR entry fields both the ReadMe record and the HAR file must agree on, ids and timings left out. */
function comparable(entry: HarEntry, pageref: string | undefined) {
  return {
    pageref,
    method: entry.request.method,
    url: entry.request.url,
    postData: entry.request.postData,
    status: entry.response.status,
    content: entry.response.content,
    errors: (
      entry._errors as { message: string; path?: unknown; code?: unknown; errorType: string }[] | undefined
    )?.map((e) => ({ message: e.message, path: e.path, code: e.code, type: e.errorType })),
  };
}

for (const driver of GRAPHQL_DRIVERS) {
  describe(`GraphQL backends (${driver}): ReadMe, HAR file and OTLP get the same operations`, () => {
    const unexpected = watchUnexpectedErrors();
    let collector: Collector;
    let receiver: OtlpReceiver;
    let dir: string;
    before(async () => {
      collector = await Collector.start();
      receiver = await OtlpReceiver.start();
      dir = mkdtempSync(join(tmpdir(), 'graphql-har-'));
    });
    after(async () => {
      await collector.close();
      await receiver.close();
      rmSync(dir, { recursive: true, force: true });
      assert.deepEqual(unexpected, [], 'no unhandled rejection or uncaught exception');
    });

    async function run(which: GraphqlDriverName, options: MetricsModuleOptions): Promise<void> {
      const app = await startGraphqlApp(which, options);
      try {
        await traffic(app);
      } finally {
        await app.close();
      }
    }

    it('field by field', async () => {
      await run(driver, { apiKey: 'k', baseUrl: collector.url });
      const path = join(dir, `${driver}.har`);
      await run(driver, { transport: new HarFileTransport({ path }) });
      await run(driver, { transport: new OtlpTransport({ url: receiver.httpTracesUrl, protocol: 'http/protobuf' }) });
      const spans = await receiver.waitForSpans(OPERATIONS.length);

      // Nothing secret anywhere.
      const fileText = readFileSync(path, 'utf8');
      const everything = [collector.calls.map((c) => c.raw).join(''), fileText, receiver.decoded.join('')];
      for (const text of everything) {
        for (const n of ['B1', 'B2']) assert.ok(!text.includes(CANARY(n)), `canary ${n} leaked`);
      }

      // ReadMe and the HAR file: the same entries, named by operation.
      const readme = collector.records.map(entryOf);
      for (const record of collector.records) await assertValidHar(record);
      const file = (JSON.parse(fileText) as { log: { entries: (HarEntry & { _pageref?: string })[] } }).log.entries;
      const origin = (u: string) => /^https?:\/\/[^/]+/.exec(u)![0];
      const byOperation = (entries: (HarEntry & { _pageref?: string })[]) =>
        new Map(
          entries.map((e) => {
            const pageref = (e.pageref ?? e._pageref)!;
            return [pageref.replace(/^[^#]*#/, ''), comparable(e, pageref.replace(origin(pageref), ''))] as const;
          }),
        );
      const fromReadme = byOperation(readme);
      const fromFile = byOperation(file);
      assert.deepEqual([...fromReadme.keys()].sort(), [...OPERATIONS].sort());
      const strip = (c: ReturnType<typeof comparable>) => ({ ...c, url: c.url.replace(origin(c.url), '') });
      for (const operation of OPERATIONS) {
        assert.deepEqual(strip(fromFile.get(operation)!), strip(fromReadme.get(operation)!), operation);
      }
      const partial = fromReadme.get('query Partial')!;
      assert.equal(partial.pageref, '/graphql#query Partial');
      assert.deepEqual(partial.errors, [
        {
          message: 'resolver exploded',
          path: ['boom'],
          code: driver === 'mercurius-fastify' ? undefined : 'INTERNAL_SERVER_ERROR',
          type: partial.errors![0]!.type,
        },
      ]);
      const login = JSON.parse(fromReadme.get('mutation Login')!.postData!.text!) as {
        query: string;
        variables: Record<string, string>;
      };
      assert.equal(login.query, EXPECTED_DOCUMENT);
      assert.deepEqual(login.variables, { p: '[REDACTED]' });
      const inline = JSON.parse(fromReadme.get('mutation Inline')!.postData!.text!) as { query: string };
      assert.equal(inline.query, INLINE_REDACTED);

      // OTLP: one SERVER span per request, named by operation, with the GraphQL attributes and the errors.
      const span = (name: string): ReceivedSpan => {
        const found = spans.filter((s) => s.name === name);
        assert.equal(found.length, 1, `one span named ${name}; got ${spans.map((s) => s.name).join(' | ')}`);
        return found[0]!;
      };
      const partialSpan = span('query Partial');
      assert.equal(partialSpan.kind, 'SPAN_KIND_SERVER');
      assert.equal(partialSpan.status.code, 'STATUS_CODE_ERROR');
      assert.equal(partialSpan.attributes['graphql.operation.type'], 'query');
      assert.equal(partialSpan.attributes['graphql.operation.name'], 'Partial');
      assert.equal(partialSpan.attributes['graphql.document'], 'query Partial { order(id: "5") { id } boom }');
      assert.equal(Number(partialSpan.attributes['http.response.status_code']), 200);
      assert.deepEqual(
        partialSpan.events?.map((e) => [e.name, e.attributes['exception.message'], e.attributes['graphql.error.path']]),
        [['exception', 'resolver exploded', 'boom']],
      );
      const loginSpan = span('mutation Login');
      assert.equal(loginSpan.attributes['graphql.document'], EXPECTED_DOCUMENT);
      assert.notEqual(loginSpan.status.code, 'STATUS_CODE_ERROR');
      assert.equal(span('mutation Inline').attributes['graphql.document'], INLINE_REDACTED);
      const anonymous = span('query { orders }');
      assert.equal(anonymous.attributes['graphql.operation.type'], 'query');
      assert.equal(anonymous.attributes['graphql.operation.name'], undefined);
      const batch = span('batch: query GetOrder; mutation { refund }');
      assert.equal(batch.attributes['graphql.operation.type'], undefined, 'a mixed batch has no single type');
      assert.equal(batch.attributes['graphql.document'], undefined);

      // APIToolkit: its own span name, the same GraphQL attributes, the errors in its JSON, no canary in the bodies.
      receiver.reset();
      await run(driver, {
        transport: new ApitoolkitTransport({ apiKey: 'k', url: receiver.httpTracesUrl, protocol: 'http/protobuf' }),
      });
      const toolkit = await receiver.waitForSpans(OPERATIONS.length);
      const partialToolkit = toolkit.find((s) => s.attributes['graphql.operation.name'] === 'Partial');
      assert.ok(partialToolkit, 'the Partial span');
      assert.equal(partialToolkit.name, 'monoscope.http');
      assert.equal(partialToolkit.status.code, 'STATUS_CODE_ERROR');
      const errors = JSON.parse(String(partialToolkit.attributes['apitoolkit.errors'])) as { message: string }[];
      assert.deepEqual(
        errors.map((e) => e.message),
        ['resolver exploded'],
      );
      const decodedBodies = toolkit
        .map((s) => Buffer.from(String(s.attributes['http.request.body']), 'base64').toString('utf8'))
        .join('\n');
      for (const n of ['B1', 'B2']) assert.ok(!decodedBodies.includes(CANARY(n)), `canary ${n} in APIToolkit bodies`);
      assert.ok(decodedBodies.includes('[REDACTED]'));
    });
  });
}
