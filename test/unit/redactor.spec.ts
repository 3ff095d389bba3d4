import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetricsOptionsError, resolveMetricsOptions } from '../../src/metrics.options';
import { jsonPathProblem } from '../../src/redact/jsonpath';
import { maskAuthorization } from '../../src/redact/mask';
import { Redactor } from '../../src/redact/redactor';
import type { MetricsModuleOptions } from '../../src';

const R = '[REDACTED]';

function redactor(options: MetricsModuleOptions = {}): Redactor {
  return new Redactor(resolveMetricsOptions({ apiKey: 'k', ...options }));
}

describe('Redactor', () => {
  it('masks authorization and redacts default credential headers, in any casing', () => {
    const out = redactor().headers([
      { name: 'Authorization', value: 'Bearer abc' },
      { name: 'COOKIE', value: 'sid=1' },
      { name: 'Set-Cookie', value: 'a=1' },
      { name: 'set-cookie', value: 'b=2' },
      { name: 'X-Api-Key', value: 'k' },
      { name: 'content-type', value: 'application/json' },
    ]);
    assert.deepEqual(out, [
      { name: 'Authorization', value: maskAuthorization('Bearer abc') },
      { name: 'COOKIE', value: R },
      { name: 'Set-Cookie', value: R },
      { name: 'set-cookie', value: R },
      { name: 'X-Api-Key', value: R },
      { name: 'content-type', value: 'application/json' },
    ]);
  });

  it('redactDefaults false leaves headers and keys alone; redactHeaders still applies', () => {
    const r = redactor({ redactDefaults: false, redactHeaders: ['X-Trace'] });
    assert.deepEqual(
      r.headers([
        { name: 'authorization', value: 'a' },
        { name: 'x-trace', value: 't' },
      ]),
      [
        { name: 'authorization', value: 'a' },
        { name: 'x-trace', value: R },
      ],
    );
    assert.deepEqual(r.body({ password: 'p' }, 'request'), { value: { password: 'p' }, changed: false });
  });

  it('redacts default keys at any depth and in arrays, case-insensitively', () => {
    const body = { user: { Password: 'p', name: 'n' }, list: [{ token: 't', id: 1 }], api_key: 'k' };
    const { value, changed } = redactor().body(body, 'request');
    assert.equal(changed, true);
    assert.deepEqual(value, { user: { Password: R, name: 'n' }, list: [{ token: R, id: 1 }], api_key: R });
  });

  it('denylist is top-level (ReadMe semantics) and wins over allowlist', () => {
    const r = redactor({ denylist: ['card'], allowlist: ['name'], redactDefaults: false });
    assert.deepEqual(r.body({ card: '4111', name: 'n', nested: { card: 'x' } }, 'request').value, {
      card: R,
      name: 'n',
      nested: { card: 'x' },
    });
    assert.deepEqual(r.headers([{ name: 'Card', value: 'c' }]), [{ name: 'Card', value: R }]);
  });

  it('allowlist keeps only what it lists (names kept)', () => {
    const r = redactor({ allowlist: ['id', 'Content-Type'], redactDefaults: false });
    assert.deepEqual(r.body({ id: 1, email: 'e', nested: { a: 1 } }, 'response').value, { id: 1, email: R, nested: R });
    assert.deepEqual(
      r.headers([
        { name: 'content-type', value: 'json' },
        { name: 'x-other', value: 'v' },
      ]),
      [
        { name: 'content-type', value: 'json' },
        { name: 'x-other', value: R },
      ],
    );
    assert.deepEqual(
      r.params([
        { name: 'id', value: '1' },
        { name: 'q', value: 'x' },
      ]),
      [
        { name: 'id', value: '1' },
        { name: 'q', value: R },
      ],
    );
  });

  it('applies JSONPath rules: nested, recursive, wildcard arrays, per body kind', () => {
    const r = redactor({
      redactDefaults: false,
      redactRequestBody: ['$.user.pin', '$..ssn', '$.cards[*].number'],
      redactResponseBody: ['$.internal'],
    });
    const request = {
      user: { pin: 1234, ssn: 'a', profile: { ssn: 'b' } },
      cards: [{ number: '4111', exp: '12/30' }, { number: '5500' }],
      internal: 'kept in requests',
    };
    assert.deepEqual(r.body(request, 'request').value, {
      user: { pin: R, ssn: R, profile: { ssn: R } },
      cards: [{ number: R, exp: '12/30' }, { number: R }],
      internal: 'kept in requests',
    });
    assert.deepEqual(r.body({ internal: 1, user: { pin: 1 } }, 'response').value, { internal: R, user: { pin: 1 } });
    assert.deepEqual(r.body([1, 2], 'response'), { value: [1, 2], changed: false });
  });

  it('redacts query values in URLs and keeps untouched URLs identical', () => {
    const r = redactor({ denylist: ['card'] });
    assert.equal(
      r.url('http://h/p?token=abc&x=1&TOKEN=def&card=4111#frag'),
      'http://h/p?token=%5BREDACTED%5D&x=1&TOKEN=%5BREDACTED%5D&card=%5BREDACTED%5D#frag',
    );
    const clean = 'http://h/p?x=1&y=%20';
    assert.equal(r.url(clean), clean);
    assert.equal(r.url('http://h/p?pass%77ord=1'), 'http://h/p?pass%77ord=%5BREDACTED%5D');
  });

  it('finds default and denylisted keys in text that is not JSON', () => {
    const { text, changed } = redactor({ denylist: ['card'] }).text('{"password": "s3cr\\"et", "card": 4111, "ok": 1');
    assert.equal(changed, true);
    assert.equal(text, `{"password": "${R}", "card": ${R}, "ok": 1`);
  });
});

