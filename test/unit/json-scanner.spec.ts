import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveMetricsOptions } from '../../src/metrics.options';
import { KeySet } from '../../src/redact/key-set';
import { Redactor } from '../../src/redact/redactor';
import type { MetricsModuleOptions } from '../../src';

const R = '[REDACTED]';

function redactor(options: MetricsModuleOptions = {}): Redactor {
  return new Redactor(resolveMetricsOptions({ apiKey: 'k', ...options }));
}

/** A small deterministic PRNG, so a failure names a reproducible seed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const pick = <T>(next: () => number, list: readonly T[]): T => list[Math.floor(next() * list.length)]!;

const KEYS = ['a', 'b', 'password', 'PassWord', 'TOKEN', 'card', 'number', 'items', '0', '1', 'x y', 'ssn', 'pa"ss'];
const MORE_KEYS = ['é', 'api_key', 'X-Api-Key', 'price', 'to\u212Aen', 'secret', 'pin', 'cvv', 'user', 'İd'];
const LEAVES = [
  1,
  'text',
  null,
  true,
  false,
  -2.5e3,
  0,
  1e-7,
  'q"\\\n',
  '\ud800x',
  'x\udc00',
  '😀',
  R,
  '\u2028',
  '\u0000',
];

function randomDoc(next: () => number, depth = 0): unknown {
  const roll = next();
  if (depth > 5 || roll < 0.3) return pick(next, LEAVES);
  if (roll < 0.55) return Array.from({ length: Math.floor(next() * 4) }, () => randomDoc(next, depth + 1));
  const doc: Record<string, unknown> = {};
  for (let i = Math.floor(next() * 5); i > 0; i--)
    doc[pick(next, [...KEYS, ...MORE_KEYS])] = randomDoc(next, depth + 1);
  return doc;
}

/**
 * JSON text as a hostile client writes it: any whitespace between tokens, keys with some characters `\u`-escaped
 * (`pass\u0077ord`), duplicate keys.
 */
function hostileJson(value: unknown, next: () => number): string {
  const ws = () => (next() < 0.2 ? pick(next, [' ', '\n', '\t', '\r\n  ']) : '');
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${ws()}${value.map((v) => hostileJson(v, next)).join(`${ws()},${ws()}`)}${ws()}]`;
  const members: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    const name =
      next() < 0.15
        ? [...key]
            .map((ch) =>
              next() < 0.4 ? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}` : JSON.stringify(ch).slice(1, -1),
            )
            .join('')
        : JSON.stringify(key).slice(1, -1);
    if (next() < 0.05) members.push(`"${name}":${hostileJson(pick(next, LEAVES), next)}`);
    members.push(`"${name}"${ws()}:${ws()}${hostileJson(child, next)}`);
  }
  return `{${ws()}${members.join(`,${ws()}`)}${ws()}}`;
}

const RULE_SETS: MetricsModuleOptions[] = [
  {},
  { redactRequestBody: ['$.user.password', '$.card.number'], redactResponseBody: ['$..pin'] },
  { redactRequestBody: ['$..number', '$.items[*].a', '$.items[0]', "$['x y'].a"] },
  { redactRequestBody: ['$.*.b', '$..*.ssn', '$..[1]', '$.a..b'], redactDefaults: false },
  { denylist: ['a', 'items', 'PIN', 'É'], redactRequestBody: ['$.b[*]'] },
  { allowlist: ['a', 'password', 'b'], redactRequestBody: ['$..a.a'] },
  { redactRequestBody: ['$'], redactDefaults: false },
  { redactRequestBody: ['$.a[0:1]'] },
];

/** Up to 25 random cut points of a text (every cut re-reads the text: all of them would be quadratic). */
function cutPoints(text: string, next: () => number): number[] {
  return Array.from({ length: Math.min(25, text.length) }, () => Math.floor(next() * text.length));
}

