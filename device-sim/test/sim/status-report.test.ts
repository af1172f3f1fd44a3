import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeSnapshots } from '../../src/sim/sim-stats.ts';
import { formatStatus, formatSummary, summarize } from '../../src/sim/status-report.ts';

test('devices the gateway ended for good show as stopped, with why, not as sending', () => {
  const before = { ...mergeSnapshots([]), devices: 50, connected: 50, sent: 1000, acked: 1000 };
  const now = {
    ...before,
    connected: 0,
    gaveUp: { session_replaced: 50 },
    unacked: 20,
  };
  const line = formatStatus(now, before, 1000, 12);
  assert.match(line, /^\[12s\] connected 0\/50 \| stopped 50 \(session_replaced=50\) \| sent 0\/s/);
  assert.match(line, /errors none$/);
  const summary = formatSummary(summarize(now, { gateway: 'ws://x', processes: 1, durationS: 12 }));
  assert.match(summary, /stopped {3}50 devices gave up: session_replaced=50/);
  // Nothing stopped: no such part.
  assert.doesNotMatch(formatStatus(before, before, 1000, 1), /stopped/);
});
