// CPU per record of writing one ReadMe record from a captured exchange: the object path (RedactedExchange, HAR
// objects, JSON.stringify, Buffer.from; the writer's oracle) against the direct writer (the record's JSON text
// appended straight from the captured pieces, fixed parts cached). The bench's ~1 KB exchange with its rules (2
// JSONPath rules + the defaults, a group); old and new alternate in one process, 10 pairs, medians of process CPU time.
// Usage: npm run build:test && node bench/record-writer-micro.js [GET|POST]
'use strict';
const { RecordFormatter } = require('../dist/src/format/record-formatter');
const { Redactor } = require('../dist/src/redact/redactor');
const { resolveMetricsOptions } = require('../dist/src/metrics.options');
const { recordWriter, objectRecordWriter } = require('../dist/src/write/record-writer');
const { PAYLOAD } = require('../dist/bench/variants');

const method = process.argv[2] === 'POST' ? 'POST' : 'GET';
const RULES = ['$.user.password', '$.card.number'];
const options = resolveMetricsOptions({ apiKey: 'k', redactRequestBody: RULES, redactResponseBody: RULES });
const formatter = new RecordFormatter(options, new Redactor(options));
const direct = recordWriter('readme-record', formatter);
const objects = objectRecordWriter('readme-record', formatter);
const body = JSON.stringify(PAYLOAD);

const exchanges = Array.from({ length: 100 }, (_, i) => ({
  id: `0c1d2e3f-aaaa-4bbb-8ccc-${String(i).padStart(12, '0')}`,
  platform: 'express',
  startedAt: Date.now(),
  durationMs: 1.234,
  aborted: false,
  method,
  url: 'http://127.0.0.1:3000/items',
  httpVersion: 'HTTP/1.1',
  requestHeaders: ['Host', '127.0.0.1:3000', 'content-type', 'application/json', 'x-api-key', 'bench-user-key'].concat(
    method === 'POST' ? ['Content-Length', String(body.length)] : [],
  ),
  requestBody: method === 'POST' ? { text: body, size: body.length, truncated: false, source: 'wire' } : undefined,
  status: 200,
  statusText: 'OK',
  responseHeaders: [],
  responseHead:
    'HTTP/1.1 200 OK\r\nX-Powered-By: Express\r\nContent-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${body.length}\r\nETag: W/"3f5-abc"\r\nConnection: keep-alive\r\n\r\n`,
  responseBody: { text: body, size: body.length, truncated: false, source: 'wire' },
  route: '/items',
  clientIp: '127.0.0.1',
  group: { apiKey: 'bench-user-key', label: 'Bench', email: 'bench@example.com' },
}));
for (const x of exchanges) {
  if (!direct(x).equals(objects(x))) throw new Error('the direct writer differs from the object path');
}

const ROUNDS = 200;
let bytes = 0;
const run = (write) => () => {
  for (let r = 0; r < ROUNDS; r++) for (const x of exchanges) bytes += write(x).length;
};
const before = run(objects);
const after = run(direct);

function cpuPerRecord(fn) {
  const start = process.cpuUsage();
  fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / (ROUNDS * exchanges.length);
}

for (let i = 0; i < 3; i++) {
  before();
  after();
}
const old = [];
const now = [];
for (let i = 0; i < 10; i++) {
  old.push(cpuPerRecord(before));
  now.push(cpuPerRecord(after));
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(
  `${process.version} ${method}: object path ${median(old).toFixed(2)} µs/record, direct ${median(now).toFixed(2)} ` +
    `µs/record; paired differences ${old.map((x, i) => (now[i] - x).toFixed(1)).join(' ')} (${bytes > 0 ? 'ok' : '?'})`,
);
