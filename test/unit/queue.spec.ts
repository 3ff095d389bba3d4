import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { DropWarnings, type DropReport } from '../../src/deliver/drop-warnings';
import { RecordQueue } from '../../src/deliver/record-queue';

describe('RecordQueue', () => {
  it('holds records oldest first and counts exactly the bytes given for what it holds', () => {
    const q = new RecordQueue<string>();
    q.push('a', 10);
    q.push('b', 20);
    q.push('c', 30);
    assert.deepEqual([q.length, q.bytes, q.bytesOfOldest(2), q.bytesOfOldest(9)], [3, 60, 30, 60]);
    assert.deepEqual(q.take(1), ['a']);
    assert.deepEqual([q.length, q.bytes], [2, 50]);
    q.push('d', 5);
    assert.deepEqual(q.take(10), ['b', 'c', 'd']);
    assert.deepEqual([q.length, q.bytes], [0, 0]);
    q.push('e', 1);
    assert.deepEqual(q.takeAll(), ['e']);
    assert.deepEqual([q.length, q.bytes, q.take(1)], [0, 0, []]);
  });
});

describe('DropWarnings (one throttle for the Dispatcher and the offload stand-in)', () => {
  it('logs the first drop at once, the rest of the minute once when it ends, by bound; nothing when none', (t) => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
    t.after(() => mock.timers.reset());
    const reports: DropReport[] = [];
    const drops = new DropWarnings((r) => reports.push(r));
    drops.report();
    assert.deepEqual(reports, [], 'no drop, no warning');

    drops.note('maxQueueSize');
    assert.deepEqual(reports, [{ bySize: 1, byBytes: 0, since: 'since start' }]);
    mock.timers.tick(1_000);
    drops.note('maxQueueSize');
    drops.note('maxQueueBytes');
    drops.note('maxQueueBytes');
    assert.equal(reports.length, 1, 'within the minute: held back');
    mock.timers.tick(58_999);
    assert.equal(reports.length, 1);
    mock.timers.tick(1);
    assert.deepEqual(reports[1], { bySize: 1, byBytes: 2, since: 'in the last 60 s' });

    // A quiet minute later the next drop is logged at once again.
    mock.timers.tick(120_000);
    drops.note('maxQueueBytes');
    assert.deepEqual(reports[2], { bySize: 0, byBytes: 1, since: 'in the last 2 min' });
    // At shutdown what is pending is logged without waiting for the minute.
    drops.note('maxQueueSize');
    assert.equal(reports.length, 3);
    drops.report();
    assert.deepEqual(reports[3], { bySize: 1, byBytes: 0, since: 'in the last 0 s' });
    mock.timers.tick(120_000);
    assert.equal(reports.length, 4, 'the timer was cleared by report()');
  });
});