/** Texts that have broken redactors: escapes, casing, duplicates, BOM, surrogates, not JSON, cut. */
const HOSTILE = [
  '\uFEFF{ "password": {"v": "S1"}, "pass\\u0077ord": "S4", "Password": "S5", "password": "[REDACTED]" }',
  '{"to\u212Aen": "kelvin", "İd": 1, "TOKEN": "S", "\\u0074oken": "S"}',
  '{"password":"S","password":"[REDACTED]"}',
  '{"a": "\ud800", "b": "\\ud800", "password": "x\udfff", "c": "😀\u2028\u2029"}',
  '{\r\n\t"user": {\r\n\t\t"password": "S"\r\n\t}\r\n}',
  '[1, -0, 1e5, 1E-5, 0.5, true, false, null, "", {}, []]',
  '"just a string with \\"quotes\\" and \\\\ and \\n"',
  '42',
  '  ',
  '',
  '{password: "S"}',
  '{"password": "S",}',
  '{"a": 1} {"password": "S"}',
  '{"pass\\word": "S"}',
  '{"password": "S\nT"}',
  '{"a": [1, 2], "password": "S", "card": {"number": 4111}',
  '{"items": [{"a": 1}, {"a": 2}], "x y": {"a": "S"}}',
]; // (each also read cut at every length below)

describe('Redactor.jsonLiteral (the redacted body as a JSON string literal)', () => {
  function expected(red: Redactor, text: string, truncated: boolean): string | { dropped: string } {
    const result = red.jsonText(text, 'request', truncated);
    return 'dropped' in result ? result : JSON.stringify(result.text);
  }

  it('is JSON.stringify(jsonText(...).text) byte for byte, or the same reason, on hostile texts cut anywhere', () => {
    for (const rules of RULE_SETS) {
      const red = redactor(rules);
      for (const text of HOSTILE) {
        for (let cut = 0; cut <= text.length; cut++) {
          const part = text.slice(0, cut);
          const truncated = cut < text.length;
          assert.deepEqual(red.jsonLiteral(part, 'request', truncated), expected(red, part, truncated), part);
        }
        assert.deepEqual(red.jsonLiteral(text, 'request', true), expected(red, text, true), text);
      }
    }
  });

  for (const [i, rules] of RULE_SETS.entries()) {
    it(`matches the identity on 300 seeded hostile documents and cuts of them (rule set ${i})`, () => {
      const red = redactor(rules);
      const next = prng(4100 + i);
      for (let n = 0; n < 300; n++) {
        const text = (next() < 0.05 ? '\uFEFF' : '') + hostileJson(randomDoc(next), next);
        for (const kind of ['request', 'response'] as const) {
          const literal = red.jsonLiteral(text, kind, false);
          const result = red.jsonText(text, kind, false);
          assert.deepEqual(literal, 'dropped' in result ? result : JSON.stringify(result.text), text);
        }
        for (const cut of cutPoints(text, next)) {
          const part = text.slice(0, cut);
          assert.deepEqual(red.jsonLiteral(part, 'request', true), expected(red, part, true), part);
        }
      }
    });
  }
});

