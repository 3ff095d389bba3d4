import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetricsOptionsError, resolveMetricsOptions } from '../../src/metrics.options';
import { jsonPathProblem } from '../../src/redact/jsonpath';
import { maskApiKey } from '../../src/redact/mask';
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
      { name: 'Authorization', value: maskApiKey('Bearer abc') },
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

describe('Redactor.stringify (rules applied to the JSON form, without a parse)', () => {
  /** The reference: serialize, parse a private copy, redact it with jsonpath-plus, serialize again. */
  function reference(r: Redactor, doc: unknown): string {
    return JSON.stringify(r.body(JSON.parse(JSON.stringify(doc)) as unknown, 'request').value);
  }

  /** A small deterministic PRNG, so a failure names a reproducible seed. */
  function rng(seed: number): () => number {
    let s = seed >>> 0;
    return () => {
      s = (s * 1664525 + 1013904223) >>> 0;
      return s / 2 ** 32;
    };
  }

  const KEYS: string[] = ['a', 'b', 'password', 'Token', 'card', 'number', 'items', '0', '1', 'x y', 'ssn'];
  function randomDoc(next: () => number, depth = 0): unknown {
    const roll = next();
    if (depth > 4 || roll < 0.3) return [1, 'text', null, true, 2.5][Math.floor(next() * 5)];
    if (roll < 0.55) return Array.from({ length: Math.floor(next() * 4) }, () => randomDoc(next, depth + 1));
    const doc: Record<string, unknown> = {};
    for (let i = Math.floor(next() * 5); i > 0; i--)
      doc[KEYS[Math.floor(next() * KEYS.length)]!] = randomDoc(next, depth + 1);
    return doc;
  }

  const RULE_SETS: MetricsModuleOptions[] = [
    { redactRequestBody: ['$.a.b', '$.card.number'] },
    { redactRequestBody: ['$..number', '$.items[*].a', '$.items[0]', "$['x y'].a"] },
    { redactRequestBody: ['$.*.b', '$..*.ssn', '$..[1]', '$.a..b'], redactDefaults: false },
    { denylist: ['a', 'items'], redactRequestBody: ['$.b[*]'] },
    { allowlist: ['a', 'password', 'b'], redactRequestBody: ['$..a.a'] },
    { redactRequestBody: ['$..items..number', '$["b"]["a"]', '$.a[0][1]'] },
  ];

  for (const [i, rules] of RULE_SETS.entries()) {
    it(`matches the jsonpath-plus reference on 400 random documents (rule set ${i})`, () => {
      const r = redactor(rules);
      const next = rng(1000 + i);
      let redacted = 0;
      for (let n = 0; n < 400; n++) {
        const doc = randomDoc(next);
        if (doc === null || typeof doc !== 'object') continue;
        const text = r.stringify(doc, 'request');
        assert.equal(text, reference(r, doc), `seed ${1000 + i}, document ${n}: ${JSON.stringify(doc)}`);
        if (text?.includes(R)) redacted++;
      }
      assert.ok(redacted >= 20, `only ${redacted} documents had anything to redact: the test would prove little`);
    });
  }

  it('works on the JSON form: toJSON results, Buffers, omitted undefined values; never mutates the input', () => {
    const r = redactor({ redactRequestBody: ['$.when.password'] });
    const input = {
      when: { toJSON: () => ({ password: 'p', at: 1 }) },
      password: undefined,
      token: 't',
      buf: Buffer.from('ab'),
      list: [undefined, { secret: 's' }],
    };
    const before = JSON.stringify(input);
    assert.equal(r.stringify(input, 'request'), reference(r, input));
    assert.equal(
      r.stringify(input, 'request'),
      `{"when":{"password":"${R}","at":1},"token":"${R}","buf":{"type":"Buffer","data":[97,98]},"list":[null,{"secret":"${R}"}]}`,
    );
    assert.equal(JSON.stringify(input), before);
  });

  it('copies only what it redacts: "__proto__" keys, holes, boxed strings, key case and shared objects', () => {
    const r = redactor({ redactRequestBody: ['$.s[0]', '$.list[1].id'] });
    const parsed = JSON.parse('{"__proto__":{"password":"p","keep":1},"a":1}') as object;
    assert.equal(r.stringify(parsed, 'request'), `{"__proto__":{"password":"${R}","keep":1},"a":1}`);
    assert.equal(Object.getPrototypeOf(parsed), Object.prototype);
    // eslint-disable-next-line no-sparse-arrays
    const holes = { list: [, { id: 1, Password: 'x' }, undefined] };
    assert.equal(r.stringify(holes, 'request'), `{"list":[null,{"id":"${R}","Password":"${R}"},null]}`);
    // A String object is written as a string: its characters are not keys.
    assert.equal(r.stringify({ s: new String('ab') }, 'request'), '{"s":"ab"}');
    const shared = { token: 't', n: 1 };
    const doc = { a: shared, b: shared, c: { PASSWORD: 'p', TOKEN: 'q' } };
    assert.equal(
      r.stringify(doc, 'request'),
      `{"a":{"token":"${R}","n":1},"b":{"token":"${R}","n":1},"c":{"PASSWORD":"${R}","TOKEN":"${R}"}}`,
    );
    assert.equal(shared.token, 't');
    // toJSON gets its key, as JSON.stringify gives it (an array element's index as a string).
    const keyed = { other: [{ toJSON: (k: string) => ({ k, token: 't' }) }] };
    assert.equal(r.stringify(keyed, 'request'), `{"other":[{"k":"0","token":"${R}"}]}`);
    const untouched = { a: [1, { b: 2 }], when: new Date(0) };
    assert.equal(r.stringify(untouched, 'request'), JSON.stringify(untouched));
  });

  it('leaves slices, unions and negative indexes to jsonpath-plus (undefined), and "$" redacts everything', () => {
    assert.equal(redactor({ redactRequestBody: ['$.a[0:2]'] }).stringify({ a: [1] }, 'request'), undefined);
    assert.equal(redactor({ redactRequestBody: ['$.a[-1]'] }).stringify({ a: [1] }, 'request'), undefined);
    assert.equal(redactor({ redactRequestBody: ["$['a','b']"] }).stringify({ a: [1] }, 'request'), undefined);
    assert.equal(redactor({ redactRequestBody: ['$'] }).stringify({ a: 1 }, 'request'), `"${R}"`);
    assert.equal(redactor({ redactDefaults: false }).stringify({ password: 1 }, 'request'), '{"password":1}');
  });

  it('throws what JSON.stringify throws (cycles, BigInt)', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => redactor().stringify(cyclic, 'request'), TypeError);
    assert.throws(() => redactor().stringify({ n: 1n }, 'request'), TypeError);
  });
});
