import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetricsService } from '../../src';
import { GRAPHQL_DRIVERS, startGraphqlApp } from '../support/graphql-app';
import { httpRequest } from '../support/http';
import { appPerTest } from '../support/suite';

/**
 * The traffic metrics of a GraphQL API: one series per operation (not one `POST /graphql`), exact whether sampled in
 * or not, and an answer with `errors` counted as failed (`error.type` graphql) though its status is 200.
 */
for (const driver of GRAPHQL_DRIVERS) {
  describe(`GraphQL traffic metrics (${driver})`, () => {
    const suite = appPerTest();

    it('counts every operation under its name, sampled out or not, and GraphQL errors as errors', async () => {
      // sampleRate 0: nothing is shipped (GraphQL errors answer 200), everything is counted.
      suite.running = await startGraphqlApp(driver, { apiKey: 'k', baseUrl: suite.collector.url, sampleRate: 0 });
      const { url, app } = suite.running;
      const send = (query: string) =>
        httpRequest(`${url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query }),
        });
      for (let i = 0; i < 3; i++) await send('query GetOrder { order(id: "1") { id } }');
      for (let i = 0; i < 2; i++) await send('query Boom { boom }');
      await send('{ orders { id } }');
      const metrics = app.get(MetricsService);
      await metrics.flush();
      const counted = new Map(
        metrics.traffic().series.map((s) => [`${s.route} ${s.status} ${s.errorType ?? '-'}`, s.duration.count]),
      );
      assert.deepEqual([...counted].sort(), [
        ['query Boom 200 graphql', 2],
        ['query GetOrder 200 -', 3],
        ['query { orders } 200 -', 1],
      ]);
      assert.equal(suite.collector.records.length, 0, 'sampled out: nothing shipped');
    });
  });
}
