import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetricsService } from '../../src';
import { ADAPTERS, startApp } from '../support/adapters';
import { httpRequest } from '../support/http';
import { appPerTest } from '../support/suite';
import { testAppModule } from '../support/test-app';

/** ~60 KB of JSON: formatting a record of it (both bodies) takes a millisecond or more. */
const BIG_BODY = JSON.stringify({
  rows: Array.from({ length: 1200 }, (_, i) => ({ id: i, name: `row number ${i}`, tags: ['alpha', 'beta'] })),
});
const RECORDS = 60;

for (const adapter of ADAPTERS) {
  describe(`delivery leaves room for the app (${adapter})`, () => {
    const suite = appPerTest();

    it('a big batch is formatted in slices: a request made as the flush starts is answered before the batch goes out', async (t) => {
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
      for (let i = 0; i < RECORDS; i++) {
        const res = await httpRequest(`${url}/misc/echo`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: BIG_BODY,
        });
        assert.equal(res.status, 200);
      }

      const flushed = app.get(MetricsService).flush();
      const res = await httpRequest(`${url}/orders/7`);
      const answeredAt = performance.now();
      await flushed;

      assert.equal(res.status, 200);
      const first = suite.collector.calls[0];
      assert.ok(first, 'the batch was delivered');
      assert.equal(first.records.length, RECORDS);
      const lead = first.receivedAt - answeredAt;
      t.diagnostic(`answered ${lead.toFixed(1)} ms before the batch went out`);
      assert.ok(lead > 0, `the request was answered ${(-lead).toFixed(1)} ms after the batch went out`);
    });
  });
}
