import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Collector } from '../support/collector';
import { entryOf } from '../support/har';
import { httpRequest } from '../support/http';

const SAMPLE = join(__dirname, '..', '..', 'sample', 'main.js');

/** The sample app as `npm start` runs it, shipping to a local collector through README_METRICS_SERVER. */
describe('sample app', () => {
  let collector: Collector;
  let child: ChildProcess;
  let url: string;
  let output = '';

  before(async () => {
    collector = await Collector.start();
    child = spawn(process.execPath, [SAMPLE], {
      env: { ...process.env, PORT: '0', README_API_KEY: 'sample-project-key', README_METRICS_SERVER: collector.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const deadline = Date.now() + 15_000;
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    while (!/Listening on (http:\/\/\S+)/.test(output)) {
      assert.ok(Date.now() < deadline && child.exitCode === null, `sample did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    url = /Listening on (http:\/\/\S+)/.exec(output)![1]!.replace('localhost', '127.0.0.1');
  });

  after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await collector.close();
  });

  it("meets ReadMe's example contract and ships each exchange within a second", async () => {
    const hello = await httpRequest(`${url}/`);
    assert.equal(hello.status, 200);
    assert.match(String(hello.headers['content-type']), /^application\/json/);
    assert.deepEqual(JSON.parse(hello.body.toString()), { message: 'hello world' });
    const bodies: [string, string][] = [
      ['application/json', '{"a":1}'],
      ['application/vnd.api+json', '{"b":2}'],
      ['text/plain', 'plain'],
      ['application/x-www-form-urlencoded', 'c=3'],
      [
        'multipart/form-data; boundary=XyZ',
        '--XyZ\r\nContent-Disposition: form-data; name="d"\r\n\r\n4\r\n--XyZ--\r\n',
      ],
    ];
    for (const [type, body] of bodies) {
      const res = await httpRequest(`${url}/`, { method: 'POST', headers: { 'content-type': type }, body });
      assert.equal(res.status, 200, `POST / with ${type}`);
    }
    const records = await collector.waitForRecords(6, 2500);
    assert.equal(
      collector.calls[0]?.headers.authorization,
      `Basic ${Buffer.from('sample-project-key:').toString('base64')}`,
    );
    for (const record of records) {
      assert.equal(record.group.label, 'Owlbert');
      assert.equal(record.group.email, 'owlbert@example.com');
      assert.match(record.group.id, /^sha512-.+\?-key$/);
    }
    assert.deepEqual(
      records.slice(1).map((r) => entryOf(r).request.postData?.text ?? entryOf(r).request.postData?.params),
      ['{"a":1}', '{"b":2}', 'plain', [{ name: 'c', value: '3' }], [{ name: 'd', value: '4' }]],
    );
  });

  it('records the outgoing call of /orders/1/shipping and the error reported by /orders/1/refund', async () => {
    collector.reset();
    const key = { 'x-api-key': 'acme-key-0001' };
    const shipping = await httpRequest(`${url}/orders/1/shipping`, { headers: key });
    assert.deepEqual(JSON.parse(shipping.body.toString()), { parcel: '1', status: 'in transit', eta: '2 days' });
    assert.equal((await httpRequest(`${url}/orders/1/refund`, { method: 'POST', headers: key })).status, 201);
    const [ship, refund] = await collector.waitForRecords(2, 2500);
    const entries = ship!.request.log.entries;
    assert.equal(entries.length, 2);
    assert.match(entries[1]!.request.url, /\/carrier\/track\/1$/);
    assert.equal(entries[1]!._parentId, ship!._id);
    const errors = entryOf(refund!)._errors as { message: string; rootErrorMessage: string }[];
    assert.equal(errors[0]?.message, 'Refund declined by payment provider');
    assert.equal(errors[0]?.rootErrorMessage, 'card expired for order 1');
  });

  it('serves its dashboard at /api-metrics, with the exchanges just recorded', async () => {
    const page = await httpRequest(`${url}/api-metrics`);
    assert.equal(page.status, 200);
    assert.match(page.body.toString(), /<title>API metrics<\/title>/);
    const list = JSON.parse((await httpRequest(`${url}/api-metrics/api/exchanges`)).body.toString()) as {
      items: { url: string; outgoing: number }[];
    };
    assert.ok(list.items.some((x) => x.url.endsWith('/orders/1/shipping') && x.outgoing === 1));
  });

  it('records guard rejections and customer groups, never /health, and flushes on SIGTERM', async () => {
    collector.reset();
    assert.equal((await httpRequest(`${url}/orders/1`)).status, 401);
    assert.equal((await httpRequest(`${url}/orders/1`, { headers: { 'x-api-key': 'acme-key-0001' } })).status, 200);
    assert.equal((await httpRequest(`${url}/health`)).status, 200);
    child.kill('SIGTERM');
    const [code, signal] = await once(child, 'exit');
    // Nest re-raises the signal once its shutdown hooks (our flush among them) are done.
    assert.ok(code === 0 || signal === 'SIGTERM', `exit ${code} ${signal}`);
    assert.deepEqual(
      collector.records.map((r) => [entryOf(r).response.status, r.group.label]),
      [
        [401, 'Rejected caller'],
        [200, 'Acme Corp'],
      ],
    );
  });
});
