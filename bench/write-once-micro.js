// CPU per record of writing ReadMe records: the path before #20 (HAR objects per record, JSON.stringify of the
// 100-record batch, Buffer.from of its text) against the write-once path (each record written to its bytes by the
// module's own writer, the batch their concatenation as ReadmeTransport builds it), and that path as #20 wrote each
// record (RedactedExchange, HAR objects, JSON.stringify: objectRecordWriter, the direct writer's oracle) against the
// direct writer (#25: the record's JSON text appended from the captured pieces). The bench's ~1 KB exchange with
// its rules (2 JSONPath rules + the defaults); old and new alternate in one process, 10 pairs, medians (process CPU
// time, so other processes on the machine matter less than with wall-clock time).
// Usage: npm run build:test && node bench/write-once-micro.js [GET|POST]
'use strict';
const { RecordFormatter } = require('../dist/src/format/record-formatter');
const { Redactor } = require('../dist/src/redact/redactor');
const { resolveMetricsOptions } = require('../dist/src/metrics.options');
const { recordWriter, objectRecordWriter } = require('../dist/src/write/record-writer');
const { benchExchanges } = require('./micro-exchanges');

const method = process.argv[2] === 'POST' ? 'POST' : 'GET';
const RULES = ['$.user.password', '$.card.number'];
const options = resolveMetricsOptions({ apiKey: 'k', redactRequestBody: RULES, redactResponseBody: RULES });
const formatter = new RecordFormatter(options, new Redactor(options));
const direct = recordWriter('readme-record', formatter);
const objects = objectRecordWriter('readme-record', formatter);
let write = direct;

const exchanges = benchExchanges(method);

const ROUNDS = 200; // batches of 100 per measurement
const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']');
let bytes = 0;

function before() {
  for (let r = 0; r < ROUNDS; r++)
    bytes += Buffer.from(JSON.stringify(exchanges.map((x) => formatter.format(x)))).length;
}

function after() {
  for (let r = 0; r < ROUNDS; r++) {
    const parts = [OPEN];
    for (let i = 0; i < exchanges.length; i++) {
      if (i > 0) parts.push(COMMA);
      parts.push(write(exchanges[i]));
    }
    parts.push(CLOSE);
    bytes += Buffer.concat(parts).length;
  }
}

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
const perRecordObjects = [];
for (let i = 0; i < 10; i++) {
  old.push(cpuPerRecord(before));
  now.push(cpuPerRecord(after));
  write = objects;
  perRecordObjects.push(cpuPerRecord(after));
  write = direct;
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(
  `${process.version} ${method}: before ${median(old).toFixed(1)} µs/record, after ${median(now).toFixed(1)} µs/record; ` +
    `paired differences ${old.map((x, i) => (now[i] - x).toFixed(1)).join(' ')} (${bytes > 0 ? 'ok' : '?'}); ` +
    `one record at a time through the object path ${median(perRecordObjects).toFixed(1)} µs/record, direct ` +
    `${median(now).toFixed(1)}, paired ${perRecordObjects.map((x, i) => (now[i] - x).toFixed(1)).join(' ')}`,
);
