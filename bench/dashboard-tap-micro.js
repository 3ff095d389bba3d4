// The dashboard's tap for transports that take no written ReadMe record: what writing the record for the page costs
// per record, beside the redaction it reuses. The bench's ~1 KB exchange. Usage: npm run build:test && node bench/dashboard-tap-micro.js [GET|POST]
// CPU per record of writing ReadMe records: the path before #20 (HAR objects per record, JSON.stringify of the
// 100-record batch, Buffer.from of its text) against the write-once path (each record written to its bytes by the
// module's own writer, the batch their concatenation as ReadmeTransport builds it). The bench's ~1 KB exchange with
// its rules (2 JSONPath rules + the defaults); old and new alternate in one process, 10 pairs, medians (process CPU
// time, so other processes on the machine matter less than with wall-clock time).
// Usage: npm run build:test && node bench/write-once-micro.js [GET|POST]
'use strict';
const { RecordFormatter } = require('../dist/src/format/record-formatter');
const { Redactor } = require('../dist/src/redact/redactor');
const { resolveMetricsOptions } = require('../dist/src/metrics.options');
const { PAYLOAD } = require('../dist/bench/variants');

const method = process.argv[2] === 'POST' ? 'POST' : 'GET';
const RULES = ['$.user.password', '$.card.number'];
const options = resolveMetricsOptions({ apiKey: 'k', redactRequestBody: RULES, redactResponseBody: RULES });
const formatter = new RecordFormatter(options, new Redactor(options));
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
  requestBody: method === 'POST' ? { text: body, size: body.length, truncated: false, source: 'parsed' } : undefined,
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
const redacted = exchanges.map((x) => formatter.redact(x));
const records = exchanges.map((x) => formatter.format(x));
function cpu(fn) {
  const s = process.cpuUsage();
  for (let r = 0; r < 200; r++) fn();
  const u = process.cpuUsage(s);
  return (u.user + u.system) / (200 * 100);
}
let sink = 0;
const runs = { redact: [], 'record+stringify (OTLP tap)': [], 'stringify (user transport / HAR tap)': [] };
for (let k = 0; k < 7; k++) {
  runs.redact.push(
    cpu(() => {
      for (const x of exchanges) sink += formatter.redact(x).id.length;
    }),
  );
  runs['record+stringify (OTLP tap)'].push(
    cpu(() => {
      for (const r of redacted) sink += Buffer.from(JSON.stringify(formatter.record(r))).length;
    }),
  );
  runs['stringify (user transport / HAR tap)'].push(
    cpu(() => {
      for (const r of records) sink += Buffer.from(JSON.stringify(r)).length;
    }),
  );
}
if (sink < 0) throw new Error('unreachable'); // keeps the work observable
for (const [k, v] of Object.entries(runs))
  console.log(method, k, v.sort((a, b) => a - b)[3].toFixed(1), 'µs/record (median of 7)');
