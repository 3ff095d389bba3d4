import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetricsService, type MetricsRecord, type MetricsTransport } from '../../src';
import { ADAPTERS, startApp } from '../support/adapters';
import { httpRequest } from '../support/http';
import { appPerTest } from '../support/suite';
import { testAppModule } from '../support/test-app';

/** ~60 KB of JSON: formatting a record of it (both bodies) takes a millisecond or more. */
const BIG_BODY = JSON.stringify({
  rows: Array.from({ length: 1200 }, (_, i) => ({ id: i, name: `row number ${i}`, tags: ['alpha', 'beta'] })),
});
const RECORDS = 60;
/** The bound for the event loop held by recording (#12, #20). */
const MAX_BLOCK_MS = 20;

async function postBigBodies(url: string): Promise<void> {
  for (let i = 0; i < RECORDS; i++) {
    const res = await httpRequest(`${url}/misc/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: BIG_BODY,
    });
    assert.equal(res.status, 200);
  }
}

for (const adapter of ADAPTERS) {
  describe(`delivery leaves room for the app (${adapter})`, () => {
    const suite = appPerTest();

    it('a big batch goes out without holding the event loop: each record was written when it settled', async (t) => {
      suite.running = await startApp(
        testAppModule(adapter, {
          apiKey: 'k',
          baseUrl: suite.collector.url,
          bufferLength: 1000,
          flushInterval: 60_000,
          maxQueueBytes: 2 ** 26,
        }),
        adapter,
      );
      const { url, app } = suite.running;
      await postBigBodies(url);

      // flush() starts the call before it returns: what it holds the loop for is its synchronous part (the collector
      // parsing the batch runs in this process too, so the loop's own delay would measure the test, not us).
      // Writing 60 records of ~120 KB of bodies each at flush time, in one go, would take far longer.
      const started = performance.now();
      const flushed = app.get(MetricsService).flush();
      const heldMs = performance.now() - started;
      await flushed;

      // Batches are capped at 1 MiB: these ~120 KB records go in calls of a few each.
      const calls = suite.collector.calls;
      assert.equal(
        calls.reduce((n, c) => n + c.records.length, 0),
        RECORDS,
        'every record was delivered',
      );
      assert.ok(calls.every((c) => Buffer.byteLength(c.raw) <= 2 ** 20 + 2 || c.records.length === 1));
      t.diagnostic(`flush() held the event loop for ${heldMs.toFixed(1)} ms`);
      assert.ok(heldMs < MAX_BLOCK_MS, `flush() held the event loop for ${heldMs.toFixed(1)} ms`);
    });

    it("a user's transport gets its batch formatted in slices: a request made as the flush starts is answered before the batch is handed over", async (t) => {
      let sentAt: number | undefined;
      let sent = 0;
      const transport: MetricsTransport = {
        send(records: MetricsRecord[]) {
          sentAt ??= performance.now();
          sent += records.length;
          return Promise.resolve();
        },
      };
      suite.running = await startApp(
        testAppModule(adapter, { transport, bufferLength: 1000, flushInterval: 60_000, maxQueueBytes: 2 ** 26 }),
        adapter,
      );
      const { url, app } = suite.running;
      await postBigBodies(url);

      const flushed = app.get(MetricsService).flush();
      const res = await httpRequest(`${url}/orders/7`);
      const answeredAt = performance.now();
      await flushed;

      assert.equal(res.status, 200);
      assert.equal(sent, RECORDS);
      assert.ok(sentAt !== undefined);
      const lead = sentAt - answeredAt;
      t.diagnostic(`answered ${lead.toFixed(1)} ms before the batch was handed over`);
      assert.ok(lead > 0, `the request was answered ${(-lead).toFixed(1)} ms after the batch was handed over`);
    });
  });
}
