import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { OnceLogger } from '../../src/core-logger';
import { KeyPause } from '../../src/deliver/key-pause';

describe('KeyPause (401/403: probes with a doubling backoff, one resume)', () => {
  it('waits 10 x max(timeout, flushInterval) for the first probe, doubles after each rejected one, resumes once', (t) => {
    mock.timers.enable({ apis: ['setTimeout', 'setImmediate'] });
    t.after(() => mock.timers.reset());
    const lines: string[] = [];
    const out = (level: string) => (message: string) => lines.push(`${level}: ${message}`);
    const logger = new OnceLogger({ log: out('log'), warn: out('warn'), error: out('error'), debug: out('debug') });
    const counters = { failed: 0, dropped: 0 };
    const wakes: boolean[] = [];
    let timersStopped = 0;
    const pause = new KeyPause({ timeout: 200, flushInterval: 50, bufferLength: 25 }, logger, {
      counters,
      wake: (all) => wakes.push(all),
      stopTimers: () => timersStopped++,
    });
    assert.equal(pause.probeSize, 10);

    counters.failed = 3;
    pause.start(401, 3);
    const current = pause.current!;
    assert.ok(current && !current.probeDue);
    assert.equal(timersStopped, 1);
    assert.match(lines[0]!, /^error: .*HTTP 401.* 3 records given up.*next try in 2 s with at most 10 records/);
    pause.start(403, 1); // a call that started before the pause: nothing changes
    assert.equal(pause.current, current);
    assert.equal(lines.length, 1);

    mock.timers.tick(1_999);
    assert.deepEqual(wakes, []);
    mock.timers.tick(1);
    assert.deepEqual(wakes, [true]);
    assert.ok(current.probeDue);

    counters.failed = 5;
    pause.again(current, 403, 2);
    assert.equal(current.delay, 4_000);
    assert.ok(!current.probeDue);
    assert.match(
      lines[1]!,
      /^warn: .*still rejected \(HTTP 403\): 2 more records given up \(5 since .*next try in 4 s/,
    );
    mock.timers.tick(3_999);
    assert.deepEqual(wakes, [true]);
    mock.timers.tick(1);
    assert.deepEqual(wakes, [true, true]);

    counters.dropped = 7;
    pause.resume(current);
    assert.equal(pause.current, undefined);
    assert.match(lines[2]!, /^log: .*accepts the API key again.*\(5 records given up, 7 dropped/);
    mock.timers.tick(0);
    assert.deepEqual(wakes, [true, true, false], 'the pipeline is woken once more after the resume');
    pause.resume(current); // a second resume of the same pause: nothing
    assert.equal(lines.length, 3);
    mock.timers.tick(60_000);
    assert.deepEqual(wakes, [true, true, false], 'no probe timer is left');
  });
});