describe('JsonScanner on hostile JSON (against the JSON.parse → walk → JSON.stringify reference)', () => {
  for (const [i, rules] of RULE_SETS.entries()) {
    it(`escaped and duplicate keys, any whitespace, odd casing: the reference's document, every cut a prefix (rule set ${i})`, () => {
      const red = redactor(rules);
      const next = prng(5200 + i);
      let redacted = 0;
      for (let n = 0; n < 300; n++) {
        const text = hostileJson(randomDoc(next), next);
        const where = `seed ${5200 + i}, document ${n}: ${text}`;
        const result = red.jsonText(text, 'request');
        assert.ok('text' in result, where);
        const reference = red.body(JSON.parse(text) as unknown, 'request').value;
        assert.deepEqual(JSON.parse(result.text), reference, where);
        if (result.changed) redacted++;
        else assert.equal(result.text, text, where);
        // (`$.a[0:1]` is applied by jsonpath-plus, to whole documents only: cut ones are dropped.)
        for (const cut of i < 7 ? cutPoints(text, next) : []) {
          const part = red.jsonText(text.slice(0, cut), 'request', true);
          // Cut anywhere, the result is the start of the whole document's redaction: nothing more is shown.
          assert.ok('text' in part && result.text.startsWith(part.text), `${where}, cut at ${cut}`);
        }
      }
      if (i < 6) assert.ok(redacted >= 20, `only ${redacted} documents had anything to redact`);
    });
  }

  it('a text cut inside a number (`1.`, `1e`, `-`, `1e+`) is the valid prefix it is, not "not JSON"', () => {
    const r = redactor();
    for (const tail of ['1.', '1e', '1E+', '-', '-0.', '12.5e-']) {
      assert.deepEqual(r.jsonText(`{"token": 1, "a": ${tail}`, 'request', true), {
        text: `{"token": "${R}", "a": ${tail}`,
        changed: true,
      });
      assert.deepEqual(r.jsonText(`{"a": 1, "token": ${tail}`, 'request', true), {
        text: `{"a": 1, "token": "${R}"`,
        changed: true,
      });
      // Not cut, the same text is not JSON.
      assert.ok('dropped' in r.jsonText(`{"token": 1, "a": ${tail}}`, 'request'));
    }
    for (const bad of ['-.5', '01', '1.e5', '+1', '.5'])
      assert.ok('dropped' in r.jsonText(`{"token": ${bad}}`, 'request'));
  });

  it('keys in any casing, the Kelvin sign and escapes included; JSONPath names stay case-sensitive', () => {
    const r = redactor({ denylist: ['Café'], redactRequestBody: ['$.user.Pin'] });
    const text =
      '{"TOKEN": 1, "to\u212Aen": 2, "t\\u006fken": 3, "tokens": 4, "CAFÉ": 5, "caf\\u00e9": 6, "user": {"Pin": 7, "pin": 8}}';
    assert.deepEqual(r.jsonText(text, 'request'), {
      text: `{"TOKEN": "${R}", "to\u212Aen": "${R}", "t\\u006fken": "${R}", "tokens": 4, "CAFÉ": "${R}", "caf\\u00e9": "${R}", "user": {"Pin": "${R}", "pin": 8}}`,
      changed: true,
    });
  });

  it('a million nested arrays and a million-item array: read without recursion, the secret at the bottom redacted', () => {
    const r = redactor();
    const deep = `${'['.repeat(1_000_000)}{"password": "S"}${']'.repeat(1_000_000)}`;
    const scanned = r.jsonText(deep, 'request');
    assert.ok('text' in scanned && !scanned.text.includes('"S"'));
    const cut = r.jsonText(deep.slice(0, 1_000_010), 'request', true);
    assert.ok('text' in cut && !cut.text.includes('"S'));
    const wide = `[${'1,'.repeat(1_000_000)}{"password": "S"}, {"ok": "kept"}]`;
    const result = r.jsonText(wide, 'request');
    assert.ok('text' in result);
    assert.ok(result.text.endsWith(`{"password": "${R}"}, {"ok": "kept"}]`));
    const many = r.jsonText(`[${Array.from({ length: 100_000 }, (_, i) => `{"token": ${i}}`).join(',')}]`, 'request');
    assert.ok('text' in many && !/\d\}/.test(many.text), 'every one of 100,000 values redacted');
  });
});

describe('the Kelvin sign (K, which lower-cases to k) in a key name', () => {
  it('is found by the probes and redacted in JSON, text bodies and GraphQL names', () => {
    const r = redactor();
    assert.equal(r.mayChangeJson('{"to\u212Aen": "S"}', 'request'), true);
    assert.deepEqual(r.jsonText('{"to\u212Aen": "S"}', 'request'), { text: `{"to\u212Aen": "${R}"}`, changed: true });
    assert.equal(r.mayNameSecret('to\u212Aen'), true);
    assert.equal(r.isSecretName('to\u212Aen'), true);
    assert.deepEqual(r.text('a=1\nto\u212Aen=S\n\u212A=2'), { text: `a=1\nto\u212Aen=${R}\n\u212A=2`, changed: true });
  });
});

describe('KeySet (names tested where they stand)', () => {
  it('answers as Set.has(name.toLowerCase()) does, for ASCII and non-ASCII names and keys', () => {
    const names = ['token', 'api-key', 'café', 'i̇d', 'x'];
    const set = new KeySet(names);
    const lower = new Set(names);
    for (const key of [
      'TOKEN',
      'to\u212Aen',
      'tokeN ',
      'API-KEY',
      'CAFÉ',
      'İd',
      'İD',
      'X',
      'y',
      '',
      'tokens',
      'toke',
    ]) {
      assert.equal(set.has(key), lower.has(key.toLowerCase()), key);
      assert.equal(set.hasAt(`"${key}"`, 1, key.length + 1), lower.has(key.toLowerCase()), key);
    }
  });
});
