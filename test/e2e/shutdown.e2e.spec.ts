import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { ADAPTERS } from '../support/adapters';
import { Collector } from '../support/collector';

const CHILD = join(__dirname, '..', 'support', 'shutdown-child.js');

/** Runs the child; resolves with its output, exit code, and ms from its "closed" line to its exit. */
async function runChild(
  env: Record<string, string>,
): Promise<{ output: string; code: number | null; exitLagMs: number }> {
  const child = spawn(process.execPath, [CHILD], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let closedAt = 0;
  child.stdout.on('data', (c: Buffer) => {
    output += c.toString();
    if (!closedAt && output.includes('closed after')) closedAt = performance.now();
  });
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(killer);
  return { output, code, exitLagMs: closedAt ? performance.now() - closedAt : Infinity };
}

for (const adapter of ADAPTERS) {
  describe(`shutdown (${adapter})`, () => {
    let collector: Collector;
    before(async () => (collector = await Collector.start()));
    afterEach(() => {
      collector.reset();
      collector.behaviour = (_call, res) => res.writeHead(202).end();
    });
    after(() => collector.close());

    it('app.close() flushes pending records, then the process exits by itself', async (t) => {
      const { output, code, exitLagMs } = await runChild({ ADAPTER: adapter, COLLECTOR_URL: collector.url });
      assert.equal(code, 0, output);
      assert.equal(collector.records.length, 7);
      t.diagnostic(`${output.trim()}; process exited ${exitLagMs.toFixed(0)} ms after close`);
      assert.ok(exitLagMs < 1000, `exited ${exitLagMs.toFixed(0)} ms after close`);
    });

    it('with the collector hanging, close() gives up after shutdownTimeout and the process still exits', async (t) => {
      collector.behaviour = () => undefined;
      const { output, code, exitLagMs } = await runChild({
        ADAPTER: adapter,
        COLLECTOR_URL: collector.url,
        SHUTDOWN_TIMEOUT: '400',
      });
      assert.equal(code, 0, output);
      const closeMs = Number(/closed after (\d+) ms/.exec(output)?.[1]);
      t.diagnostic(`shutdownTimeout 400 ms: close took ${closeMs} ms, exit ${exitLagMs.toFixed(0)} ms after`);
      assert.ok(closeMs >= 350 && closeMs < 2000, `close took ${closeMs} ms`);
      assert.ok(exitLagMs < 1000, `exited ${exitLagMs.toFixed(0)} ms after close`);
    });
  });
}
