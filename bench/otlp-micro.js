// CPU per record of writing OTLP http/protobuf records, against ReadMe's, in one process (#25 item 5):
// - `otlp before`: the path every OTLP record took before: redacted when its batch goes, the batch's spans built and
//   encoded by the official serializer (@opentelemetry/otlp-transformer) in one call;
// - `otlp after`: each record written once (redacted, its spans built and encoded by src/format/otlp/span-encoder.ts),
//   the batch their concatenation in the resource/scope wrapper;
// - `readme`: the ReadMe record writer of the same exchange, the batch their concatenation.
// The bench's ~1 KB exchange with its rules (2 JSONPath rules + the defaults), 100-record batches; the three alternate,
// 10 rounds, medians of process CPU time per record.
// Usage: npm run build:test && node bench/otlp-micro.js [GET|POST]
'use strict';
const { OtlpTransport } = require('../dist/src');
const { RecordFormatter } = require('../dist/src/format/record-formatter');
const { Redactor } = require('../dist/src/redact/redactor');
const { resolveMetricsOptions } = require('../dist/src/metrics.options');
const { encodedSenderOf } = require('../dist/src/interfaces/encoded-transport.interface');
const { recordWriter } = require('../dist/src/write/record-writer');
const { benchExchanges } = require('./micro-exchanges');

const method = process.argv[2] === 'POST' ? 'POST' : 'GET';
const RULES = ['$.user.password', '$.card.number'];
const options = resolveMetricsOptions({ apiKey: 'k', redactRequestBody: RULES, redactResponseBody: RULES });
const formatter = new RecordFormatter(options, new Redactor(options));
const transport = new OtlpTransport({ url: 'http://127.0.0.1:9/v1/traces', protocol: 'http/protobuf' });
const sender = encodedSenderOf(transport);
const writeOtlp = recordWriter('otlp-spans', formatter, sender);
const writeReadme = recordWriter('readme-record', formatter);
// The official serializer, as the transport loaded it (private: the bench reaches in).
const serializer = transport.serializer;

const exchanges = benchExchanges(method);

const ROUNDS = 100; // batches of 100 per measurement
let bytes = 0;
const paths = {
  'otlp before': () => {
    for (let r = 0; r < ROUNDS; r++) {
      const spans = transport.spans(exchanges.map((x) => formatter.redact(x)));
      bytes += serializer.serializeRequest(spans).byteLength;
    }
  },
  'otlp after': () => {
    for (let r = 0; r < ROUNDS; r++) bytes += transport.records.join(exchanges.map(writeOtlp)).length;
  },
  readme: () => {
    for (let r = 0; r < ROUNDS; r++) bytes += Buffer.concat(exchanges.map(writeReadme)).length;
  },
};

function cpuPerRecord(fn) {
  const start = process.cpuUsage();
  fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / (ROUNDS * exchanges.length);
}

for (let i = 0; i < 3; i++) for (const fn of Object.values(paths)) fn();
const samples = Object.fromEntries(Object.keys(paths).map((k) => [k, []]));
for (let i = 0; i < 10; i++) for (const [k, fn] of Object.entries(paths)) samples[k].push(cpuPerRecord(fn));
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const paired = (a, b) => median(samples[a].map((x, i) => x - samples[b][i])).toFixed(1);
console.log(
  `${process.version} ${method}: ` +
    Object.keys(paths)
      .map((k) => `${k} ${median(samples[k]).toFixed(1)}`)
      .join(', ') +
    ` µs/record; after − before ${paired('otlp after', 'otlp before')}, after − readme ${paired('otlp after', 'readme')}` +
    ` (medians of paired differences${bytes > 0 ? '' : ', ?'})`,
);
void transport.close();