describe('Redactor.mayChangeJson (the pre-check that spares parsing)', () => {
  const r = redactor({ redactRequestBody: ['$.card.number', "$['odd key']"], redactResponseBody: ['$.items[*]'] });

  it('parses only bodies in which a key some rule names occurs', () => {
    assert.equal(r.mayChangeJson('{"id":1,"name":"n"}', 'request'), false);
    assert.equal(r.mayChangeJson('{"user":{"PassWord" : "x"}}', 'request'), true);
    assert.equal(r.mayChangeJson('{"card":{"number":1}}', 'request'), true);
    assert.equal(r.mayChangeJson('{"odd key":1}', 'request'), true);
  });

  it('always parses escaped texts, and bodies under wildcard paths or an allowlist', () => {
    assert.equal(r.mayChangeJson('{"pass\\u0077ord":"x"}', 'request'), true);
    assert.equal(r.mayChangeJson('{"id":1}', 'response'), true);
    assert.equal(redactor({ allowlist: ['id'] }).mayChangeJson('{"id":1}', 'request'), true);
    assert.equal(redactor({ redactDefaults: false }).mayChangeJson('{"password":1}', 'request'), false);
  });

  it('an escaped key is still redacted end to end', () => {
    const parsed = JSON.parse('{"pass\\u0077ord":"s3cret"}');
    assert.deepEqual(r.body(parsed, 'request').value, { password: R });
  });
});

describe('JSONPath validation', () => {
  it('accepts the supported grammar', () => {
    for (const path of [
      '$',
      '$.a',
      '$..token',
      '$.a[*].b',
      "$['a b']",
      '$.a[0]',
      '$.a[-1]',
      '$.a[0:2]',
      '$.a[0,1]',
      '$.api-key',
      '$..*',
    ]) {
      assert.equal(jsonPathProblem(path), undefined, path);
    }
  });

  it('rejects what jsonpath-plus would silently misread', () => {
    for (const path of ['$.[', 'a.b', '', '$.a[', '$..', '$.a..', '$[?(@.x)]', '$.a.b)', '$^', '$.a~']) {
      assert.notEqual(jsonPathProblem(path), undefined, path);
    }
  });

  it('an invalid or non-string entry is a startup error naming the entry', () => {
    assert.throws(
      () => redactor({ redactResponseBody: ['$.ok', '$.['] }),
      (e: Error) => {
        assert.ok(e instanceof MetricsOptionsError);
        assert.match(e.message, /"redactResponseBody\[1\]" \("\$\.\["\)/);
        return true;
      },
    );
    assert.throws(
      () => redactor({ redactRequestBody: [42 as never] }),
      /"redactRequestBody\[0\]" must be a non-empty string/,
    );
  });
});

