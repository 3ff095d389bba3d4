import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetricsService, type MetricsModuleOptions, type MetricsRecord } from '../../src';
import { CANARY } from '../support/canaries';
import { GRAPHQL_DRIVERS, graphqlSeen, startGraphqlApp, type GraphqlDriverName } from '../support/graphql-app';
import { assertValidHar, entryOf } from '../support/har';
import { httpRequest, type SimpleResponse } from '../support/http';
import { subscribeOnce } from '../support/graphql-ws-client';
import { appPerTest } from '../support/suite';

type Entry = ReturnType<typeof entryOf>;

function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<SimpleResponse> {
  return httpRequest(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function json(response: SimpleResponse): { data?: Record<string, unknown> | null; errors?: unknown[] } {
  return JSON.parse(response.body.toString()) as { data?: Record<string, unknown> | null; errors?: unknown[] };
}

/** The one entry whose pageref ends with `#<operation>`. */
function entryFor(records: MetricsRecord[], operation: string): Entry {
  const found = records.map(entryOf).filter((e) => (e.pageref ?? '').endsWith(`#${operation}`));
  assert.equal(
    found.length,
    1,
    `one entry for ${operation}; got ${records.map((r) => entryOf(r).pageref).join(' | ')}`,
  );
  return found[0]!;
}

for (const driver of GRAPHQL_DRIVERS) {
  describe(`GraphQL (${driver})`, () => {
    const suite = appPerTest(() => {
      graphqlSeen.groupRequests.length = 0;
    });

    async function start(options: MetricsModuleOptions = {}, which: GraphqlDriverName = driver) {
      suite.running = await startGraphqlApp(which, { apiKey: 'k', baseUrl: suite.collector.url, ...options });
      return suite.running;
    }

    async function flushed(): Promise<MetricsRecord[]> {
      await suite.running!.app.get(MetricsService).flush();
      return suite.collector.records;
    }

    it('secrets inline in the document, in block strings and in bound variables never reach the collector', async () => {
      const app = await start({ denylist: ['pin'] });
      const inline = await post(app.url, {
        query: `mutation Login { login(user: "ann", password: "${CANARY('G1')}") }`,
      });
      const block = await post(app.url, {
        query: `mutation LoginBlock {\n  login(user: "bob", password: """${CANARY('G2')} with \\""" quote""")\n}`,
      });
      const bound = await post(app.url, {
        query: 'mutation LoginVar($p: String!, $u: String!) { login(user: $u, password: $p) }',
        variables: { p: CANARY('G3'), u: 'carl' },
      });
      // Bound deep inside an input object and a list, with a default value and a duplicated key in the variables.
      const nested = await post(
        app.url,
        '{"query":"mutation Deep($t: String = \\"' +
          CANARY('G4') +
          '\\", $q: String) { signIn(input: {user: \\"dee\\", deep: [{note: \\"n\\", token: $t}, {token: $q}]}) }",' +
          '"variables":{"q":"' +
          CANARY('G5') +
          '","\\u0071":"' +
          CANARY('G6') +
          '"}}',
      );
      // An input object variable: its secret fields at any depth; an unused denylisted argument name in an object.
      const object = await post(app.url, {
        query: 'mutation Obj($in: CredentialsInput!) { signIn(input: $in) }',
        variables: { in: { user: 'eve', password: CANARY('G7'), deep: [{ token: CANARY('G8'), note: 'kept-note' }] } },
      });
      // GET: the document and the variables in the query string.
      const get = await httpRequest(
        `${app.url}/graphql?query=${encodeURIComponent('query ViaGet($p: String!) { order(id: $p) { id } }')}` +
          `&variables=${encodeURIComponent(JSON.stringify({ p: 'order-7' }))}`,
        { headers: { 'apollo-require-preflight': 'true' } },
      );
      for (const r of [inline, block, bound, nested, object]) assert.equal(r.status, 200, r.body.toString());
      assert.equal(json(inline).data?.['login'], `ann:${CANARY('G1').length}`, 'the app got the secret');
      assert.equal(json(object).data?.['signIn'], `eve:${CANARY('G7').length}:1`);
      assert.equal(get.status, 200, get.body.toString());
      const records = await flushed();
      assert.equal(records.length, 6);
      const all = suite.collector.calls.map((c) => c.raw).join('\n');
      for (const n of ['G1', 'G2', 'G3', 'G4', 'G5', 'G6', 'G7', 'G8']) {
        assert.ok(!all.includes(CANARY(n)), `canary ${n} leaked`);
      }
      for (const record of records) await assertValidHar(record);
      // What is not secret is kept, so the record stays useful.
      const login = entryFor(records, 'mutation Login');
      assert.match(login.request.postData!.text!, /login\(user: \\"ann\\", password: \\"\[REDACTED\]\\"\)/);
      const viaVar = JSON.parse(entryFor(records, 'mutation LoginVar').request.postData!.text!) as {
        variables: Record<string, string>;
      };
      assert.deepEqual(viaVar.variables, { p: '[REDACTED]', u: 'carl' });
      const obj = JSON.parse(entryFor(records, 'mutation Obj').request.postData!.text!) as {
        variables: { in: { user: string; password: string; deep: { token: string; note: string }[] } };
      };
      assert.equal(obj.variables.in.user, 'eve');
      assert.equal(obj.variables.in.deep[0]!.note, 'kept-note');
      const viaGet = entryFor(records, 'query ViaGet');
      assert.ok(viaGet.request.url.includes('order-7'), 'a variable bound to a non-secret argument is kept');
    });

    it('a secret the server echoes in an error (a variable it could not coerce) is redacted there too', async () => {
      const app = await start();
      const echoed = await post(app.url, {
        query: 'mutation Echo($in: CredentialsInput!) { signIn(input: $in) }',
        variables: { in: { user: 'ann', password: { nested: CANARY('E1') } } },
      });
      const literal = await post(app.url, {
        query: 'mutation EchoVar($p: String!) { login(user: "a", password: $p) }',
        variables: { p: 12345678 },
      });
      assert.ok(echoed.body.toString().includes(CANARY('E1')), 'the server echoes the value (the test needs it)');
      assert.ok(literal.body.toString().includes('12345678'), 'the server echoes the value (the test needs it)');
      const records = await flushed();
      assert.equal(records.length, 2);
      const all = suite.collector.calls.map((c) => c.raw).join('\n');
      assert.ok(!all.includes(CANARY('E1')), 'an echoed secret leaked');
      assert.ok(!all.includes('12345678'), 'an echoed secret leaked');
    });

    it('with offload: worker, the worker redacts GraphQL documents and variables the same way', async () => {
      const app = await start({ offload: 'worker' });
      await post(app.url, { query: `mutation Off { login(user: "ann", password: "${CANARY('W1')}") }` });
      await post(app.url, {
        query: 'mutation OffVar($p: String!) { login(user: "bob", password: $p) }',
        variables: { p: CANARY('W2') },
      });
      const records = await flushed();
      assert.equal(records.length, 2);
      const all = suite.collector.calls.map((c) => c.raw).join('\n');
      assert.ok(!all.includes(CANARY('W1')) && !all.includes(CANARY('W2')), 'a canary leaked through the worker');
      const off = entryFor(records, 'mutation Off');
      assert.match(off.request.postData!.text!, /password: \\"\[REDACTED\]\\"/);
    });

    it('an application/graphql body: named where the driver reads it, its secrets redacted on every driver', async () => {
      const app = await start();
      const answer = await httpRequest(`${app.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/graphql' },
        body: `mutation AsText { login(user: "ann", password: "${CANARY('T1')}") }`,
      });
      const records = await flushed();
      assert.equal(records.length, 1);
      const all = suite.collector.calls.map((c) => c.raw).join('\n');
      assert.ok(!all.includes(CANARY('T1')), 'canary T1 leaked');
      const entry = entryOf(records[0]!);
      if (driver === 'mercurius-fastify') {
        // Mercurius reads application/graphql bodies; the Apollo drivers answer it with an error of their own.
        assert.equal(answer.status, 200, answer.body.toString());
        assert.equal(entry.pageref, `${app.url}/graphql#mutation AsText`);
        // Mercurius parses it into { query } before any hook sees it: the record holds that (source: parsed).
        assert.match(entry.request.postData!.text!, /login\(user: \\"ann\\", password: \\"\[REDACTED\]\\"\)/);
      }
    });

    it('backgroundWorkerMode: false records the same operation and errors before the response is written', async () => {
      const app = await start({ backgroundWorkerMode: false });
      const answer = await post(app.url, { query: 'query Partial { order(id: "5") { id } boom }' });
      assert.equal(answer.status, 200);
      const records = await suite.collector.waitForRecords(1);
      const entry = entryFor(records, 'query Partial');
      assert.deepEqual(
        (entry._errors as { message: string; path?: unknown }[]).map((e) => [e.message, e.path]),
        [['resolver exploded', ['boom']]],
      );
    });

    it("the driver's own path (global prefix included) is found: a request no resolver ran for is still GraphQL", async () => {
      suite.running = await startGraphqlApp(
        driver,
        { apiKey: 'k', baseUrl: suite.collector.url },
        { path: '/gql', useGlobalPrefix: true, globalPrefix: 'api' },
      );
      const url = `${suite.running.url}/api/gql`;
      const send = (body: unknown) =>
        httpRequest(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      const named = await send({ query: 'query Moved { orders { id } }' });
      // A syntax error: the driver answers it without running any resolver.
      const broken = await send({ query: `mutation Broken { login(user: "a", password: "${CANARY('P1')}") ` });
      assert.equal(named.status, 200, named.body.toString());
      assert.ok(broken.status === 200 || broken.status === 400, broken.body.toString());
      const records = await flushed();
      assert.equal(records.length, 2);
      const all = suite.collector.calls.map((c) => c.raw).join('\n');
      assert.ok(!all.includes(CANARY('P1')), 'canary P1 leaked');
      assert.equal(entryFor(records, 'query Moved').pageref, `${suite.running.url}/api/gql#query Moved`);
    });

    it('a denylisted argument name is redacted in the document and in its bound variables', async () => {
      const app = await start({ denylist: ['ID'] });
      await post(app.url, { query: `mutation { refund(id: "${CANARY('D1')}") }` });
      await post(app.url, {
        query: 'mutation R($which: String!) { refund(id: $which) }',
        variables: { which: CANARY('D2') },
      });
      const records = await flushed();
      assert.equal(records.length, 2);
      const all = suite.collector.calls.map((c) => c.raw).join('\n');
      assert.ok(!all.includes(CANARY('D1')) && !all.includes(CANARY('D2')), 'denylisted argument values leaked');
    });

    it('names each operation: named, anonymous, batched; the HAR request keeps the real URL', async () => {
      const app = await start();
      await post(app.url, { query: 'query GetOrder { order(id: "1") { id total } }' });
      await post(app.url, { query: '{ orders { id } }' });
      await post(app.url, { query: 'mutation { refund(id: "9") }' });
      await post(app.url, {
        query: 'query A { orders { id } } mutation Refund { refund(id: "2") }',
        operationName: 'Refund',
      });
      const batch = await post(app.url, [
        { query: 'query GetOrder { order(id: "1") { id } }' },
        { query: 'mutation Refund { refund(id: "3") }' },
      ]);
      assert.equal(batch.status, 200);
      const records = await flushed();
      assert.equal(records.length, 5);
      const origin = app.url;
      const named = entryFor(records, 'query GetOrder');
      assert.equal(named.pageref, `${origin}/graphql#query GetOrder`);
      assert.equal(named.request.url, `${origin}/graphql`);
      assert.equal(named.request.method, 'POST');
      entryFor(records, 'query { orders }');
      entryFor(records, 'mutation { refund }');
      entryFor(records, 'mutation Refund');
      entryFor(records, 'batch: query GetOrder; mutation Refund');
    });

    it('errors are errors: a throwing resolver, partial errors and a guard rejection are in _errors', async () => {
      const app = await start();
      const thrown = await post(app.url, { query: 'query Boom { boom }' });
      const partial = await post(app.url, { query: 'query Partial { order(id: "5") { id } boom }' });
      const guarded = await post(app.url, { query: 'query Vault { vault }' });
      const fine = await post(app.url, { query: 'query Fine { orders { id } }' });
      const piped = await post(app.url, { query: 'query Piped { count(n: "twelve") }' });
      assert.deepEqual(
        [thrown.status, partial.status, guarded.status, fine.status, piped.status],
        [200, 200, 200, 200, 200],
        'the app answers as it would without us',
      );
      assert.deepEqual(json(partial).data?.['order'], { id: '5' });
      const records = await flushed();
      const boom = entryFor(records, 'query Boom');
      const errors = boom._errors as {
        message: string;
        errorType: string;
        source: string;
        stackTrace?: string;
        path?: (string | number)[];
      }[];
      assert.equal(errors.length, 1, JSON.stringify(errors));
      assert.equal(errors[0]!.message, 'resolver exploded');
      assert.deepEqual(errors[0]!.path, ['boom']);
      // A thrown error keeps its own type and where it was caught, as in REST (docs/graphql.md, "Errors are errors");
      // the response's code, when the driver gives one, is in `code`.
      assert.equal(errors[0]!.errorType, 'Error');
      assert.match(errors[0]!.source, /^(interceptor|filter)$/);
      assert.match(errors[0]!.stackTrace ?? '', /resolver exploded/);
      const partialErrors = entryFor(records, 'query Partial')._errors as { message: string }[];
      assert.deepEqual(
        partialErrors.map((e) => e.message),
        ['resolver exploded'],
      );
      const vault = entryFor(records, 'query Vault')._errors as { message: string; code?: string }[];
      assert.equal(vault.length, 1, JSON.stringify(vault));
      assert.equal(vault[0]!.message, 'no access to the vault');
      assert.equal(entryFor(records, 'query Fine')._errors, undefined);
      const pipe = entryFor(records, 'query Piped')._errors as { message: string; path?: unknown; source: string }[];
      assert.equal(pipe.length, 1, JSON.stringify(pipe));
      assert.match(pipe[0]!.message, /numeric string is expected/);
      assert.deepEqual(pipe[0]!.path, ['count']);
    });

    it('reportError in a resolver is linked to its request', async () => {
      const app = await start();
      await post(app.url, { query: 'query Soft { soft }' });
      const records = await flushed();
      const soft = entryFor(records, 'query Soft')._errors as { message: string; source: string }[];
      assert.deepEqual(
        soft.map((e) => [e.message, e.source]),
        [['soft failure in a resolver', 'reportError']],
      );
    });

    it('@SkipMetrics, @MetricsSample, @MetricsCapture and @MetricsGroup work on resolvers and resolver classes', async () => {
      const app = await start();
      await post(app.url, { query: '{ health }' });
      await post(app.url, { query: '{ internalPing }' });
      await post(app.url, { query: '{ sampledOut }' });
      await post(app.url, { query: '{ quiet }' });
      await post(app.url, { query: 'query T { tenant }' }, { 'x-tenant': 'tenant-7' });
      const records = await flushed();
      assert.deepEqual(records.map((r) => (entryOf(r).pageref ?? '').replace(/^.*#/, '')).sort(), [
        'query T',
        'query { quiet }',
      ]);
      const quiet = entryFor(records, 'query { quiet }');
      assert.equal(quiet.response.content.text, '');
      assert.ok(!JSON.stringify(quiet).includes('quiet-answer'));
      const tenant = records.find((r) => (entryOf(r).pageref ?? '').endsWith('#query T'))!;
      assert.equal(tenant.group.label, 'Tenant');
      assert.equal(graphqlSeen.groupRequests.length, 1);
      const req = graphqlSeen.groupRequests[0] as { headers: Record<string, string> };
      assert.equal(req.headers['x-tenant'], 'tenant-7', 'the group function gets the platform request');
    });

    it('introspection is not recorded by default; graphql.introspection: true records it', async () => {
      const app = await start();
      await post(app.url, { query: 'query IntrospectionQuery { __schema { queryType { name } } }' });
      await post(app.url, { query: '{ orders { id } }' });
      assert.deepEqual(
        (await flushed()).map((r) => (entryOf(r).pageref ?? '').replace(/^.*#/, '')),
        ['query { orders }'],
      );
      await suite.running!.close();
      suite.collector.reset();
      const again = await start({ graphql: { introspection: true } });
      await post(again.url, { query: 'query IntrospectionQuery { __schema { queryType { name } } }' });
      assert.deepEqual(
        (await flushed()).map((r) => (entryOf(r).pageref ?? '').replace(/^.*#/, '')),
        ['query IntrospectionQuery'],
      );
    });

    it('subscriptions over WebSockets keep working and are not recorded (out of scope)', async () => {
      const app = await start();
      const events = await subscribeOnce(app.url, 'subscription Ticks { ticks }');
      assert.deepEqual(events, [{ data: { ticks: 'one' } }, { data: { ticks: 'two' } }]);
      // The socket's end reaches the server after the client closed it: give it time to (not) be recorded.
      await new Promise((resolve) => setTimeout(resolve, 200));
      await post(app.url, { query: 'query After { orders { id } }' });
      const records = await flushed();
      assert.deepEqual(
        records.map((r) => (entryOf(r).pageref ?? '').replace(/^.*#/, '')),
        ['query After'],
      );
    });
  });
}
