import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readDocument } from '../../src/graphql/graphql-document';
import { summarizeOperations } from '../../src/graphql/graphql-operation-name';
import { redactDocument, redactGraphqlBody, redactGraphqlUrl } from '../../src/graphql/graphql-redact';
import { redactExchange } from '../../src/format/redacted-exchange';
import type { CapturedExchange } from '../../src/interfaces/captured-exchange.interface';
import { resolveMetricsOptions } from '../../src/metrics.options';
import { DEFAULT_REDACTED_KEYS } from '../../src/redact/redaction-defaults';
import { Redactor } from '../../src/redact/redactor';

const DENY = new Set([...DEFAULT_REDACTED_KEYS, 'pin']);
const isSecret = (name: string) => DENY.has(name.toLowerCase());
/** As the module passes it: with the key probe that spares documents naming no secret. */
const PROBE = new RegExp([...DENY].map((k) => k.replace(/[-]/g, '\\-')).join('|'), 'i');
const isSecretWithProbe = Object.assign((name: string) => isSecret(name), {
  mayName: (text: string) => PROBE.test(text),
});
const C = (n: number | string) => `CANARY${n}q7x`;

function redacted(document: string): string {
  return redactDocument(document, isSecret).text;
}

function name(query: string, operationName?: string): string | undefined {
  return summarizeOperations([{ query, operationName }]).operation;
}

describe('GraphQL operation names', () => {
  it('named, anonymous, shorthand, aliases, spreads, directives, several operations', () => {
    assert.equal(name('query GetOrder($id: ID!) { order(id: $id) { id } }'), 'query GetOrder');
    assert.equal(name('{ orders { id } }'), 'query { orders }');
    assert.equal(name('mutation { refund(id: "1") }'), 'mutation { refund }');
    assert.equal(name('query { first: order(id: 1) { id } second: order(id: 2) { id } }'), 'query { order }');
    assert.equal(name('query { ...RootFields } fragment RootFields on Query { orders { id } }'), 'query');
    assert.equal(name('query @live { orders @include(if: true) { id } }'), 'query { orders }');
    assert.equal(name('subscription OnTick { ticks }'), 'subscription OnTick');
    assert.equal(name('# a comment with query Fake { x }\nquery Real { a }'), 'query Real');
    assert.equal(name('query A { a } mutation B { b }', 'B'), 'mutation B');
    assert.equal(name('query A { a } mutation B { b }'), undefined, 'ambiguous without operationName');
    assert.equal(name('query A { a }', 'Nope'), undefined, 'an operationName the document does not define');
    assert.equal(name('query "not a name" { a }'), 'query { a }');
    assert.equal(name(''), undefined);
    assert.equal(name('{'), 'query');
    assert.equal(
      summarizeOperations([{ query: '{ a }' }, { query: 42 }, { query: 'mutation M { m }' }]).operation,
      'batch: query { a }; ?; mutation M',
    );
    const long = summarizeOperations(Array.from({ length: 50 }, (_, i) => ({ query: `query Operation${i} { a }` })));
    assert.ok(long.operation!.length <= 200 && long.operation!.endsWith('…'));
  });

  it('introspection: every root field is __schema, __type or __typename', () => {
    const intro = (query: string) => summarizeOperations([{ query }]).introspection;
    assert.equal(intro('query IntrospectionQuery { __schema { types { name } } }'), true);
    assert.equal(intro('{ __type(name: "Order") { name } __typename }'), true);
    assert.equal(intro('{ __schema { types { name } } orders { id } }'), false);
    assert.equal(intro('{ a: __schema { types { name } } }'), true);
    assert.equal(intro('{ __schema: orders { id } }'), false, 'an alias named like introspection is not');
    assert.equal(intro('{ ...F } fragment F on Query { __schema { types { name } } }'), false);
    assert.equal(
      summarizeOperations([{ query: '{ __typename }' }, { query: '{ orders { id } }' }]).introspection,
      false,
    );
  });
});

