import 'reflect-metadata';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { MetricsService, type MetricsModuleOptions } from '../../src';
import { ADAPTERS, startApp, type RunningApp } from '../support/adapters';
import { Collector } from '../support/collector';
import { ForwardProxy } from '../support/forward-proxy';
import { entryOf } from '../support/har';
import { httpRequest } from '../support/http';
import { testAppModule } from '../support/test-app';
import { watchUnexpectedErrors } from '../support/unexpected';

const API_KEY = 'project-api-key';
const TLS_DIR = join(__dirname, '..', '..', '..', 'test', 'support', 'tls');
const PROXY_VARS = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy'] as const;

/** Runs with exactly these proxy variables set (all others unset), restoring the environment afterwards. */
function proxyEnv(vars: Partial<Record<(typeof PROXY_VARS)[number], string>>): () => void {
  const saved = PROXY_VARS.map((name) => [name, process.env[name]] as const);
  for (const name of PROXY_VARS) {
    const value = vars[name];
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  return () => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}

for (const adapter of ADAPTERS) {
  describe(`delivery through a proxy (${adapter})`, () => {
    let collector: Collector;
    let tlsCollector: Collector;
    let proxy: ForwardProxy;
    let running: RunningApp | undefined;
    let restoreEnv = () => {};
    const unexpected = watchUnexpectedErrors();

    before(async () => {
      collector = await Collector.start();
      tlsCollector = await Collector.start({
        key: readFileSync(join(TLS_DIR, 'key.pem')),
        cert: readFileSync(join(TLS_DIR, 'cert.pem')),
      });
      proxy = await ForwardProxy.start();
    });
    afterEach(async () => {
      await running?.close();
      running = undefined;
      restoreEnv();
      restoreEnv = () => {};
      collector.reset();
      tlsCollector.reset();
      proxy.calls.length = 0;
      assert.deepEqual(unexpected, [], 'no unhandled rejection or uncaught exception');
    });
    after(async () => {
      await Promise.all([collector.close(), tlsCollector.close(), proxy.close()]);
    });

    /** Starts the app, answers one request, flushes; resolves with what the given collector received. */
    async function oneExchange(target: Collector, options: MetricsModuleOptions = {}) {
      running = await startApp(testAppModule(adapter, { apiKey: API_KEY, baseUrl: target.url, ...options }), adapter);
      assert.equal((await httpRequest(`${running.url}/orders/7`)).status, 200);
      await running.app.get(MetricsService).flush();
      assert.equal(target.records.length, 1, 'the record arrived');
      assert.equal(entryOf(target.records[0]!).request.url, `${running.url}/orders/7`);
      return target.calls[0]!;
    }

    it('HTTP_PROXY: an http collector is reached through the proxy, credentials intact', async () => {
      restoreEnv = proxyEnv({ HTTP_PROXY: proxy.url });
      const call = await oneExchange(collector);
      assert.deepEqual(
        proxy.calls.map((c) => [c.method, c.target]),
        [['POST', `${collector.url}/v1/request`]],
      );
      assert.equal(call.headers.authorization, `Basic ${Buffer.from(`${API_KEY}:`).toString('base64')}`);
    });

    it('HTTPS_PROXY with user:password: an https collector is reached through a CONNECT tunnel', async () => {
      const proxyWithUser = proxy.url.replace('http://', 'http://metrics:s3cret@');
      restoreEnv = proxyEnv({ HTTPS_PROXY: proxyWithUser });
      // The collector's certificate is self-signed; only this test, in its own process, stops checking it.
      const rejectUnauthorized = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
      const restoreProxyVars = restoreEnv;
      restoreEnv = () => {
        restoreProxyVars();
        if (rejectUnauthorized === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
        else process.env.NODE_TLS_REJECT_UNAUTHORIZED = rejectUnauthorized;
      };
      await oneExchange(tlsCollector);
      const { host } = new URL(tlsCollector.url);
      assert.deepEqual(
        proxy.calls.map((c) => [c.method, c.target]),
        [['CONNECT', host]],
      );
      assert.equal(proxy.calls[0]!.proxyAuthorization, `Basic ${Buffer.from('metrics:s3cret').toString('base64')}`);
    });

    it('NO_PROXY: a listed host is reached directly', async () => {
      restoreEnv = proxyEnv({ HTTP_PROXY: proxy.url, NO_PROXY: 'example.com,127.0.0.1' });
      await oneExchange(collector);
      assert.deepEqual(proxy.calls, []);
    });

    it('the proxy option overrides the environment: a URL forces it, false connects directly', async () => {
      restoreEnv = proxyEnv({});
      await oneExchange(collector, { proxy: proxy.url });
      assert.equal(proxy.calls.length, 1);
      await running?.close();
      running = undefined;
      collector.reset();
      proxy.calls.length = 0;

      restoreEnv();
      restoreEnv = proxyEnv({ HTTP_PROXY: proxy.url });
      await oneExchange(collector, { proxy: false });
      assert.deepEqual(proxy.calls, []);
    });
  });
}

describe('proxy option validation', () => {
  it('a proxy that is not an http(s) URL stops the app with a clear error', async () => {
    await assert.rejects(
      startApp(testAppModule('express', { apiKey: API_KEY, proxy: 'socks5://127.0.0.1:1080' }), 'express'),
      /"proxy" must be an http\(s\) URL or false, got the string "socks5:\/\/127\.0\.0\.1:1080"/,
    );
  });
});
