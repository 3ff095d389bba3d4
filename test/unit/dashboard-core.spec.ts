import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isLoopbackAddress, mayAccess } from '../../src/dashboard/dashboard-access';
import { resolveDashboardOptions } from '../../src/dashboard/dashboard-options';
import { RecentRecords } from '../../src/dashboard/recent-records';
import { quantileMs } from '../../src/dashboard/traffic-tables';
import { MetricsOptionsError } from '../../src/metrics.options';

const summary = (bytes: Buffer) => bytes.toString();

async function kept(ring: RecentRecords<string>): Promise<string[]> {
  await ring.summarizeAll(summary);
  return [...ring.newestFirst()].map((r) => r.summary);
}

describe('RecentRecords: the byte ring', () => {
  it('keeps the newest records within its capacity, whatever their sizes, across many laps', async () => {
    const ring = new RecentRecords<string>(1000);
    const pushed: string[] = [];
    for (let i = 0; i < 5000; i++) {
      const record = `${i}:${'x'.repeat((i * 37) % 300)}`;
      pushed.push(record);
      ring.push(Buffer.from(record));
      assert.ok(ring.bytes <= 1000);
      if (i % 97 === 0) {
        const now = await kept(ring);
        // Exactly the newest ones, contiguous, newest first, byte for byte.
        assert.deepEqual(now, pushed.slice(pushed.length - now.length).reverse());
        assert.ok(now.length >= 1);
      }
    }
    assert.equal(ring.evicted + ring.length, 5000);
  });

  it('does not keep a record larger than the ring, and answers by sequence number until overwritten', async () => {
    const ring = new RecentRecords<string>(100);
    ring.push(Buffer.alloc(101, 'a'));
    assert.equal(ring.tooLarge, 1);
    assert.equal(ring.length, 0);
    ring.push(Buffer.from('first'));
    assert.equal(ring.get(1)?.toString(), 'first');
    for (let i = 0; i < 30; i++) ring.push(Buffer.from(`r${i}`.padEnd(10, '.')));
    assert.equal(ring.get(1), undefined);
    assert.equal(ring.get(31)?.toString(), 'r29'.padEnd(10, '.'));
    assert.equal(ring.get(32), undefined);
    assert.equal(ring.get(1.5), undefined);
  });

  it('copies the record: the writer may reuse its buffer', async () => {
    const ring = new RecentRecords<string>(100);
    const buffer = Buffer.from('original');
    ring.push(buffer);
    buffer.write('changed!');
    assert.deepEqual(await kept(ring), ['original']);
  });
});

describe('dashboard access', () => {
  it('loopback by the socket address: 127.0.0.0/8, ::1, and both mapped; nothing else', () => {
    for (const a of ['127.0.0.1', '127.0.0.2', '127.255.255.254', '::1', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1']) {
      assert.equal(isLoopbackAddress(a), true, a);
    }
    for (const a of [
      undefined,
      '',
      '10.0.0.1',
      '192.168.1.10',
      '128.0.0.1',
      '::ffff:10.0.0.1',
      '::2',
      'fe80::1',
      '127.0.0.1.evil.com',
      'localhost',
      '::ffff:127.0.0.1x',
    ]) {
      assert.equal(isLoopbackAddress(a), false, String(a));
    }
  });

  it('a non-loopback client is refused without `allow`; `allow` decides otherwise, true only', async () => {
    assert.equal(await mayAccess(undefined, {}, '203.0.113.7', 100), false);
    assert.equal(await mayAccess(undefined, {}, '127.0.0.1', 100), true);
    assert.equal(await mayAccess(() => true, {}, '203.0.113.7', 100), true);
    assert.equal(await mayAccess(() => Promise.resolve(true), {}, '203.0.113.7', 100), true);
    assert.equal(await mayAccess(() => 'yes' as never, {}, '127.0.0.1', 100), false);
    assert.equal(await mayAccess(() => false, {}, '127.0.0.1', 100), false);
    assert.equal(
      await mayAccess(
        () => {
          throw new Error('down');
        },
        {},
        '127.0.0.1',
        100,
      ),
      false,
    );
    assert.equal(await mayAccess(() => Promise.reject(new Error('down')), {}, '127.0.0.1', 100), false);
    // The deadline's timer is unref'd (a server keeps the process alive): here a timer of the test does.
    const alive = setTimeout(() => {}, 5000);
    assert.equal(await mayAccess(() => new Promise<boolean>(() => {}), {}, '127.0.0.1', 20), false);
    clearTimeout(alive);
  });
});

describe('dashboard options', () => {
  it('off by default; true is the default path; bad values stop the app with a clear error', () => {
    assert.equal(resolveDashboardOptions({}), false);
    assert.equal(resolveDashboardOptions({ dashboard: false }), false);
    assert.deepEqual(resolveDashboardOptions({ dashboard: true }), { path: '/api-metrics', maxRecordBytes: 4194304 });
    assert.equal(
      (resolveDashboardOptions({ dashboard: { path: '/ops/metrics' } }) as { path: string }).path,
      '/ops/metrics',
    );
    for (const bad of [
      'yes',
      { path: 'api-metrics' },
      { path: '/api-metrics/' },
      { path: '/a b' },
      { path: '/"><script>' },
      { allow: true },
      { maxRecordBytes: 10 },
      { maxRecordBytes: 1.5e3 + 0.5 },
      { pth: '/x' },
    ]) {
      assert.throws(
        () => resolveDashboardOptions({ dashboard: bad as never }),
        MetricsOptionsError,
        JSON.stringify(bad),
      );
    }
  });
});

describe('quantiles from the duration histogram', () => {
  it('interpolates within the bucket, bounded by the exact min and max', () => {
    const bounds = [0.005, 0.01, 0.025];
    const h = { count: 10, sum: 0.1, min: 0.006, max: 0.02, counts: [0, 5, 5, 0] };
    assert.equal(quantileMs(h, bounds, 0.5), 10);
    assert.equal(quantileMs(h, bounds, 0.1), 6.8);
    assert.equal(quantileMs(h, bounds, 1), 20);
    assert.equal(quantileMs({ count: 0, sum: 0, counts: [0, 0, 0, 0] }, bounds, 0.5), undefined);
  });
});

describe('the page ships in the package', () => {
  it("package.json's files include the assets the dashboard reads", () => {
    const root = join(__dirname, '..', '..', '..');
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { files: string[] };
    assert.ok(pkg.files.includes('assets/dashboard'));
    for (const asset of ['index.html', 'app.js', 'app.css', 'favicon.svg']) {
      assert.ok(existsSync(join(root, 'assets', 'dashboard', asset)), asset);
    }
    // The page loads no other origin, and its script is a file of its own (the policy has no 'unsafe-inline').
    const html = readFileSync(join(root, 'assets', 'dashboard', 'index.html'), 'utf8');
    assert.doesNotMatch(html, /https?:\/\//);
    assert.doesNotMatch(html, /<script>|<style>|\son\w+=/);
    assert.doesNotMatch(
      readFileSync(join(root, 'assets', 'dashboard', 'app.js'), 'utf8'),
      /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/,
    );
  });
});
