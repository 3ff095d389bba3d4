import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { httpRequest } from '../support/http';
import { OtlpReceiver } from '../support/otlp-receiver';

const SAMPLE = join(__dirname, '..', '..', 'sample', 'main.js');

/** The sample as `npm start` runs it: APITOOLKIT_KEY ships to APIToolkit, OTEL_EXPORTER_OTLP_ENDPOINT to a collector. */
describe('sample app over OTLP', () => {
  let receiver: OtlpReceiver;
  let child: ChildProcess | undefined;

  before(async () => {
    receiver = await OtlpReceiver.start();
  });
  afterEach(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    child = undefined;
    receiver.reset();
  });
  after(async () => {
    await receiver.close();
  });

  async function startSample(env: Record<string, string>): Promise<string> {
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(
        ([k]) => !k.startsWith('OTEL_') && !k.startsWith('README_') && !k.startsWith('APITOOLKIT'),
      ),
    );
    child = spawn(process.execPath, [SAMPLE], {
      env: { ...clean, PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const deadline = Date.now() + 15_000;
    while (!/Listening on (http:\/\/\S+)/.test(output)) {
      assert.ok(Date.now() < deadline && child.exitCode === null, `sample did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return /Listening on (http:\/\/\S+)/.exec(output)![1]!.replace('localhost', '127.0.0.1');
  }

  it('APITOOLKIT_KEY: spans in APIToolkit format, project key as resource attribute', async () => {
    const url = await startSample({ APITOOLKIT_KEY: 'sample-at-key', APITOOLKIT_URL: receiver.grpcUrl });
    const key = { 'x-api-key': 'acme-key-0001' };
    assert.equal((await httpRequest(`${url}/orders/1/shipping`, { headers: key })).status, 200);
    const spans = await receiver.waitForSpans(2, 5000); // the request and its outgoing call (the carrier is @SkipMetrics)
    assert.ok(spans.every((s) => s.name === 'monoscope.http' && s.resource['at-project-key'] === 'sample-at-key'));
    assert.ok(spans.some((s) => s.attributes['apitoolkit.sdk_type'] === 'JsAxiosOutgoing'));
    assert.ok(spans.every((s) => s.attributes['apitoolkit.service_version'] === '1.0.0'));
  });

  it('OTEL_EXPORTER_OTLP_ENDPOINT: spans to that collector, OTEL_SERVICE_NAME as service.name', async () => {
    const url = await startSample({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.httpTracesUrl.replace(/\/v1\/traces$/, ''),
      OTEL_SERVICE_NAME: 'sample-otel',
    });
    assert.equal((await httpRequest(`${url}/`)).status, 200);
    const [span] = await receiver.waitForSpans(1, 5000);
    assert.equal(span!.name, 'GET /');
    assert.equal(span!.resource['service.name'], 'sample-otel');
  });
});
