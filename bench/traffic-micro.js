// Hot-path cost of the traffic metrics: what settling one exchange adds (measureExchange + TrafficAggregator.count),
// on a warm aggregator of 40 routes x 4 statuses x 200 consumers, and a new unmatched path every time (no growth).
// Usage: npm run bench:traffic   (builds, then runs on the compiled library in dist/)
'use strict';
const { performance } = require('node:perf_hooks');
const { TrafficAggregator } = require('../dist/src/traffic/traffic-aggregator');
const { measureExchange, responseBodyBytes } = require('../dist/src/traffic/traffic-measure');

const ROUNDS = 5;
const N = 1_000_000;
const routes = Array.from({ length: 40 }, (_, i) => `/api/v1/resource${i}/:id`);
const statuses = [200, 201, 404, 500];
const groups = Array.from({ length: 200 }, (_, i) => ({ apiKey: `key-${i}-abcdef`, label: `Customer ${i}` }));

/** Exchanges as capture holds them when they settle: Express-like platform request, Node headers. */
const exchanges = Array.from({ length: 1024 }, (_, i) => {
  const route = routes[i % routes.length];
  const req = { method: i % 3 ? 'GET' : 'POST', headers: i % 3 ? {} : { 'content-length': '1024' } };
  return {
    exchange: {
      req,
      platformRequest: Object.assign(req, { route: { path: route }, baseUrl: '' }),
      startMark: performance.now(),
      responseBytes: responseBodyBytes('x'.repeat(900), undefined, false),
    },
    status: statuses[i % statuses.length],
    group: groups[(i * 7) % groups.length],
  };
});

function run(label, body) {
  const results = [];
  for (let r = 0; r < ROUNDS; r++) {
    const started = performance.now();
    for (let i = 0; i < N; i++) body(i);
    results.push(((performance.now() - started) * 1e6) / N);
  }
  results.sort((a, b) => a - b);
  console.log(`${label.padEnd(52)} ${results[ROUNDS >> 1].toFixed(0).padStart(5)} ns/exchange (median of ${ROUNDS})`);
}

const aggregator = new TrafficAggregator({ maxConsumers: 1000 });
run('measureExchange + count (matched routes)', (i) => {
  const x = exchanges[i & 1023];
  aggregator.count(measureExchange(x.exchange, x.status), x.group);
});
run('count only (matched routes)', (i) => {
  const x = exchanges[i & 1023];
  aggregator.count(
    { method: 'GET', route: routes[i % 40], status: x.status, seconds: 0.003, requestBytes: 0, responseBytes: 900 },
    x.group,
  );
});
const unmatched = new TrafficAggregator({ maxConsumers: 1000 });
run('measureExchange + count (a new unmatched path each)', (i) => {
  const x = exchanges[i & 1023];
  const req = { method: 'GET', headers: {}, url: `/nowhere/${i}` };
  unmatched.count(measureExchange({ req, platformRequest: req, startMark: 0, responseBytes: 9 }, 404), x.group);
});
console.log(
  `series: ${aggregator.seriesCount} matched, ${unmatched.seriesCount} after ${ROUNDS * N} distinct unmatched paths`,
);