/** A small deterministic PRNG, so a failure names a reproducible seed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Random JSON documents for the reference comparisons: odd keys (quote, non-ASCII), odd leaves. */
const RANDOM_KEYS = ['a', 'b', 'password', 'Token', 'card', 'number', 'items', '0', '1', 'x y', 'ssn', 'pa"ss', 'é'];
function randomDoc(next: () => number, depth = 0): unknown {
  const roll = next();
  if (depth > 5 || roll < 0.3) return [1, 'text', null, true, -2.5e3, 'q"\\\n'][Math.floor(next() * 6)];
  if (roll < 0.55) return Array.from({ length: Math.floor(next() * 4) }, () => randomDoc(next, depth + 1));
  const doc: Record<string, unknown> = {};
  for (let i = Math.floor(next() * 5); i > 0; i--)
    doc[RANDOM_KEYS[Math.floor(next() * RANDOM_KEYS.length)]!] = randomDoc(next, depth + 1);
  return doc;
}

/** Rule sets for the reference comparisons: names, wildcards, descendants, indexes, lists, the root. */
const RANDOM_RULE_SETS: MetricsModuleOptions[] = [
  {},
  { redactRequestBody: ['$.a.b', '$.card.number'] },
  { redactRequestBody: ['$..number', '$.items[*].a', '$.items[0]', "$['x y'].a"] },
  { redactRequestBody: ['$.*.b', '$..*.ssn', '$..[1]', '$.a..b'], redactDefaults: false },
  { denylist: ['a', 'items'], redactRequestBody: ['$.b[*]'] },
  { allowlist: ['a', 'password', 'b'], redactRequestBody: ['$..a.a'] },
  { redactRequestBody: ['$..items..number', '$["b"]["a"]', '$.a[0][1]'] },
  { redactRequestBody: ['$'], redactDefaults: false },
];

/** `depth` objects nested in one another, `inner` at the bottom. */
function nested(depth: number, inner: unknown): unknown {
  let doc = inner;
  for (let i = 0; i < depth; i++) doc = i % 2 ? { x: doc } : [doc];
  return doc;
}

describe('no depth limit leaves a value unredacted (past the limit the whole subtree goes)', () => {
  const SECRET = 'S3CRET-deep';
  for (const depth of [63, 64, 65, 100, 5000]) {
    it(`a secret under ${depth} levels: body(), jsonText()`, () => {
      for (const options of [
        {},
        { redactDefaults: false, redactRequestBody: ['$..password'] },
      ] as MetricsModuleOptions[]) {
        const r = redactor(options);
        const inner = { password: SECRET, keep: 'k' };
        // (JSON.stringify itself overflows the stack on thousands of levels: the text is written directly.)
        const doc = depth < 1000 ? nested(depth, inner) : undefined;
        const text = doc ? JSON.stringify(doc) : `${'['.repeat(depth)}${JSON.stringify(inner)}${']'.repeat(depth)}`;
        assert.ok(!JSON.stringify(r.body(JSON.parse(text), 'request').value).includes(SECRET), 'body');
        const scanned = r.jsonText(text, 'request');
        assert.ok('text' in scanned && !scanned.text.includes(SECRET), 'jsonText');
        // What is kept is identical whichever method ran.
        if (doc)
          assert.equal((scanned as { text: string }).text, JSON.stringify(r.body(JSON.parse(text), 'request').value));
      }
    });
  }

  it('a document within the limit is untouched by the cap', () => {
    const doc = nested(60, { keep: 'k' });
    assert.deepEqual(redactor().jsonText(JSON.stringify(doc), 'request'), {
      text: JSON.stringify(doc),
      changed: false,
    });
  });
});

