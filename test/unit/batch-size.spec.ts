import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ReadmeTransport } from '../../src';
import { Dispatcher } from '../../src/deliver/dispatcher';
import { RecordQueue } from '../../src/deliver/record-queue';
import { RecordFormatter } from '../../src/format/record-formatter';
import type { CapturedExchange } from '../../src/interfaces/captured-exchange.interface';
import { resolveMetricsOptions } from '../../src/metrics.options';
import { Redactor } from '../../src/redact/redactor';
import { Collector } from '../support/collector';

const quiet = { log() {}, warn() {}, error() {}, debug() {} };
const MIB = 1024 * 1024;

function exchange(i: number, bodyBytes: number): CapturedExchange {
  const text = JSON.stringify({ i, pad: 'x'.repeat(bodyBytes) });
  return {
    id: `id-${i}`,
    platform: 'express',
    startedAt: 1_700_000_000_000,
    durationMs: 1,
    aborted: false,
    method: 'POST',
    url: 'http://127.0.0.1/items',
    httpVersion: 'HTTP/1.1',
    requestHeaders: ['content-type', 'application/json'],
    requestBody: { text, size: text.length, truncated: false, source: 'wire' },
    status: 200,
    statusText: 'OK',
    responseHeaders: ['content-type', 'application/json'],
    clientIp: '127.0.0.1',
    group: { apiKey: 'k' },
  };
}

describe('batches are capped by bytes as well as by count', () => {
  let collector: Collector;
  before(async () => (collector = await Collector.start()));
  after(() => collector.close());

  it('RecordQueue.countWithin: the oldest records within the bytes, at least one, at most the count', () => {
    const q = new RecordQueue<string>();
    for (const [item, bytes] of [
      ['a', 40],
      ['b', 40],
      ['c', 40],
      ['d', 200],
    ] as const)
      q.push(item, bytes);
    assert.deepEqual(
      [
        q.countWithin(10, 100),
        q.countWithin(10, 120),
        q.countWithin(2, 1000),
        q.countWithin(10, 10),
        q.countWithin(10, 1e6),
      ],
      [2, 3, 2, 1, 4],
    );
  });

  it('a backlog of 3 MB of small records goes in a few calls of at most 1 MiB each, every record delivered', async () => {
    const options = resolveMetricsOptions({
      apiKey: 'k',
      baseUrl: collector.url,
      bufferLength: 1000,
      maxQueueSize: 10_000,
    });
    const redactor = new Redactor(options);
    const transport = new ReadmeTransport({ apiKey: 'k', baseUrl: collector.url, timeout: 5_000, proxy: false });
    const dispatcher = new Dispatcher(options, transport, new RecordFormatter(options, redactor), quiet);
    const before = collector.calls.length;
    const count = 1500; // ~2 KB each: three times the bytes cap, more than the old 100-record batches by far
    for (let i = 0; i < count; i++) dispatcher.enqueue(exchange(i, 1800));
    await dispatcher.flush();
    await dispatcher.onApplicationShutdown();
    const calls = collector.calls.slice(before);
    const sizes = calls.map((c) => Buffer.byteLength(c.raw));
    const total = sizes.reduce((a, b) => a + b, 0);
    assert.equal(
      calls.reduce((n, c) => n + c.records.length, 0),
      count,
    );
    assert.ok(
      sizes.every((s) => s <= MIB + 2),
      `a call over 1 MiB: ${sizes.join(', ')}`,
    );
    assert.ok(
      calls.length <= Math.ceil(total / MIB) + 1,
      `${calls.length} calls for ${total} bytes: ${sizes.join(', ')}`,
    );
    assert.deepEqual(dispatcher.stats().sent, count);
  });
});
