// Redaction micro-bench, in two parts.
// 1. The JSON body scanner (src/redact/json-scanner.ts) on the bench's ~1 KB body (bench/variants.ts PAYLOAD) with
//    the bench's rules (the default list plus $.user.password and $.card.number), and on a body in which no key any
//    rule names occurs: CPU µs per call of Redactor.jsonText and .jsonLiteral, the scanner before #25 (the same
//    file, git show 6063a7a, transpiled on the fly) and the JSON.parse -> walk -> JSON.stringify reference; plus what
//    one scan allocates.
// 2. Per-record cost of redacting (redactExchange, then the HAR entry written from it): a 1 KB JSON request + 1 KB
//    JSON response, with and without redaction, for a body that holds secret keys and one that does not.
// Usage: npm run bench:redaction   (builds, then runs on the compiled library in dist/); other Node majors:
//   bash .ci/with-node.sh 24 npm run bench:redaction      (part 1 alone: npm run bench:redaction -- --scanner)
'use strict';
const { execFileSync } = require('node:child_process');
const { mkdtempSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { performance } = require('node:perf_hooks');
const v8 = require('node:v8');
const { RecordFormatter } = require('../dist/src/format/record-formatter');
const { Redactor } = require('../dist/src/redact/redactor');
const { resolveMetricsOptions } = require('../dist/src/metrics.options');
const { PAYLOAD } = require('../dist/bench/variants');

/** The commit whose redactor.ts holds the scanner before #25 (one 692-line file). */
const BEFORE = '6063a7a';

/** The redactor as it was at BEFORE, compiled against today's dist/ (its imports are unchanged); null without git. */
function redactorBefore() {
  try {
    const root = join(__dirname, '..');
    const source = execFileSync('git', ['show', `${BEFORE}:src/redact/redactor.ts`], { cwd: root, encoding: 'utf8' });
    const ts = require('typescript');
    const dist = join(root, 'dist', 'src');
    const js = ts
      .transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } })
      .outputText.replace(/require\("\.\.\/([^"]+)"\)/g, (_, p) => `require(${JSON.stringify(join(dist, p))})`)
      .replace(/require\("\.\/([^"]+)"\)/g, (_, p) => `require(${JSON.stringify(join(dist, 'redact', p))})`);
    const file = join(mkdtempSync(join(tmpdir(), 'redactor-before-')), 'redactor.js');
    writeFileSync(file, js);
    return require(file).Redactor;
  } catch (error) {
    console.log(`(the scanner before #25 is not available: ${error.message.split('\n')[0]})`);
    return null;
  }
}

/**
 * Median CPU µs per call of each function (user + system of this process: the box is shared, wall time is not the
 * work), measured interleaved: every round runs each function once in turn, so a swing of the machine's load hits all
 * of them alike.
 */
function cpuPerCall(fns, calls = 10000, rounds = 15) {
  const results = fns.map(() => []);
  for (const fn of fns) for (let i = 0; i < calls; i++) fn(); // warm-up
  for (let r = 0; r < rounds; r++) {
    fns.forEach((fn, f) => {
      const start = process.cpuUsage();
      for (let i = 0; i < calls; i++) fn();
      const used = process.cpuUsage(start);
      results[f].push((used.user + used.system) / calls);
    });
  }
  return results.map((r) => r.sort((a, b) => a - b)[rounds >> 1]);
}

/** Bytes of heap one call leaves allocated (the least over a few tries: a GC in between spoils a try). */
function bytesPerCall(fn, calls = 2000) {
  let least = Infinity;
  for (let t = 0; t < 9; t++) {
    const before = v8.getHeapStatistics().used_heap_size;
    for (let i = 0; i < calls; i++) fn();
    const grown = v8.getHeapStatistics().used_heap_size - before;
    if (grown >= 0) least = Math.min(least, grown / calls);
  }
  return least;
}

/** JSON.stringify's escaping written as a JavaScript copy loop (latin-1 output): what escaping as it copies costs. */
let escaped = Buffer.alloc(8192);
function escapeCopy(text) {
  if (escaped.length < text.length * 6 + 2) escaped = Buffer.alloc(text.length * 6 + 2);
  let o = 0;
  escaped[o++] = 0x22;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c && c < 0x100) escaped[o++] = c;
    else if (c === 0x22 || c === 0x5c) {
      escaped[o++] = 0x5c;
      escaped[o++] = c;
    } else if (c < 0x20) {
      const hex = c.toString(16).padStart(4, '0');
      escaped.write(`\\u${hex}`, o, 'latin1');
      o += 6;
    } else return JSON.stringify(text); // beyond latin-1: not measured here
  }
  escaped[o++] = 0x22;
  return escaped.latin1Slice(0, o);
}