describe('bracket keys: a name matches by its base name and by each bracketed segment', () => {
  const r = redactor({ denylist: ['card'] });
  it('in URLs and queryString', () => {
    assert.equal(
      r.url('http://h/p?password[]=1&user[password]=2&a[b][token]=3&user%5Btoken%5D=4&x[card]=5&a[0]=6&user[name]=7'),
      'http://h/p?password[]=%5BREDACTED%5D&user[password]=%5BREDACTED%5D&a[b][token]=%5BREDACTED%5D' +
        '&user%5Btoken%5D=%5BREDACTED%5D&x[card]=%5BREDACTED%5D&a[0]=6&user[name]=7',
    );
    assert.deepEqual(
      r.params([
        { name: 'password[]', value: '1' },
        { name: 'user[Password]', value: '2' },
        { name: 'user[name]', value: '3' },
      ]),
      [
        { name: 'password[]', value: R },
        { name: 'user[Password]', value: R },
        { name: 'user[name]', value: '3' },
      ],
    );
  });

  it('in urlencoded body texts, cut or not', () => {
    assert.deepEqual(r.formText('a=1&user%5Bpassword%5D=2&token[]=3&b=4'), {
      text: 'a=1&user%5Bpassword%5D=%5BREDACTED%5D&token[]=%5BREDACTED%5D&b=4',
      changed: true,
    });
    assert.deepEqual(r.bodyText('a=1&password=hunt', 'application/x-www-form-urlencoded', 'request', true), {
      text: 'a=1&password=%5BREDACTED%5D',
      changed: true,
    });
    assert.deepEqual(r.formText('a=1&b=2'), { text: 'a=1&b=2', changed: false });
  });

  it('an allowlist keeps a bracket name only when every named part is listed', () => {
    const allow = redactor({ allowlist: ['user', 'name'], redactDefaults: false });
    assert.deepEqual(
      allow.params([
        { name: 'user[name]', value: '1' },
        { name: 'user[pin]', value: '2' },
        { name: 'user[]', value: '3' },
      ]),
      [
        { name: 'user[name]', value: '1' },
        { name: 'user[pin]', value: R },
        { name: 'user[]', value: '3' },
      ],
    );
  });
});

