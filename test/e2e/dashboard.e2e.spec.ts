/// <reference lib="dom" />
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'puppeteer-core';
import type { MetricsRecord } from '../../src';
import { MetricsService, OtlpTransport } from '../../src';
import { ADAPTERS, startApp, type RunningApp } from '../support/adapters';
import { launchBrowser, NO_BROWSER } from '../support/browser';
import { CANARY } from '../support/canaries';
import { Collector } from '../support/collector';
import { httpRequest } from '../support/http';
import { OtlpReceiver } from '../support/otlp-receiver';
import { trafficAppModule } from '../support/traffic-app';

/** Markup that runs script if it is ever parsed as HTML: each sets its own flag. */
const XSS_URL = '/shop/items/<img%20src=x%20onerror=window.__pwned=1>?q=<script>window.__pwned=2</script>';
const XSS_HEADER = '<img src=x onerror="window.__pwned=3">';
const XSS_BODY = { name: '<img src=x onerror=window.__pwned=4>', html: '<script>window.__pwned=5</script>' };
const XSS_LABEL = '<img src=x onerror=window.__pwned=6>';
const SECRET = CANARY('DASH');

interface Seen {
  requests: string[];
  dialogs: string[];
  errors: string[];
}

/** Opens the page with every request the page makes logged, and dialogs (alert/confirm) caught. */
/**
 * Clicks a row as a person would (a real mouse event). The page re-renders its lists on each poll (every 2 s), so the
 * row found can be replaced before the click lands ("Node is detached from document"): find it again and retry.
 */
async function clickRow(page: Page, selector: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await page.click(selector);
      return;
    } catch (error) {
      if (attempt >= 5 || !/detached|not clickable/i.test(String(error))) throw error;
    }
  }
}