describe('GraphQL document redaction', () => {
  const cases: [string, string, string][] = [
    ['inline', `mutation { login(user: "ann", password: "${C(1)}") }`, 'login(user: "ann", password: "[REDACTED]")'],
    ['escaped quote', `{ login(password: "a\\"${C(2)}", user: "u") }`, 'login(password: "[REDACTED]", user: "u")'],
    ['block string', `{ login(password: """${C(3)} \\""" still""") }`, 'login(password: "[REDACTED]")'],
    ['any casing', `{ login(PassWord: "${C(4)}") }`, 'login(PassWord: "[REDACTED]")'],
    ['denylist', `{ unlock(pin: "${C(5)}", door: "front") }`, 'unlock(pin: "[REDACTED]", door: "front")'],
    ['nested input', `{ a(input: { user: "u", creds: { token: "${C(6)}" } }) }`, 'creds: { token: "[REDACTED]" }'],
    [
      'under a secret key',
      `{ a(secret: { x: "${C(7)}", y: ["${C(8)}"] }) }`,
      'secret: { x: "[REDACTED]", y: ["[REDACTED]"] }',
    ],
    [
      'list of inputs',
      `{ a(list: [{ token: "${C(9)}" }, { note: "kept" }]) }`,
      '[{ token: "[REDACTED]" }, { note: "kept" }]',
    ],
    ['alias', `{ x: login(password: "${C(10)}") }`, 'x: login(password: "[REDACTED]")'],
    ['directive', `{ a @auth(token: "${C(11)}") }`, '@auth(token: "[REDACTED]")'],
    [
      'hash in a string',
      `{ a(note: "# not a comment", password: "${C(12)}") }`,
      'note: "# not a comment", password: "[REDACTED]"',
    ],
    ['comment', `{ a # password: ${C(13)}\n }`, '{ a # [REDACTED]\n }'],
    ['quote in a comment', `{ login(# "\n password: "${C(14)}") }`, 'password: "[REDACTED]"'],
    ['unterminated at the cut', `mutation { login(password: "${C(15)}`, 'login(password: "[REDACTED]"'],
    ['unterminated at a line end', `{ login(password: "${C(16)}\n user: "u") }`, 'password: "[REDACTED]"\n user: "u")'],
    ['unterminated block string', `{ login(password: """${C(17)}\n more`, 'login(password: "[REDACTED]"'],
    [
      'default of a bound variable',
      `query Q($p: String = "${C(18)}") { login(password: $p) }`,
      '$p: String = "[REDACTED]"',
    ],
    ['default object', `query Q($in: In = { token: "${C(19)}" }) { a(input: $in) }`, '{ token: "[REDACTED]" }'],
    ['unicode escape', `{ login(password: "\\u0041${C(20)}") }`, 'login(password: "[REDACTED]")'],
    ['number and enum values', `{ a(token: 12345, pin: ENUMVALUE, n: 1) }`, 'a(token: 12345, pin: ENUMVALUE, n: 1)'],
  ];
  for (const [label, document, kept] of cases) {
    it(label, () => {
      const out = redacted(document);
      assert.ok(!out.includes('CANARY'), `${label}: ${out}`);
      assert.ok(out.includes(kept), `${label}: expected ${kept} in ${out}`);
    });
  }

  it('variables bound to secret arguments, directly and at any depth of input objects and lists, in fragments too', () => {
    const { secretVariables } = readDocument(
      'mutation M($a: String, $b: String, $c: String, $d: String, $e: String, $f: In) {' +
        ' login(user: $a, password: $b) signIn(input: { deep: [{ note: $c, token: $d }] }) x(input: $f) ...F }' +
        ' fragment F on Mutation { unlock(pin: $e) }',
      isSecret,
    );
    assert.deepEqual([...secretVariables].sort(), ['b', 'd', 'e']);
  });

  it('nesting past the depth bound: everything below counts as secret', () => {
    const deep = `{ a(x: ${'['.repeat(200)}"${C('deep')}"${']'.repeat(200)}) }`;
    assert.ok(!redacted(deep).includes('CANARY'));
  });

  it('fuzz: random documents with secrets under secret keys, cut anywhere, never keep a secret', () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
    let n = 0;
    const value = (depth: number, secret: boolean): string => {
      const roll = random();
      if (depth < 4 && roll < 0.2) return `[${value(depth + 1, secret)}, ${value(depth + 1, secret)}]`;
      if (depth < 4 && roll < 0.4) return `{ ${field(depth + 1, secret)}, ${field(depth + 1, secret)} }`;
      if (!secret) return pick(['"plain"', '1', 'ENUM', '$v', '"with \\" quote"', '"""block"""']);
      n++;
      return pick([`"${C(n)}"`, `"""${C(n)}"""`, `"a\\"${C(n)}"`, `"""x \\""" ${C(n)}"""`, `"\\u00e9${C(n)}"`]);
    };
    const field = (depth: number, secret: boolean): string => {
      const key = pick(['password', 'Token', 'note', 'id', 'api_key', 'pin', 'name']);
      const s = secret || isSecret(key);
      return `${key}${pick([':', ' :', ':\n', ' # c\n:'])} ${value(depth, s)}`;
    };
    for (let round = 0; round < 400; round++) {
      const document =
        `mutation M${round} { ` +
        Array.from({ length: 3 }, () => `${pick(['a', 'b: c'])}(${field(0, false)}, ${field(0, false)}) { id }`).join(
          ' ',
        ) +
        ' }';
      const secrets = [...document.matchAll(/CANARY\d+q7x/g)].map((m) => m[0]);
      for (const cut of [document.length, Math.floor(random() * document.length)]) {
        const out = redacted(document.slice(0, cut));
        for (const secret of secrets) assert.ok(!out.includes(secret.slice(0, 8)), `${secret} kept in ${out}`);
      }
    }
  });
});