describe('Redactor.jsonText (JSON text redacted in one pass, never trusted)', () => {
  const r = redactor({ denylist: ['card'], redactRequestBody: ['$.user.pin', '$.items[*].cvv', '$..ssn'] });

  it('nested values, escaped keys, duplicate keys, a BOM, whitespace kept', () => {
    const text =
      '\uFEFF{ "password": {"v": "S1"}, "token": ["S2", {"a": "S3"}], "pass\\u0077ord": "S4", "card": 1,\n' +
      '  "user": {"pin": 1234, "card": "kept"}, "items": [{"cvv": "S5", "sku": "A1"}], "deep": [{"ssn": "S6"}],' +
      ' "password": "[REDACTED]", "x": {"Secret": "S7"} }';
    const result = r.jsonText(text, 'request');
    assert.ok('text' in result);
    assert.equal(result.changed, true);
    assert.equal(
      result.text,
      `\uFEFF{ "password": "${R}", "token": "${R}", "pass\\u0077ord": "${R}", "card": "${R}",\n` +
        `  "user": {"pin": "${R}", "card": "kept"}, "items": [{"cvv": "${R}", "sku": "A1"}], "deep": [{"ssn": "${R}"}],` +
        ` "password": "[REDACTED]", "x": {"Secret": "${R}"} }`,
    );
  });

  it('duplicate keys: every occurrence is redacted, the first one included', () => {
    assert.deepEqual(r.jsonText('{"password":"S","password":"[REDACTED]"}', 'request'), {
      text: `{"password":"${R}","password":"${R}"}`,
      changed: true,
    });
  });

  it('text labelled JSON that is not JSON is dropped with a reason, never returned raw', () => {
    for (const text of [
      '{"password": "S", "visible": "yes"',
      '{password: "S"}',
      "{'password': 'S'}",
      '{"password": "S",}',
      '{"a": 1} {"password": "S"}',
      '{"password": "S"} trailing',
      '{"pass\\word": "S"}',
      '{"password": "S\nT"}',
      '{"token\t": "S"}',
      '{"a": "\u0001", "token": "S"}',
    ]) {
      const result = r.jsonText(text, 'request');
      assert.ok('dropped' in result, text);
      assert.match(result.dropped, /not valid JSON/);
    }
  });

  it('text cut at maxBodyBytes: redacts what is there, an unfinished redacted value included', () => {
    const cut = (text: string) => r.jsonText(text, 'request', true);
    assert.deepEqual(cut('{"a": 1, "password": "hunter'), { text: `{"a": 1, "password": "${R}"`, changed: true });
    assert.deepEqual(cut('{"user": {"pin": 12'), { text: `{"user": {"pin": "${R}"`, changed: true });
    assert.deepEqual(cut('{"token": [1, {"b": tr'), { text: `{"token": "${R}"`, changed: true });
    assert.deepEqual(cut('{"token": "a\\u00'), { text: `{"token": "${R}"`, changed: true });
    assert.deepEqual(cut('{"a": "b", "passw'), { text: '{"a": "b", "passw', changed: false });
    assert.deepEqual(cut('{"ok": [1, 2, "x'), { text: '{"ok": [1, 2, "x', changed: false });
    // Invalid before the cut: dropped.
    assert.ok('dropped' in cut('{"password" "S", "a": "b'));
  });

  it('rules only jsonpath-plus applies: the redacted re-serialization, or dropped when it does not parse', () => {
    const slice = redactor({ redactRequestBody: ['$.a[0:1]'] });
    assert.deepEqual(slice.jsonText('{"a": [1, 2], "password": "S", "password": "x"}', 'request'), {
      text: `{"a":["${R}",2],"password":"${R}"}`,
      changed: true,
    });
    assert.ok('dropped' in slice.jsonText('{"a": [1, 2], "password": "S"', 'request'));
    assert.ok('dropped' in slice.jsonText('{"a": [1, 2], "b": 1', 'request', true));
  });

  it('keeps the fast path: untouched texts are returned as they are', () => {
    const text = '{"id": 1, "name": "n", "list": [1, 2, {"x": null}]}';
    assert.deepEqual(redactor().jsonText(text, 'request'), { text, changed: false });
    assert.deepEqual(redactor({ redactDefaults: false }).jsonText('{password: 1', 'request'), {
      text: '{password: 1',
      changed: false,
    });
  });

  /** The reference: parse, redact with body() (jsonpath-plus), serialize. */
  function reference(red: Redactor, text: string): unknown {
    return red.body(JSON.parse(text) as unknown, 'request').value;
  }

  for (const [i, rules] of RANDOM_RULE_SETS.entries()) {
    it(`matches body() + jsonpath-plus on 300 random documents, and every cut of them (rule set ${i})`, () => {
      const red = redactor(rules);
      const next = prng(2000 + i);
      let redacted = 0;
      for (let n = 0; n < 300; n++) {
        const doc = randomDoc(next);
        const text = JSON.stringify(doc, null, n % 3 === 0 ? 2 : undefined);
        const where = `seed ${2000 + i}, document ${n}: ${text}`;
        const result = red.jsonText(text, 'request');
        assert.ok('text' in result, where);
        assert.deepEqual(JSON.parse(result.text), reference(red, text), where);
        if (!result.changed) assert.equal(result.text, text, where);
        if (result.changed) redacted++;
        // Cut anywhere, the result is the start of the whole document's redaction: nothing more is shown.
        for (let cut = 0; cut < text.length; cut += 1 + Math.floor(next() * 7)) {
          const part = red.jsonText(text.slice(0, cut), 'request', true);
          assert.ok(
            'text' in part && result.text.startsWith(part.text),
            `${where}, cut at ${cut}: ${JSON.stringify(part)}`,
          );
        }
      }
      assert.ok(redacted >= 20, `only ${redacted} documents had anything to redact: the test would prove little`);
    });
  }
});

