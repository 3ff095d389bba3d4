// Main-thread CPU of handing captured records to a worker thread (offload: 'worker'): one postMessage per record
// against one per batch of N, with records shaped like the bench's (~1 KB JSON request and response bodies, headers).
// Main-thread CPU is read from /proc/self/task/<pid>/stat (Linux; 10 ms ticks, hence 100k records).
// Usage: node bench/offload-post-micro.js [records=100000]
// Measured (Node 20, 2 cores, 3 runs): per record 4.1-4.8 µs; batches of 16-256 2.6-2.9 µs a record. The module posts
// every 25 ms or 64 records (src/deliver/offload/offload-dispatcher.ts).
'use strict';
const { readFileSync } = require('node:fs');
const { performance } = require('node:perf_hooks');
const { Worker } = require('node:worker_threads');

const TOTAL = Number(process.argv[2] ?? 100_000);
const BATCHES = [1, 16, 64, 256];

const body = JSON.stringify({
  user: { id: 42, name: 'Ada', email: 'ada@example.com', password: 'x' },
  items: Array.from({ length: 12 }, (_, i) => ({ sku: `SKU-${i}`, name: `Item number ${i}`, qty: i, price: 9.99 })),
});
const record = (i) => ({
  id: `id-${i}`,
  platform: 'express',
  startedAt: Date.now(),
  durationMs: 1.2,
  aborted: false,
  method: 'POST',
  url: 'http://127.0.0.1:3000/items?x=1',
  httpVersion: '1.1',
  requestHeaders: ['host', '127.0.0.1:3000', 'content-type', 'application/json', 'content-length', String(body.length)],
  requestBody: { text: body, size: body.length, truncated: false, source: 'wire' },
  status: 200,
  statusText: 'OK',
  responseHeaders: [],
  responseHead:
    'HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: 1000\r\n' +
    'Date: Mon, 23 Nov 2026 11:00:00 GMT\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n',
  responseBody: { text: body, size: body.length, truncated: false, source: 'wire' },
  route: '/items',
  pathParams: {},
  clientIp: '127.0.0.1',
  group: { apiKey: 'bench-key', label: 'Bench', email: 'bench@example.com' },
});

/** utime + stime of the main thread, in µs. */
function mainThreadCpu() {
  const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

async function run(batch) {
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads'); let n = 0;
     parentPort.on('message', (m) => { n += Array.isArray(m) ? m.length : 1; if (n >= ${TOTAL}) parentPort.postMessage(n); });`,
    { eval: true },
  );
  await new Promise((resolve) => worker.once('online', resolve));
  const records = Array.from({ length: TOTAL }, (_, i) => record(i));
  const cpu = mainThreadCpu();
  const started = performance.now();
  if (batch === 1) for (const r of records) worker.postMessage(r);
  else for (let i = 0; i < TOTAL; i += batch) worker.postMessage(records.slice(i, i + batch));
  const used = mainThreadCpu() - cpu;
  await new Promise((resolve) => worker.once('message', resolve));
  const all = performance.now() - started;
  console.log(
    `${batch === 1 ? 'per record' : `batches of ${batch}`}: main-thread CPU ${(used / TOTAL).toFixed(2)} µs a record; ` +
      `all received after ${((all * 1000) / TOTAL).toFixed(2)} µs a record`,
  );
  await worker.terminate();
}

(async () => {
  for (const batch of BATCHES) await run(batch);
})();