async function openPage(browser: Browser, url: string): Promise<{ page: Page; seen: Seen }> {
  const page = await browser.newPage();
  const seen: Seen = { requests: [], dialogs: [], errors: [] };
  await page.setRequestInterception(true);
  page.on('request', (request) => {
    seen.requests.push(request.url());
    // Nothing may leave the page's origin: anything else is logged above and stopped here.
    if (request.url().startsWith(new URL(url).origin + '/')) void request.continue();
    else void request.abort();
  });
  page.on('dialog', (dialog) => {
    seen.dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on('pageerror', (error) => seen.errors.push(String(error)));
  const response = await page.goto(url, { waitUntil: 'load' });
  assert.equal(response?.status(), 200);
  return { page, seen };
}

const tableRows = (page: Page, selector: string) =>
  page.$$eval(`${selector} tbody tr`, (trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent ?? '')));

for (const adapter of ADAPTERS) {
  describe(`dashboard in a real browser (${adapter})`, { skip: NO_BROWSER }, () => {
    let collector: Collector;
    let running: RunningApp;
    let browser: Browser;
    let dashboardUrl: string;

    before(async () => {
      collector = await Collector.start();
      running = await startApp(
        trafficAppModule({
          apiKey: 'rdme_dashboard_test_key',
          baseUrl: collector.url,
          bufferLength: 1,
          flushInterval: 50,
          dashboard: true,
        }),
        adapter,
      );
      dashboardUrl = `${running.url}/api-metrics`;
      browser = await launchBrowser();
      // The known traffic: 3 GETs of one route by one consumer, 2 POSTs with a secret, a 500, a 404 without a
      // consumer (counted, not recorded: no group), the canaries.
      const acme = { 'x-api-key': 'acme-key-0001', 'x-label': 'Acme' };
      for (let i = 1; i <= 3; i++) await httpRequest(`${running.url}/shop/items/${i}`, { headers: acme });
      for (let i = 0; i < 2; i++) {
        await httpRequest(`${running.url}/shop/items`, {
          method: 'POST',
          headers: { ...acme, 'content-type': 'application/json' },
          body: JSON.stringify({ password: SECRET, sku: `A${i}` }),
        });
      }
      await httpRequest(`${running.url}/shop/boom`, { headers: acme });
      await httpRequest(`${running.url}/nowhere`);
      await httpRequest(`${running.url}${XSS_URL}`, {
        headers: { 'x-api-key': 'evil-key-9999', 'x-label': XSS_LABEL, 'x-note': XSS_HEADER },
      });
      await httpRequest(`${running.url}/shop/items`, {
        method: 'POST',
        headers: { 'x-api-key': 'evil-key-9999', 'x-label': XSS_LABEL, 'content-type': 'application/json' },
        body: JSON.stringify(XSS_BODY),
      });
      await running.app.get(MetricsService).flush();
    });

    after(async () => {
      await browser?.close();
      await running?.close();
      await collector?.close();
    });

    it('shows each route with its exact count, the consumer, the 5xx, and nothing leaves the origin', async () => {
      const { page, seen } = await openPage(browser, dashboardUrl);
      await page.waitForFunction(() => document.querySelector('#routes tbody')?.textContent?.includes('/shop/boom'));
      const routes = await tableRows(page, '#routes');
      const count = (method: string, route: string) => routes.find((r) => r[0] === method && r[1] === route)?.[2];
      assert.equal(count('GET', '/shop/items/:id'), '4', JSON.stringify(routes)); // 3 + the canary URL
      assert.equal(count('POST', '/shop/items'), '3');
      assert.equal(count('GET', '/shop/boom'), '1');
      assert.equal(routes.find((r) => r[1] === '/shop/boom')?.[3], '100.0%');
      const consumers = await tableRows(page, '#consumers');
      assert.deepEqual(
        consumers.map((r) => [r[0], r[1]]),
        [
          ['Acme', '6'],
          [XSS_LABEL, '2'],
        ],
      );
      assert.match(await page.$eval('#statuses', (n) => n.textContent ?? ''), /5xx1 /);
      // The recent exchanges, newest first: the 500 is among them, with its status.
      await page.waitForFunction(() => (document.querySelector('#exchanges tbody')?.children.length ?? 0) >= 8);
      const exchanges = await tableRows(page, '#exchanges');
      assert.equal(exchanges.length, 8, JSON.stringify(exchanges));
      assert.deepEqual(exchanges[0]!.slice(1, 4), ['POST', `${running.url}/shop/items`, '201']);
      assert.ok(exchanges.some((r) => r[2] === `${running.url}/shop/boom` && r[3] === '500'));
      // A consumer's row filters the exchanges to its own (by its masked key, as traffic and records both name it).
      await clickRow(page, '#consumers tbody tr.clickable');
      await page.waitForFunction(() => document.querySelectorAll('#exchanges tbody tr').length === 6);
      assert.ok((await tableRows(page, '#exchanges')).every((r) => r[5] === 'Acme'));
      // Delivery health: what was sent.
      assert.match(await page.$eval('#delivery', (n) => n.textContent ?? ''), /sent8/);
      const origin = new URL(running.url).origin;
      assert.ok(seen.requests.length >= 5, `${seen.requests.length} requests`);
      assert.deepEqual(
        seen.requests.filter((u) => !u.startsWith(`${origin}/api-metrics`)),
        [],
        'every request of the page went to its own URLs',
      );
      assert.deepEqual(seen.errors, []);
      await page.close();
    });

    it('opens an exchange into its redacted body, headers and its error; filters by status', async () => {
      const { page } = await openPage(browser, dashboardUrl);
      await page.waitForSelector('#exchanges tbody tr.clickable');
      await page.select('#f-status', '5xx');
      await page.waitForFunction(() => document.querySelectorAll('#exchanges tbody tr').length === 1);
      await clickRow(page, '#exchanges tbody tr.clickable');
      await page.waitForSelector('#detail:not([hidden]) .entry');
      const detail = await page.$eval('#detail', (n) => (n as HTMLElement).innerText);
      assert.match(detail, /GET .*\/shop\/boom → 500/);
      assert.match(detail, /handler exploded/, 'the _errors of the record');
      await page.select('#f-status', '');
      // The POST with a password: its body as the record carries it, the secret redacted.
      await page.select('#f-route', 'POST /shop/items');
      await page.waitForFunction(() => document.querySelectorAll('#exchanges tbody tr').length === 3);
      await clickRow(page, '#exchanges tbody tr.clickable:nth-child(3)');
      await page.waitForFunction(() => document.querySelector('#detail pre.body')?.textContent?.includes('sku'));
      const body = await page.$eval('#detail', (n) => (n as HTMLElement).innerText);
      assert.match(body, /"password":\s*"\[REDACTED/);
      assert.match(body, /acme-key-0001|sha512-/, 'the consumer as the record names it');
      const text = await page.evaluate(() => document.documentElement.outerHTML);
      assert.ok(!text.includes(SECRET), 'the secret is nowhere on the page');
      assert.ok(!text.includes('acme-key-0001'), 'nor the raw API key');
      await page.close();
    });

    it('renders every recorded string as text: the canaries in URL, headers, body and label do not run', async () => {
      const { page, seen } = await openPage(browser, dashboardUrl);
      await page.waitForSelector('#exchanges tbody tr.clickable');
      // The two canary exchanges are the newest: open each.
      await clickRow(page, '#exchanges tbody tr.clickable');
      await page.waitForFunction(() => document.querySelector('#detail')?.textContent?.includes('window.__pwned=4'));
      const shown = await page.evaluate(() => document.body.innerText);
      assert.ok(shown.includes('window.__pwned=4'), 'the body canary is shown as text');
      assert.ok(shown.includes(XSS_LABEL), 'the label canary is shown as text');
      await clickRow(page, '#exchanges tbody tr.clickable:nth-child(2)');
      await page.waitForFunction(() => document.querySelector('#detail')?.textContent?.includes('x-note'));
      const headerShown = await page.evaluate(() => document.querySelector('#detail')?.textContent ?? '');
      assert.ok(headerShown.includes(XSS_HEADER), 'the header canary is shown as text');
      // The URL as the record carries it (percent-encoded by the recorder); the echoed id raw in the response body.
      assert.ok(headerShown.includes('/shop/items/%3Cimg%20src=x%20onerror=window.__pwned=1%3E?q=%3Cscript%3E'));
      assert.ok(headerShown.includes('{"id":"<img src=x onerror=window.__pwned=1>"'), 'the echoed canary as text');
      // Every poll re-renders the lists with the canaries in them: give a few polls a chance to run anything.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
      assert.equal(await page.$$eval('#detail img, #detail script, #detail svg', (n) => n.length), 0);
      assert.deepEqual(seen.dialogs, []);
      assert.deepEqual(seen.errors, []);
      await page.close();
    });

    it('answers with a strict policy, and its own requests are neither recorded nor counted', async () => {
      const page = await httpRequest(dashboardUrl);
      assert.equal(page.status, 200);
      assert.match(String(page.headers['content-security-policy']), /default-src 'none'; script-src 'self'/);
      assert.doesNotMatch(String(page.headers['content-security-policy']), /unsafe-inline|https?:/);
      assert.equal(page.headers['x-content-type-options'], 'nosniff');
      assert.equal(page.headers['cache-control'], 'no-store');
      assert.equal(page.headers['referrer-policy'], 'no-referrer');
      assert.equal(page.headers['x-frame-options'], 'DENY');
      assert.doesNotMatch(page.body.toString(), /<script>|<script [^>]*>[^<]/, 'no inline script');
      for (const asset of ['/app.js', '/app.css', '/api/overview', '/api/exchanges']) {
        const res = await httpRequest(`${dashboardUrl}${asset}`);
        assert.equal(res.status, 200, asset);
        assert.equal(res.headers['x-content-type-options'], 'nosniff');
      }
      // Read-only: nothing but GET and HEAD.
      assert.equal((await httpRequest(`${dashboardUrl}/api/overview`, { method: 'POST' })).status, 404);
      assert.equal((await httpRequest(`${dashboardUrl}/nothing-here`)).status, 404);
      const service = running.app.get(MetricsService);
      await service.flush();
      const routes = service.traffic().series.map((s) => s.route ?? '');
      assert.ok(!routes.some((r) => r.includes('api-metrics')), JSON.stringify(routes));
      const urls = collector.calls.flatMap((c) => c.records.map((r) => r.request.log.entries[0]!.request.url));
      assert.equal(urls.length, 8);
      assert.ok(!urls.some((u) => u.includes('/api-metrics')), JSON.stringify(urls));
    });

    it('keeps each record exactly as written: the bytes the collector received', async () => {
      const list = JSON.parse((await httpRequest(`${dashboardUrl}/api/exchanges?limit=500`)).body.toString()) as {
        items: { seq: number; id: string }[];
      };
      const sent = new Map<string, MetricsRecord>();
      for (const call of collector.calls) for (const r of call.records) sent.set(r._id, r);
      assert.equal(list.items.length, sent.size);
      for (const item of list.items) {
        const kept = JSON.parse((await httpRequest(`${dashboardUrl}/api/exchanges/${item.seq}`)).body.toString());
        assert.deepEqual(kept, sent.get(item.id));
      }
    });
  });
}

for (const adapter of ADAPTERS) {
  describe(`dashboard access (${adapter})`, () => {
    let running: RunningApp;
    after(() => running?.close());

    it("`allow` opens it to the app's own check: a token gets the page, anything else the app's 404", async () => {
      const seen: unknown[] = [];
      running = await startApp(
        trafficAppModule({
          transport: { send: () => Promise.resolve() },
          dashboard: {
            path: '/ops/metrics',
            allow: (req: { headers: Record<string, string | undefined> }) => {
              seen.push(req.headers);
              return Promise.resolve(req.headers['x-dashboard-token'] === 'let-me-in');
            },
          },
        }),
        adapter,
      );
      const base = `${running.url}/ops/metrics`;
      const notFound = await httpRequest(`${running.url}/no-such-route`);
      for (const url of [base, `${base}/app.js`, `${base}/api/overview`, `${base}/api/exchanges/1`]) {
        for (const headers of [{}, { 'x-dashboard-token': 'wrong' }] as Record<string, string>[]) {
          const res = await httpRequest(url, { headers });
          assert.equal(res.status, 404, url);
          assert.equal(res.headers['content-type'], notFound.headers['content-type'], "the app's own 404");
          assert.equal(res.headers['content-security-policy'], undefined);
        }
        const ok = await httpRequest(url.replace(/\/1$/, ''), { headers: { 'x-dashboard-token': 'let-me-in' } });
        assert.equal(ok.status, 200, url);
      }
      assert.ok(seen.length >= 12);
      // The default path is not served: only the configured one.
      assert.equal((await httpRequest(`${running.url}/api-metrics`)).status, 404);
      await running.close();
    });

    it('an `allow` that throws or never answers is a no, and the app keeps serving', async () => {
      running = await startApp(
        trafficAppModule({
          transport: { send: () => Promise.resolve() },
          timeout: 200,
          dashboard: {
            allow: (req: { headers: Record<string, string | undefined> }) => {
              if (req.headers['x-mode'] === 'throw') throw new Error('auth service down');
              return new Promise<boolean>(() => {}); // never settles
            },
          },
        }),
        adapter,
      );
      assert.equal((await httpRequest(`${running.url}/api-metrics`, { headers: { 'x-mode': 'throw' } })).status, 404);
      assert.equal((await httpRequest(`${running.url}/api-metrics`)).status, 404);
      assert.equal((await httpRequest(`${running.url}/shop/items/1`)).status, 200);
      await running.close();
    });

    it('without `allow`, any loopback address gets the page (a client bound to 127.0.0.2), by the socket only', async () => {
      running = await startApp(
        trafficAppModule({ transport: { send: () => Promise.resolve() }, dashboard: true }),
        adapter,
      );
      const { port } = new URL(running.url);
      const fromAddress = (localAddress: string, headers: Record<string, string> = {}) =>
        new Promise<number>((resolve, reject) => {
          const req = request(
            { host: '127.0.0.1', port, path: '/api-metrics/api/overview', localAddress, headers, agent: false },
            (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode ?? 0));
            },
          );
          req.on('error', reject);
          req.end();
        });
      assert.equal(await fromAddress('127.0.0.2'), 200);
      // A header naming another client changes nothing: the socket decides (non-loopback: test/unit/dashboard-core).
      assert.equal(
        await fromAddress('127.0.0.3', { 'x-forwarded-for': '203.0.113.7', forwarded: 'for=203.0.113.7' }),
        200,
      );
      await running.close();
    });

    it('is off by default', async () => {
      running = await startApp(trafficAppModule({ transport: { send: () => Promise.resolve() } }), adapter);
      assert.equal((await httpRequest(`${running.url}/api-metrics`)).status, 404);
      await running.close();
    });
  });
}