describe('GraphQL variables bound to secrets (fuzz)', () => {
  it('random documents bind variables at random depths: those under secret keys never keep their values', () => {
    let seed = 11;
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
    for (let round = 0; round < 300; round++) {
      const bound: { name: string; secret: boolean }[] = [];
      const value = (depth: number, secret: boolean): string => {
        const roll = random();
        if (depth < 4 && roll < 0.25) return `[${value(depth + 1, secret)}, ${value(depth + 1, secret)}]`;
        if (depth < 4 && roll < 0.5) return `{ ${field(depth + 1, secret)} ${field(depth + 1, secret)} }`;
        const name = `v${bound.length}`;
        bound.push({ name, secret });
        return `$${name}`;
      };
      const field = (depth: number, secret: boolean): string => {
        const key = pick(['password', 'Token', 'note', 'id', 'client_secret', 'pin', 'label']);
        return `${key}: ${value(depth, secret || isSecret(key))}`;
      };
      const document = `mutation M { a(${field(0, false)}, ${field(0, false)}) { id } }`;
      // Duplicate keys in the JSON text: the last one wins when parsed, and neither may leak.
      const variables = bound
        .map(({ name, secret }) =>
          secret ? `"${name}":"${C(`${round}-${name}`)}","${name}":"${C(`${round}-${name}-b`)}"` : `"${name}":"plain"`,
        )
        .join(',');
      const body = `{"query":${JSON.stringify(document)},"variables":{${variables}}}`;
      const out = redactGraphqlBody(body, 'application/json', false, isSecretWithProbe);
      assert.ok('text' in out);
      assert.ok(!out.text.includes('CANARY'), `${document}\n${out.text}`);
      const plain = bound.filter((b) => !b.secret).length;
      assert.equal(out.text.split('"plain"').length - 1, plain, 'variables bound elsewhere keep their values');
    }
  });
});

