import assert from 'node:assert/strict';
import { it, mock } from 'node:test';
import { SkipLog } from '../../src/capture/skip-log';

it('SkipLog: the first skip at once, then counts and reasons at most once a minute, none lost', () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  try {
    const lines: string[] = [];
    const log = new SkipLog({ warn: (message: unknown) => void lines.push(String(message)) });
    log.note('no apiKey');
    assert.deepEqual(lines, ['skipped 1 exchange: no apiKey (further skips are summed up once a minute)']);
    for (let i = 0; i < 40; i++) log.note('no apiKey');
    log.note('the group function threw');
    mock.timers.tick(59_000);
    assert.equal(lines.length, 1, 'nothing more within the minute');
    mock.timers.tick(1_000);
    assert.deepEqual(lines.slice(1), [
      'skipped 41 exchanges in the last minute: 40 no apiKey; 1 the group function threw',
    ]);
    mock.timers.tick(120_000);
    assert.equal(lines.length, 2, 'no line when nothing was skipped');
    log.note('no apiKey');
    assert.deepEqual(lines.slice(2), ['skipped 1 exchange in the last minute: no apiKey']);
  } finally {
    mock.timers.reset();
  }
});
