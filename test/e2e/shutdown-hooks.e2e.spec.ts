import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { NO_SHUTDOWN_HOOKS_WARNING } from '../../src/shutdown-watch';
import { ADAPTERS } from '../support/adapters';
import { Collector } from '../support/collector';

const CHILD = join(__dirname, '..', 'support', 'shutdown-hooks-child.js');

/** Runs the child to its end; its output (the module's log lines) and exit code. */
async function runChild(env: Record<string, string>): Promise<{ output: string; code: number | null }> {
  const child = spawn(process.execPath, [CHILD], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(killer);
  return { output, code };
}

const count = (output: string, text: string) => output.split(text).length - 1;
const UNSENT = /WARN The process is ending without app\.close\(\): (\d+) records were still queued/g;

for (const adapter of ADAPTERS) {
  describe(`shutdown hooks (${adapter})`, () => {
    let collector: Collector;
    before(async () => (collector = await Collector.start()));
    afterEach(() => collector.reset());
    after(() => collector.close());

    it('no shutdown hooks: one warning with the fix, at startup; app.close() still flushes', async () => {
      const { output, code } = await runChild({ ADAPTER: adapter, COLLECTOR_URL: collector.url, HOOKS: 'none' });
      assert.equal(code, 0, output);
      assert.equal(count(output, `WARN ${NO_SHUTDOWN_HOOKS_WARNING}`), 1, output);
      assert.match(NO_SHUTDOWN_HOOKS_WARNING, /app\.enableShutdownHooks\(\)/);
      assert.ok(output.indexOf(NO_SHUTDOWN_HOOKS_WARNING) < output.indexOf('closed'), 'warned before close');
      assert.equal(collector.records.length, 3);
      assert.equal([...output.matchAll(UNSENT)].length, 0, output);
    });

    for (const hooks of ['nest', 'after-listen', 'own']) {
      it(`no warning with shutdown hooks (${hooks})`, async () => {
        const { output, code } = await runChild({ ADAPTER: adapter, COLLECTOR_URL: collector.url, HOOKS: hooks });
        assert.equal(code, 0, output);
        assert.ok(output.includes('closed'), output);
        assert.equal(count(output, NO_SHUTDOWN_HOOKS_WARNING), 0, output);
        assert.equal(collector.records.length, 3);
      });
    }

    it('no warning when the module is disabled (nothing to lose)', async () => {
      const { output, code } = await runChild({ ADAPTER: adapter, COLLECTOR_URL: collector.url, ENABLED: '0' });
      assert.equal(code, 0, output);
      assert.equal(count(output, NO_SHUTDOWN_HOOKS_WARNING), 0, output);
      assert.equal(count(output, 'WARN'), 0, output);
    });

    it('the process ends without app.close(): what was still queued is counted, once', async () => {
      const { output, code } = await runChild({
        ADAPTER: adapter,
        COLLECTOR_URL: collector.url,
        HOOKS: 'nest',
        END: 'drain',
      });
      assert.equal(code, 0, output);
      assert.ok(output.includes('server closed'), output);
      const unsent = [...output.matchAll(UNSENT)];
      assert.equal(unsent.length, 1, output);
      assert.equal(unsent[0]![1], '3');
      assert.equal(collector.records.length, 0);
    });
  });
}
