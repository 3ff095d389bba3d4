// Per-request cost of the GraphQL steps (src/graphql) on a typical request: a named query of ~40 lines with
// variables, and a mutation with a secret argument bound to a variable; the response ~1 KB, with and without errors.
//  - capture (main thread, at settle): the operation name from the captured body, the errors from the response;
//  - format (main thread or offload worker): the document and variables redacted, then the usual redactExchange;
//  - the check every non-GraphQL request pays (a path Set lookup).
// Usage: npm run build:test && node bench/graphql-micro.js
'use strict';
const { performance } = require('node:perf_hooks');
const { redactExchange } = require('../dist/src/format/redacted-exchange');
const { Redactor } = require('../dist/src/redact/redactor');
const { resolveMetricsOptions } = require('../dist/src/metrics.options');
const { summarizeOperations } = require('../dist/src/graphql/graphql-operation-name');
const { partsOfBody, pathOf } = require('../dist/src/graphql/graphql-request');
const { graphqlErrorsOf } = require('../dist/src/graphql/graphql-errors');

const fields = Array.from({ length: 30 }, (_, i) => `      field${i} { id name # comment ${i}\n      }`).join('\n');
const QUERY = `query GetOrder($id: ID!, $page: Int = 1) {\n  order(id: $id) {\n    id\n    items(page: $page) {\n${fields}\n    }\n  }\n}`;
const MUTATION = 'mutation Login($p: String!, $u: String!) { login(user: $u, password: $p) { token expires } }';
const data = {
  order: { id: '42', items: Array.from({ length: 20 }, (_, i) => ({ id: String(i), name: `Item ${i}` })) },
};
const requests = {
  'query, ok': [{ query: QUERY, variables: { id: '42', page: 2 }, operationName: 'GetOrder' }, { data }],
  'mutation, secret': [{ query: MUTATION, variables: { p: 'hunter22', u: 'ann' } }, { data: { login: null } }],
  'query, errors': [
    { query: QUERY, variables: { id: '42' } },
    { data, errors: [{ message: 'boom', path: ['order', 'items'], extensions: { code: 'INTERNAL_SERVER_ERROR' } }] },
  ],
};

function captured(body, response) {
  const text = JSON.stringify(body);
  const answer = JSON.stringify(response);
  return {
    id: 'x',
    platform: 'express',
    startedAt: Date.now(),
    durationMs: 1.2,
    aborted: false,
    method: 'POST',
    url: 'http://127.0.0.1:3000/graphql',
    httpVersion: 'HTTP/1.1',
    requestHeaders: [
      'host',
      '127.0.0.1:3000',
      'content-type',
      'application/json',
      'content-length',
      String(text.length),
    ],
    requestBody: { text, size: text.length, truncated: false, source: 'wire' },
    status: 200,
    statusText: 'OK',
    responseHeaders: ['content-type', 'application/json'],
    responseBody: { text: answer, size: answer.length, truncated: false, source: 'wire' },
    route: undefined,
    clientIp: '127.0.0.1',
    group: { apiKey: 'k' },
  };
}

function time(label, iterations, fn) {
  for (let i = 0; i < 2000; i++) fn(); // warm up
  const rounds = [];
  for (let r = 0; r < 7; r++) {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) fn();
    rounds.push(((performance.now() - start) * 1000) / iterations);
  }
  rounds.sort((a, b) => a - b);
  console.log(`${label.padEnd(44)} ${rounds[3].toFixed(2).padStart(7)} µs  (min ${rounds[0].toFixed(2)})`);
  return rounds[3];
}

const options = resolveMetricsOptions({ apiKey: 'k' });
const redactor = new Redactor(options);
const paths = new Set(['/graphql']);
let sink = 0;
console.log(`Node ${process.version}, medians of 7 rounds`);
time('non-GraphQL request: the path check', 200000, () => {
  sink += paths.has(pathOf('/orders/42?page=2')) ? 1 : 0;
});
for (const [label, [body, response]] of Object.entries(requests)) {
  const x = captured(body, response);
  time(`capture: ${label}`, 20000, () => {
    const summary = summarizeOperations(partsOfBody(x.requestBody.text, 'application/json'));
    const errors = graphqlErrorsOf(x.responseBody.text, false, '');
    sink += summary.operation.length + (errors ? errors.length : 0);
  });
  const plain = time(`format, as a plain JSON exchange: ${label}`, 5000, () => {
    sink += redactExchange(x, redactor, options).requestBody.text.length;
  });
  const graphql = {
    ...x,
    graphql: { operation: 'query GetOrder', operations: [{ type: 'query' }], introspection: false, failed: false },
  };
  const withGraphql = time(`format, as GraphQL: ${label}`, 5000, () => {
    sink += redactExchange(graphql, redactor, options).requestBody.text.length;
  });
  console.log(`${''.padEnd(44)} +${(withGraphql - plain).toFixed(2)} µs for the GraphQL step`);
}
if (sink < 0) console.log(sink);