/** The page's list of recent exchanges, and each record as it keeps it. */
async function keptRecords(url: string): Promise<MetricsRecord[]> {
  const list = JSON.parse((await httpRequest(`${url}/api-metrics/api/exchanges?limit=500`)).body.toString()) as {
    items: { seq: number }[];
  };
  const records: MetricsRecord[] = [];
  for (const item of list.items) {
    const res = await httpRequest(`${url}/api-metrics/api/exchanges/${item.seq}`);
    records.push(JSON.parse(res.body.toString()) as MetricsRecord);
  }
  return records;
}

for (const adapter of ADAPTERS) {
  describe(`dashboard records with other pipelines (${adapter})`, () => {
    it("offload: 'worker': the worker's records reach the page, exactly as sent", async () => {
      const collector = await Collector.start();
      const running = await startApp(
        trafficAppModule({
          apiKey: 'rdme_dashboard_offload',
          baseUrl: collector.url,
          offload: 'worker',
          dashboard: true,
        }),
        adapter,
      );
      try {
        const acme = { 'x-api-key': 'acme-key-0001', 'x-label': 'Acme' };
        for (let i = 1; i <= 5; i++) await httpRequest(`${running.url}/shop/items/${i}`, { headers: acme });
        await running.app.get(MetricsService).flush();
        const sent = collector.calls.flatMap((c) => c.records);
        assert.equal(sent.length, 5);
        // The worker posts its records after each batch it takes in: within a moment of the flush.
        let kept: MetricsRecord[] = [];
        for (let i = 0; i < 50 && kept.length < 5; i++) {
          kept = await keptRecords(running.url);
          if (kept.length < 5) await new Promise((resolve) => setTimeout(resolve, 20));
        }
        assert.deepEqual(
          kept.sort((a, b) => a._id.localeCompare(b._id)),
          sent.sort((a, b) => a._id.localeCompare(b._id)),
        );
      } finally {
        await running.close();
        await collector.close();
      }
    });

    it('OtlpTransport (spans written at settle): the page gets the ReadMe record, written for it by the same writer', async () => {
      const receiver = await OtlpReceiver.start();
      const running = await startApp(
        trafficAppModule({
          transport: new OtlpTransport({ url: receiver.urlFor('http/protobuf'), protocol: 'http/protobuf' }),
          dashboard: true,
        }),
        adapter,
      );
      try {
        await httpRequest(`${running.url}/shop/items`, {
          method: 'POST',
          headers: { 'x-api-key': 'acme-key-0001', 'content-type': 'application/json' },
          body: JSON.stringify({ password: SECRET, sku: 'O1' }),
        });
        await running.app.get(MetricsService).flush();
        const [span] = await receiver.waitForSpans(1);
        const kept = await keptRecords(running.url);
        assert.equal(kept.length, 1);
        const entry = kept[0]!.request.log.entries[0]!;
        assert.equal(entry.request.method, 'POST');
        assert.match(entry.request.url, /\/shop\/items$/);
        assert.equal(span!.attributes['http.request.method'], 'POST');
        assert.match(entry.request.postData?.text ?? '', /"sku":"O1"/);
        assert.ok(!JSON.stringify(kept).includes(SECRET), 'the page never has the secret');
        assert.ok(!receiver.decoded.join('\n').includes(SECRET), 'nor the collector');
      } finally {
        await running.close();
        await receiver.close();
      }
    });

    it("a user's exchange transport (input: 'exchanges'): the page gets the ReadMe record of what it was sent", async () => {
      const delivered: { id: string; requestBody?: { text?: string } }[] = [];
      const running = await startApp(
        trafficAppModule({
          transport: {
            input: 'exchanges',
            send: (exchanges: unknown[]) => {
              delivered.push(...(exchanges as never[]));
              return Promise.resolve();
            },
          },
          dashboard: true,
        }),
        adapter,
      );
      try {
        await httpRequest(`${running.url}/shop/items`, {
          method: 'POST',
          headers: { 'x-api-key': 'acme-key-0001', 'content-type': 'application/json' },
          body: JSON.stringify({ password: SECRET, sku: 'C1' }),
        });
        await running.app.get(MetricsService).flush();
        const kept = await keptRecords(running.url);
        assert.equal(kept.length, 1);
        assert.equal(kept[0]!._id, delivered[0]!.id);
        assert.equal(kept[0]!.request.log.entries[0]!.request.postData?.text, delivered[0]!.requestBody?.text);
        assert.ok(!JSON.stringify(kept).includes(SECRET));
      } finally {
        await running.close();
      }
    });

    it("a user's transport (no ReadMe records written): the record is written for the page alone", async () => {
      const delivered: MetricsRecord[] = [];
      const running = await startApp(
        trafficAppModule({
          transport: {
            send: (records: MetricsRecord[]) => {
              delivered.push(...records);
              return Promise.resolve();
            },
          },
          dashboard: true,
        }),
        adapter,
      );
      try {
        await httpRequest(`${running.url}/shop/items`, {
          method: 'POST',
          headers: { 'x-api-key': 'acme-key-0001', 'content-type': 'application/json' },
          body: JSON.stringify({ password: SECRET, sku: 'B1' }),
        });
        await running.app.get(MetricsService).flush();
        const kept = await keptRecords(running.url);
        assert.equal(kept.length, 1);
        assert.equal(delivered.length, 1);
        assert.deepEqual(kept[0], JSON.parse(JSON.stringify(delivered[0])));
        assert.ok(!JSON.stringify(kept).includes(SECRET));
      } finally {
        await running.close();
      }
    });
  });
}
