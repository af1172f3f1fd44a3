import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../src/logger.ts';
import { SummaryLog } from '../src/summary-log.ts';

describe('SummaryLog', () => {
  it('logs the first occurrence, then one summary per interval, then goes quiet', () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = createLogger('info', { write: (line) => lines.push(JSON.parse(line)) });
    const timers: Array<() => void> = [];
    const summary = new SummaryLog(log, 'device refused', {
      intervalMs: 10_000,
      setTimer: (fn) => {
        timers.push(fn);
        return {};
      },
    });
    summary.note('invalid_token', '10.0.0.1');
    for (let i = 0; i < 2_000; i++)
      summary.note(i % 2 ? 'invalid_token' : 'missing_credentials', `10.0.0.${i % 7}`);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.reason, 'invalid_token');
    timers.shift()?.();
    assert.equal(lines.length, 2);
    assert.equal(lines[1]?.total, 2_000);
    assert.deepEqual(lines[1]?.byReason, { missing_credentials: 1_000, invalid_token: 1_000 });
    assert.equal(lines[1]?.sources, 7);
    assert.match(String(lines[1]?.msg), /2000 more in the last 10 s/);
    // A quiet interval ends the summaries; the next occurrence is logged at once again.
    timers.shift()?.();
    assert.equal(lines.length, 2);
    assert.equal(timers.length, 0);
    summary.note('revoked', undefined);
    assert.equal(lines.length, 3);
  });
});