describe('Redactor.echo (error bodies and messages that repeat the URL)', () => {
  const r = redactor();
  it('finds the URL as is, JSON-escaped and percent-decoded', () => {
    const original = 'http://h/x?password=S"\\q%20w&a=1';
    const redacted = r.url(original);
    assert.equal(redacted, 'http://h/x?password=%5BREDACTED%5D&a=1');
    const body = JSON.stringify({ message: 'Cannot GET /x?password=S"\\q%20w&a=1', statusCode: 404 });
    assert.equal(
      r.echo(body, original, redacted),
      '{"message":"Cannot GET /x?password=%5BREDACTED%5D&a=1","statusCode":404}',
    );
    assert.equal(r.echo('at /x?password=S"\\q w&a=1', original, redacted), 'at /x?password=[REDACTED]&a=1');
    assert.equal(r.echo(`GET ${original} failed`, original, redacted), `GET ${redacted} failed`);
    assert.equal(r.echo('nothing here', original, redacted), 'nothing here');
  });
});

describe('URL userinfo is always redacted', () => {
  it('the password (or a lone user), whatever the options', () => {
    for (const r of [redactor(), redactor({ redactDefaults: false })]) {
      assert.equal(r.url('https://bob:s3cret@api.example/x?y=1'), 'https://bob:%5BREDACTED%5D@api.example/x?y=1');
      assert.equal(r.url('https://ghp_token@github.com/o/r'), 'https://%5BREDACTED%5D@github.com/o/r');
      assert.equal(r.url('http://a:b:c@h:1/p@q'), 'http://a:%5BREDACTED%5D@h:1/p@q');
      assert.equal(r.url('http://h/p?email=a@b'), 'http://h/p?email=a@b');
    }
  });
});

describe('the default list (one list: headers, query, bodies, text)', () => {
  const r = redactor();
  it('token-style headers, and URL-valued headers keep their URL with query values redacted', () => {
    const names = ['X-Auth-Token', 'X-Access-Token', 'Token', 'X-API-Token', 'X-CSRF-Token', 'Access_Token', 'Api-Key'];
    assert.deepEqual(
      r.headers(names.map((name) => ({ name, value: 'v' }))),
      names.map((name) => ({ name, value: R })),
    );
    assert.deepEqual(
      r.headers([
        { name: 'Location', value: 'https://app/cb?code=1&access_token=S&state=2' },
        { name: 'Referer', value: 'https://app/login?token=S' },
        { name: 'Content-Location', value: '/r?id_token=S' },
        { name: 'Link', value: '</a?b=1>' },
      ]),
      [
        { name: 'Location', value: 'https://app/cb?code=1&access_token=%5BREDACTED%5D&state=2' },
        { name: 'Referer', value: 'https://app/login?token=%5BREDACTED%5D' },
        { name: 'Content-Location', value: '/r?id_token=%5BREDACTED%5D' },
        { name: 'Link', value: '</a?b=1>' },
      ],
    );
  });

  it('secret-looking query keys', () => {
    assert.equal(
      r.url('/p?x-api-key=1&X-Auth-Token=2&q=3'),
      '/p?x-api-key=%5BREDACTED%5D&X-Auth-Token=%5BREDACTED%5D&q=3',
    );
  });

  it('text bodies: key=value, key: value, "key": value, <key>value</key>; cut values too', () => {
    const text = [
      'user=bob password=hunter2',
      'token: abc def',
      'x-api-key = k1;ok=1',
      '"client_secret": "c\\"s", "n": 1',
      '<access_token type="bearer">t0k</access_token>',
      'passwords: plural is not a key, mypassword=neither',
      'Secret=cut-mid-wa',
    ].join('\n');
    assert.deepEqual(r.bodyText(text, 'text/plain', 'response', true), {
      text: [
        'user=bob password=[REDACTED]',
        'token: [REDACTED]',
        'x-api-key = [REDACTED];ok=1',
        `"client_secret": "${R}", "n": 1`,
        `<access_token type="bearer">${R}</access_token>`,
        'passwords: plural is not a key, mypassword=neither',
        `Secret=${R}`,
      ].join('\n'),
      changed: true,
    });
    assert.deepEqual(r.text('plain words'), { text: 'plain words', changed: false });
  });
});
