// Per-record cost of redacting (redactExchange, then the HAR entry written from it)  a 1 KB JSON request + 1 KB JSON response, with and without
// redaction, for a body that holds secret keys and one that does not.
// Usage: npm run bench:redaction   (builds, then runs on the compiled library in dist/)
'use strict';
const { performance } = require('node:perf_hooks');
const { RecordFormatter } = require('../dist/src/format/record-formatter');
const { Redactor } = require('../dist/src/redact/redactor');
const { resolveMetricsOptions } = require('../dist/src/metrics.options');

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
