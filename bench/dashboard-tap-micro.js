// The dashboard's tap for a user's transport (records formatted at batch time; the built-in ones, HAR file and OTLP
// included, get the page's ReadMe record from the one-pass writer at settle): what writing the record for the page
// costs per record, beside the redaction it reuses. The bench's ~1 KB exchange.
// Usage: npm run build:test && node bench/dashboard-tap-micro.js [GET|POST]
'use strict';
const { RecordFormatter } = require('../dist/src/format/record-formatter');
const { Redactor } = require('../dist/src/redact/redactor');
const { resolveMetricsOptions } = require('../dist/src/metrics.options');
const { benchExchanges } = require('./micro-exchanges');

const method = process.argv[2] === 'POST' ? 'POST' : 'GET';
const RULES = ['$.user.password', '$.card.number'];
const options = resolveMetricsOptions({ apiKey: 'k', redactRequestBody: RULES, redactResponseBody: RULES });
const formatter = new RecordFormatter(options, new Redactor(options));
const exchanges = benchExchanges(method);
const redacted = exchanges.map((x) => formatter.redact(x));
const records = exchanges.map((x) => formatter.format(x));
function cpu(fn) {
  const s = process.cpuUsage();
  for (let r = 0; r < 200; r++) fn();
  const u = process.cpuUsage(s);
  return (u.user + u.system) / (200 * 100);
}
let sink = 0;
const runs = { redact: [], 'record+stringify (exchange-transport tap)': [], 'stringify (user transport tap)': [] };
for (let k = 0; k < 7; k++) {
  runs.redact.push(
    cpu(() => {
      for (const x of exchanges) sink += formatter.redact(x).id.length;
    }),
  );
  runs['record+stringify (exchange-transport tap)'].push(
    cpu(() => {
      for (const r of redacted) sink += Buffer.from(JSON.stringify(formatter.record(r))).length;
    }),
  );
  runs['stringify (user transport tap)'].push(
    cpu(() => {
      for (const r of records) sink += Buffer.from(JSON.stringify(r)).length;
    }),
  );
}
if (sink < 0) throw new Error('unreachable'); // keeps the work observable
for (const [k, v] of Object.entries(runs))
  console.log(method, k, v.sort((a, b) => a - b)[3].toFixed(1), 'µs/record (median of 7)');
