// Times the traffic metrics' hot path inside a running app: preload it into the bench app, put load on it, stop it
// with SIGTERM; it prints the median and p90 per request of reading the exchange (measureExchange) and counting it.
// Usage (after `npx tsc -p tsconfig.json`):
//   PORT=4000 node -r ./bench/traffic-in-app.js dist/bench/app.js nestjs-api-metrics express &
//   wrk -t1 -c16 -d8s -H 'x-api-key: k' http://127.0.0.1:4000/items; kill -TERM %1
'use strict';
const { performance } = require('node:perf_hooks');
const aggregator = require('../dist/src/traffic/traffic-aggregator');
const measure = require('../dist/src/traffic/traffic-measure');

const counted = [];
const measured = [];
const count = aggregator.TrafficAggregator.prototype.count;
aggregator.TrafficAggregator.prototype.count = function (m, group) {
  const started = performance.now();
  count.call(this, m, group);
  counted.push(performance.now() - started);
};
const measureExchange = measure.measureExchange;
measure.measureExchange = function (exchange, status) {
  const started = performance.now();
  const result = measureExchange(exchange, status);
  measured.push(performance.now() - started);
  return result;
};
const empty = [];
for (let i = 0; i < 100_000; i++) {
  const started = performance.now();
  empty.push(performance.now() - started);
}

function quantile(values, q) {
  const sorted = Float64Array.from(values).sort();
  return `${(sorted[Math.floor(sorted.length * q)] * 1000).toFixed(2)} µs`;
}

process.on('SIGTERM', () => {
  const line = (name, values) => `${name}: median ${quantile(values, 0.5)}, p90 ${quantile(values, 0.9)}`;
  console.log(`${counted.length} exchanges counted`);
  console.log(line('read the exchange (measureExchange)', measured));
  console.log(line('count it (TrafficAggregator.count)', counted));
  console.log(line('the timer itself', empty));
});
