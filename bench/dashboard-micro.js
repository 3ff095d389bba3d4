// The dashboard's cost while the page is open: CPU per JSON call with a full ring of records (4 MB), and the tap's
// cost per record. `npx tsc -p tsconfig.json && node bench/dashboard-micro.js`
'use strict';
const { performance } = require('node:perf_hooks');
const { setInterval, clearInterval } = require('node:timers');
const { DashboardApi } = require('../dist/src/dashboard/dashboard-api');
const { DashboardFeed } = require('../dist/src/dashboard/dashboard-feed');
const { TrafficAggregator } = require('../dist/src/traffic/traffic-aggregator');

function record(i) {
  const body = JSON.stringify({ id: i, item: 'Owl plush', quantity: i % 7, note: 'x'.repeat(200 + (i % 300)) });
  const headers = [
    { name: 'content-type', value: 'application/json' },
    { name: 'x-api-key', value: '[REDACTED 14]' },
    { name: 'user-agent', value: 'curl/8.5.0' },
  ];
  return {
    _id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    _version: 3,
    group: { id: `sha512-abc${i % 20}?000${i % 10}`, label: `Customer ${i % 20}` },
    clientIPAddress: '127.0.0.1',
    development: false,
    request: {
      log: {
        version: '1.2',
        creator: { name: 'readme-metrics (node)', version: '0.1.0' },
        entries: [
          {
            pageref: `http://localhost:3000/orders/:id${i % 30}`,
            startedDateTime: new Date().toISOString(),
            time: 3.2,
            request: {
              method: 'POST',
              url: `http://localhost:3000/orders/${i}`,
              httpVersion: 'HTTP/1.1',
              cookies: [],
              headers,
              queryString: [],
              postData: { mimeType: 'application/json', text: body },
              headersSize: -1,
              bodySize: body.length,
            },
            response: {
              status: i % 50 ? 200 : 500,
              statusText: 'OK',
              httpVersion: 'HTTP/1.1',
              cookies: [],
              headers,
              content: { size: body.length, mimeType: 'application/json', text: body },
              redirectURL: '',
              headersSize: -1,
              bodySize: body.length,
            },
            cache: {},
            timings: { send: 0, wait: 3.2, receive: 0 },
          },
        ],
      },
    },
  };
}

function cpu(fn, n) {
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

/** CPU µs per call of an async `fn`, and the longest stretch it held the event loop (ms). */
async function cpuAsync(fn, n) {
  let longest = 0;
  let last = performance.now();
  const probe = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 0);
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) await fn();
  const used = process.cpuUsage(start);
  clearInterval(probe);
  return { us: (used.user + used.system) / n, longest };
}

const feed = new DashboardFeed(4 * 1024 * 1024);
const buffers = Array.from({ length: 6000 }, (_, i) => Buffer.from(JSON.stringify(record(i))));
const tapUs =
  cpu(() => {
    for (const b of buffers) feed.records.push(b);
  }, 20) / buffers.length;
const aggregator = new TrafficAggregator({ maxConsumers: 1000 });
// 30 routes x 20 consumers x 3 statuses: 1800 series.
for (let r = 0; r < 30; r++) {
  for (let c = 0; c < 20; c++) {
    for (const status of [200, 404, 500]) {
      for (let k = 0; k < 3; k++) {
        aggregator.count(
          {
            method: 'GET',
            route: `/orders/:id${r}`,
            status,
            seconds: 0.003 * (k + 1),
            requestBytes: 0,
            responseBytes: 200,
          },
          { apiKey: `key-${c}`, label: `Customer ${c}` },
        );
      }
    }
  }
}
const api = new DashboardApi({
  path: '/api-metrics',
  traffic: () => aggregator.snapshot(),
  trafficEnabled: true,
  stats: () => ({
    captured: 0,
    sent: 0,
    dropped: 0,
    failed: 0,
    unconfirmed: 0,
    retried: 0,
    queued: 0,
    inFlight: 0,
    sampledOut: 0,
    groupTimeouts: 0,
  }),
  records: feed.records,
  deliveryLog: feed.deliveryLog,
});
const avg = buffers.reduce((a, b) => a + b.length, 0) / buffers.length;
console.log(
  `ring: ${feed.records.length} records of ~${Math.round(avg)} B, ${feed.records.bytes} B of ${feed.records.capacity}`,
);
console.log(`tap (copy into the ring, evicting): ${tapUs.toFixed(2)} µs per record`);
async function main() {
  const show = (label, r) =>
    console.log(`${label}: ${(r.us / 1000).toFixed(2)} ms CPU per call, event loop held ≤ ${r.longest.toFixed(1)} ms`);
  const url = (rest) => () => api.answer(`/api-metrics${rest}`);
  show('GET /api/exchanges, first call (parses every record once)', await cpuAsync(url('/api/exchanges'), 1));
  show('GET /api/exchanges, later calls (summaries kept)', await cpuAsync(url('/api/exchanges'), 50));
  show('GET /api/exchanges?status=5xx', await cpuAsync(url('/api/exchanges?status=5xx'), 50));
  show('GET /api/exchanges/:seq', await cpuAsync(url(`/api/exchanges/${buffers.length * 20}`), 200));
  show('GET /api/overview (1800 traffic series)', await cpuAsync(url('/api/overview'), 100));
}
void main();