describe('GraphQL request bodies and URLs', () => {
  it('JSON body: document and variables (bound, nested keys, duplicate and escaped keys, JSON-text variables)', () => {
    const body =
      '{"query":"mutation L($p: String, $q: In) { login(password: $p) x(input: $q) }",' +
      `"variables":{"p":"${C('a')}","q":{"deep":[{"token":"${C('b')}","pin":"${C('c')}","note":"kept"}]},` +
      `"\\u0070":"${C('d')}"},"operationName":"L"}`;
    const out = redactGraphqlBody(body, 'application/json', false, isSecret);
    assert.ok('text' in out);
    assert.ok(!out.text.includes('CANARY'), out.text);
    assert.ok(out.text.includes('"note":"kept"'));
    const asText = redactGraphqlBody(
      JSON.stringify({
        query: 'mutation($p: String) { login(password: $p) }',
        variables: JSON.stringify({ p: C('e') }),
      }),
      'application/json',
      false,
      isSecret,
    );
    assert.ok('text' in asText && !asText.text.includes('CANARY'));
  });

  it('duplicate keys and escaped names cannot carry a second, unredacted document or variable', () => {
    const bodies = [
      `{"query":"mutation { login(password: \\"${C('m')}\\") }","query":"{ a }"}`,
      `{"query":"mutation { login(\\u0070assword: \\"${C('n')}\\") }"}`,
      `{"query":"mutation($x: String) { a(\\u0074oken: $x) }","variables":{"x":"${C('o')}"}}`,
      `{"query":"{ a }","variables":{"\\u0074oken":"${C('p')}"},"variables":{}}`,
    ];
    for (const body of bodies) {
      JSON.parse(body); // the test's own bodies are valid JSON
      const out = redactGraphqlBody(body, 'application/json', false, isSecretWithProbe);
      assert.ok('text' in out && !out.text.includes('CANARY'), `${body} -> ${JSON.stringify(out)}`);
    }
  });

  it('a batch, application/graphql, a cut JSON body (not recorded), a GET query string', () => {
    const batch = redactGraphqlBody(
      JSON.stringify([
        { query: `mutation { login(password: "${C('f')}") }` },
        { query: 'mutation($t: String) { a(token: $t) }', variables: { t: C('g') } },
      ]),
      'application/json',
      false,
      isSecret,
    );
    assert.ok('text' in batch && !batch.text.includes('CANARY') && batch.text.startsWith('['));
    const raw = redactGraphqlBody(`mutation { login(password: "${C('h')}") }`, 'application/graphql', false, isSecret);
    assert.ok('text' in raw && !raw.text.includes('CANARY'));
    const cut = redactGraphqlBody(
      `{"query":"mutation { login(password: \\"${C('i')}`,
      'application/json',
      true,
      isSecret,
    );
    assert.ok('dropped' in cut);
    const url =
      'http://h/graphql?query=' +
      encodeURIComponent('query Q($p: String) { login(password: $p) other(note: "kept") }') +
      `&variables=${encodeURIComponent(JSON.stringify({ p: C('j') }))}&query=${encodeURIComponent(`{ login(password: "${C('k')}") }`)}`;
    const redactedUrl = redactGraphqlUrl(url, isSecret).url;
    assert.ok(!decodeURIComponent(redactedUrl).includes('CANARY'), redactedUrl);
    assert.ok(decodeURIComponent(redactedUrl.replace(/\+/g, ' ')).includes('note: "kept"'));
  });
});

describe('GraphQL uploads (multipart request spec)', () => {
  const options = resolveMetricsOptions({ apiKey: 'k' });
  const redactor = new Redactor(options);
  function upload(fields: unknown): CapturedExchange {
    const text = JSON.stringify(fields);
    return {
      id: 'x',
      platform: 'express',
      startedAt: 0,
      durationMs: 1,
      aborted: false,
      method: 'POST',
      url: 'http://127.0.0.1/graphql',
      httpVersion: 'HTTP/1.1',
      requestHeaders: ['content-type', 'multipart/form-data; boundary=x'],
      requestBody: { text, size: 999, truncated: false, source: 'parsed', files: [{ name: '0', fileName: 'a.png' }] },
      status: 200,
      statusText: 'OK',
      responseHeaders: ['content-type', 'application/json'],
      responseBody: { text: '{"data":{"up":true}}', size: 20, truncated: false, source: 'wire' },
      clientIp: '127.0.0.1',
      group: { apiKey: 'k' },
      graphql: {
        operation: 'mutation Up',
        operations: [{ type: 'mutation', name: 'Up' }],
        introspection: false,
        failed: false,
      },
    };
  }
  const document = 'mutation Up($f: Upload, $p: String) { up(file: $f, password: $p, note: "kept") }';

  it('the operations field, and the request graphql-upload puts in place of the fields, are redacted', () => {
    const raw = upload({
      operations: JSON.stringify({ query: document, variables: { f: null, p: C('u1') } }),
      map: '{"0":["variables.f"]}',
    });
    const replaced = upload({ query: document, variables: { f: {}, p: C('u2') } });
    const inline = upload({ operations: JSON.stringify({ query: `mutation { up(password: "${C('u3')}") }` }) });
    for (const x of [raw, replaced, inline]) {
      const out = JSON.stringify(redactExchange(x, redactor, options));
      assert.ok(!out.includes('CANARY'), out);
      assert.ok(out.includes('kept') || x === inline, out);
      assert.ok(out.includes('a.png'), 'file parts are kept');
    }
  });
});
