// The soak's verdicts and fault plan, on made-up data: each check must be able to fail.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planFaults } from '../src/soak/fault-plan.ts';
import {
  checkCommands,
  checkLatency,
  checkRss,
  checkStatuses,
  checkStorage,
} from '../src/soak/soak-checks.ts';

describe('soak checks', () => {
  it('storage: a missing acked reading, a stored extra beyond the unacked, both fail', () => {
    const good = checkStorage([{ device: 'a', acked: [1, 2, 3], stored: [1, 2, 3, 4] }], 1);
    assert.ok(
      good.every((c) => c.ok),
      JSON.stringify(good),
    );
    const missing = checkStorage([{ device: 'a', acked: [1, 2, 3], stored: [1, 3] }], 0);
    assert.equal(missing[0]?.ok, false);
    assert.deepEqual(missing[0]?.examples, ['a@1970-01-01T00:00:00.002Z']);
    const extra = checkStorage([{ device: 'a', acked: [1], stored: [1, 5, 6] }], 1);
    assert.equal(extra[2]?.ok, false);
    const twice = checkStorage([{ device: 'a', acked: [1], stored: [1, 1] }], 0);
    assert.equal(twice[1]?.ok, false);
    // Nothing acked at all is no pass.
    assert.equal(checkStorage([], 0)[0]?.ok, false);
  });

  it('commands: a repeat delivery, a command stuck in sent, an answer never delivered fail', () => {
    const now = Date.parse('2026-01-01T00:01:00Z');
    const records = [
      { id: 'c1', deviceId: 'a', state: 'succeeded', timeoutMs: 15_000 },
      { id: 'c2', deviceId: 'a', state: 'sent', timeoutMs: 15_000, sentAt: '2026-01-01T00:00:50Z' },
    ];
    const ok = checkCommands(records, new Map([['a', ['c1', 'c2']]]), now, 5000);
    assert.ok(
      ok.every((c) => c.ok),
      JSON.stringify(ok),
    );
    const twice = checkCommands(records, new Map([['a', ['c1', 'c2', 'c1']]]), now, 5000);
    assert.equal(twice[0]?.ok, false);
    assert.deepEqual(twice[0]?.examples, ['c1 to a']);
    const stuck = checkCommands(
      [{ ...records[1]!, sentAt: '2026-01-01T00:00:30Z' }],
      new Map([['a', ['c2']]]),
      now,
      5000,
    );
    assert.equal(stuck[1]?.ok, false);
    const unseen = checkCommands(records, new Map([['a', ['c2']]]), now, 5000);
    assert.equal(unseen[2]?.ok, false);
  });

  it('statuses, memory and latency', () => {
    assert.equal(
      checkStatuses([{ device: 'a', retainedOnline: true, apiOnline: true }], 'now').ok,
      true,
    );
    const stale = checkStatuses(
      [{ device: 'a', retainedOnline: undefined, apiOnline: false }],
      'x',
    );
    assert.equal(stale.ok, false);
    assert.match(stale.examples?.[0] ?? '', /retained none, API offline/);
    const samples: Array<[number, number]> = [
      [10, 100],
      [11, 101],
      [12, 99],
      [90, 108],
      [91, 109],
      [92, 200],
    ];
    assert.equal(checkRss(samples, [10, 12], [90, 92], 0.1).ok, true);
    assert.equal(checkRss(samples, [10, 12], [90, 92], 0.05).ok, false);
    assert.equal(checkRss([], [10, 12], [90, 92], 0.1).ok, false);
    const phases = [
      { name: 'steady', faulty: false, acks: 10, p50Ms: 2, p99Ms: 900 },
      { name: 'down', faulty: true, acks: 10, p50Ms: 2, p99Ms: 4000 },
    ];
    assert.equal(checkLatency(phases, 1000, 5000).ok, true);
    assert.equal(checkLatency(phases, 800, 5000).ok, false);
    assert.equal(checkLatency([{ ...phases[0]!, acks: 0 }], 1000, 5000).ok, false);
  });
});

describe('soak fault plan', () => {
  it('two rounds of each fault in the first half, then a steady stretch for the memory check', () => {
    const plan = planFaults(600_000, 2);
    const kinds = plan.steps.map((s) => s.kind);
    for (const kind of ['influx_kill', 'influx_restart', 'mosquitto_restart', 'gateway_kill']) {
      assert.equal(kinds.filter((k) => k === kind).length, 2, kind);
    }
    const lastFault = Math.max(
      ...plan.steps.filter((s) => s.kind !== 'rss_baseline').map((s) => s.atMs),
    );
    assert.ok(lastFault < plan.rssBaselineMs[0], 'the baseline comes after the last fault');
    assert.ok(plan.rssBaselineMs[1] < plan.rssEndMs[0]);
    assert.equal(plan.rssEndMs[1], 600_000);
    // Phases tile the run without gaps or overlaps.
    for (let i = 1; i < plan.phases.length; i++) {
      assert.equal(plan.phases[i]!.fromMs, plan.phases[i - 1]!.toMs, plan.phases[i]!.name);
    }
    assert.equal(plan.phases.at(-1)!.toMs, 600_000);
    assert.equal(planFaults(60_000, 1).steps.filter((s) => s.kind === 'gateway_kill').length, 1);
  });
});
