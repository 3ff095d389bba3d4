import assert from 'node:assert/strict';
import { after, afterEach, before } from 'node:test';
import type { RunningApp } from './adapters';
import { Collector } from './collector';
import { watchUnexpectedErrors } from './unexpected';

/** What the tests of a suite built by `appPerTest` share; `running` is the app the current test started. */
export interface AppPerTestSuite {
  readonly collector: Collector;
  running: RunningApp | undefined;
}

/**
 * Hooks for a suite whose tests each start their own app against one collector: after every test the app is
 * closed, the collector reset (and `afterEachTest` run), and no unhandled rejection or uncaught exception may have
 * fired. Call it inside the `describe`.
 */
export function appPerTest(afterEachTest?: () => void): AppPerTestSuite {
  let collector: Collector | undefined;
  const suite: AppPerTestSuite = {
    get collector(): Collector {
      assert.ok(collector, 'the collector starts in the suite’s before hook');
      return collector;
    },
    running: undefined,
  };
  const unexpected = watchUnexpectedErrors();
  before(async () => {
    collector = await Collector.start();
  });
  afterEach(async () => {
    await suite.running?.close();
    suite.running = undefined;
    suite.collector.reset();
    afterEachTest?.();
    assert.deepEqual(unexpected, [], 'no unhandled rejection or uncaught exception');
  });
  after(async () => {
    await collector?.close();
  });
  return suite;
}