function scannerSection() {
  const RULES = ['$.user.password', '$.card.number'];
  const options = resolveMetricsOptions({ apiKey: 'k', redactRequestBody: RULES, redactResponseBody: RULES });
  const redactor = new Redactor(options);
  const Before = redactorBefore();
  const before = Before && new Before(options);
  const clean = {
    ...PAYLOAD,
    user: { id: 42, name: 'Ada Lovelace', email: 'ada@example.com', nickname: 'not-a-real-one' },
    card: { last4: '1111', brand: 'visa' },
    items: PAYLOAD.items.map((item) => ({ ...item, name: `Item ${item.qty}` })),
  };
  const reference = (text) => JSON.stringify(redactor.body(JSON.parse(text), 'request').value);
  const scanner = redactor.scanners.request;
  console.log(
    `node ${process.version}; CPU µs per call (median of 15 interleaved rounds x 10000), bytes allocated per scan`,
  );
  const rows = [];
  for (const [label, body] of [
    ['1 KB, 2 secrets', PAYLOAD],
    ['1 KB, no rule key', clean],
  ]) {
    const text = JSON.stringify(body);
    const kept = redactor.jsonText(text, 'request');
    if (JSON.parse(kept.text).user.password === PAYLOAD.user.password) throw new Error('not redacted');
    if (before && JSON.stringify(before.jsonText(text, 'request')) !== JSON.stringify(kept)) throw new Error('differs');
    const none = () => NaN;
    rows.push([
      `${label} (${text.length} B)`,
      ...cpuPerCall([
        () => redactor.jsonText(text, 'request'),
        () => redactor.jsonLiteral(text, 'request', false),
        before ? () => before.jsonText(text, 'request') : none,
        before ? () => JSON.stringify(before.jsonText(text, 'request').text) : none,
        () => reference(text),
        () => JSON.stringify(kept.text),
        () => escapeCopy(kept.text),
      ]),
      bytesPerCall(() => scanner.scan(text, false)),
    ]);
  }
  console.log(
    '| body | jsonText | jsonLiteral | before #25: jsonText | before: + JSON.stringify | reference: parse, walk, ' +
      'stringify | JSON.stringify of the result | JS escaping copy of it | bytes per scan |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const [label, ...values] of rows) {
    const bytes = values.pop();
    console.log(`| ${label} | ${values.map((v) => v.toFixed(2)).join(' | ')} | ${bytes.toFixed(1)} |`);
  }
  console.log();
}

scannerSection();
if (process.argv.includes('--scanner')) process.exit(0);

const items = Array.from({ length: 15 }, (_, i) => ({
  sku: `SKU-${i}`,
  name: `Item number ${i}`,
  qty: i,
  price: 9.99,
}));
const bodies = {
  'with secret keys': { user: { id: 42, email: 'dev@acme.io', password: 'hunter2' }, card: { number: '4111' }, items },
  'without secret keys': {
    user: { id: 42, email: 'dev@acme.io', nickname: 'hunter2' },
    card: { brand: '4111' },
    items,
  },
};

function exchangeWith(body) {
  const text = JSON.stringify(body);
  const length = String(Buffer.byteLength(text));
  const captured = { text, size: Buffer.byteLength(text), truncated: false, source: 'wire' };
  return {
    id: 'x',
    platform: 'express',
    startedAt: Date.now(),
    durationMs: 1.2,
    aborted: false,
    method: 'POST',
    url: 'http://127.0.0.1:3000/orders?page=2&token=abc',
    httpVersion: 'HTTP/1.1',
    requestHeaders: ['host', '127.0.0.1:3000', 'content-type', 'application/json', 'content-length', length],
    requestBody: captured,
    status: 200,
    statusText: 'OK',
    responseHead: `HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${length}\r\n\r\n`,
    responseHeaders: [],
    responseBody: captured,
    route: '/orders',
    clientIp: '127.0.0.1',
    group: { apiKey: 'k' },
  };
}

function measure(exchange, options) {
  const resolved = resolveMetricsOptions({ apiKey: 'k', ...options });
  const formatter = new RecordFormatter(resolved, new Redactor(resolved));
  const run = (n) => {
    for (let i = 0; i < n; i++) formatter.format(exchange);
  };
  run(5000); // warm-up
  const rounds = [];
  for (let r = 0; r < 5; r++) {
    const start = performance.now();
    run(20000);
    rounds.push(((performance.now() - start) * 1000) / 20000);
  }
  return rounds.sort((a, b) => a - b)[2]; // median µs per record
}

const paths = ['$.card.number', '$..password'];
console.log(`node ${process.version}; µs per record (median of 5 x 20000)`);
for (const [label, body] of Object.entries(bodies)) {
  const exchange = exchangeWith(body);
  const none = measure(exchange, { redactDefaults: false });
  const defaults = measure(exchange, {});
  const full = measure(exchange, { redactRequestBody: paths, redactResponseBody: paths });
  console.log(
    `${label} (${Buffer.byteLength(JSON.stringify(body))} B): no redaction ${none.toFixed(1)}, ` +
      `defaults ${defaults.toFixed(1)} (+${(defaults - none).toFixed(1)}), ` +
      `defaults + 2 JSONPaths ${full.toFixed(1)} (+${(full - none).toFixed(1)})`,
  );
}
