import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import type { Watched } from '../../src/sessions/heartbeat-monitor.ts';
import { HeartbeatMonitor } from '../../src/sessions/heartbeat-monitor.ts';

function watched(now: number): Watched & { pings: number; expired?: string } {
  return {
    lastSeen: now,
    lastPing: now,
    alive: true,
    paused: false,
    pings: 0,
    sendPing() {
      this.pings++;
    },
    expire(reason) {
      this.expired = reason;
    },
  };
}

describe('HeartbeatMonitor (fake timers)', () => {
  it("does not count the gateway's own stalls as the device's silence", (t) => {
    t.mock.timers.enable({ apis: ['setInterval', 'Date'], now: 1_000_000 });
    const stalls = { stalledMs: 0 };
    const monitor = new HeartbeatMonitor({
      intervalMs: 1000,
      timeoutMs: 3000,
      firstFrameTimeoutMs: 3000,
      stalls,
    });
    const s = watched(Date.now());
    monitor.add(s);
    t.mock.timers.tick(2000);
    // The loop was held up for 2 s of the last 2; the sweep that ran late credits it.
    stalls.stalledMs = 2000;
    monitor.sweep();
    t.mock.timers.tick(2999);
    monitor.sweep();
    assert.equal(s.expired, undefined, '3 s of silence the device is to blame for, less 1 ms');
    t.mock.timers.tick(1);
    monitor.sweep();
    assert.equal(s.expired, 'heartbeat_timeout');
  });

  it('credits stalls in whole milliseconds, carrying the fractions to the next sweep', (t) => {
    t.mock.timers.enable({ apis: ['setInterval', 'Date'], now: 1_000_000 });
    const stalls = { stalledMs: 0 };
    const monitor = new HeartbeatMonitor({
      intervalMs: 1000,
      timeoutMs: 60_000,
      firstFrameTimeoutMs: 60_000,
      stalls,
    });
    const s = watched(Date.now());
    monitor.add(s);
    t.mock.timers.tick(5000);
    stalls.stalledMs = 250.6;
    monitor.sweep();
    assert.equal(s.lastSeen, 1_000_250, 'an integer, as the stores keep it');
    stalls.stalledMs = 500.9;
    monitor.sweep();
    assert.equal(s.lastSeen, 1_000_500, 'the fractions add up instead of being lost');
  });

  it('pings a quiet session every interval and expires it at the timeout', (t) => {
    t.mock.timers.enable({ apis: ['setInterval', 'Date'], now: 1_000_000 });
    const monitor = new HeartbeatMonitor({
      intervalMs: 1000,
      timeoutMs: 3000,
      firstFrameTimeoutMs: 3000,
    });
    monitor.start();
    const s = watched(Date.now());
    monitor.add(s);
    t.mock.timers.tick(1000);
    assert.equal(s.pings, 1);
    t.mock.timers.tick(1000);
    assert.equal(s.pings, 2);
    t.mock.timers.tick(999);
    assert.equal(s.expired, undefined);
    t.mock.timers.tick(monitor.tickMs);
    assert.equal(s.expired, 'heartbeat_timeout');
    assert.equal(monitor.size, 0);
    monitor.stop();
  });

  it('keeps a session that shows life alive and does not ping it while it talks', (t) => {
    t.mock.timers.enable({ apis: ['setInterval', 'Date'], now: 0 });
    const monitor = new HeartbeatMonitor({
      intervalMs: 1000,
      timeoutMs: 3000,
      firstFrameTimeoutMs: 3000,
    });
    monitor.start();
    const s = watched(Date.now());
    monitor.add(s);
    for (let i = 0; i < 20; i++) {
      t.mock.timers.tick(500);
      s.lastSeen = Date.now();
    }
    assert.equal(s.expired, undefined);
    assert.equal(s.pings, 0);
    monitor.stop();
  });

  it('expires within timeout + one tick, and the tick is at most 250 ms', (t) => {
    t.mock.timers.enable({ apis: ['setInterval', 'Date'], now: 0 });
    const monitor = new HeartbeatMonitor({
      intervalMs: 15_000,
      timeoutMs: 45_000,
      firstFrameTimeoutMs: 10_000,
    });
    assert.ok(monitor.tickMs <= 250);
    monitor.start();
    const s = watched(Date.now());
    monitor.add(s);
    let elapsed = 0;
    while (!s.expired) {
      t.mock.timers.tick(monitor.tickMs);
      elapsed += monitor.tickMs;
    }
    assert.ok(elapsed >= 45_000 && elapsed <= 45_000 + monitor.tickMs, `expired after ${elapsed}`);
    monitor.stop();
  });

  it('uses the first-frame timeout until the first sign of life', (t) => {
    t.mock.timers.enable({ apis: ['setInterval', 'Date'], now: 0 });
    const monitor = new HeartbeatMonitor({
      intervalMs: 5000,
      timeoutMs: 20_000,
      firstFrameTimeoutMs: 2000,
    });
    monitor.start();
    const s = { ...watched(Date.now()), alive: false };
    monitor.add(s);
    t.mock.timers.tick(2000);
    assert.equal(s.expired, 'first_frame_timeout');
    monitor.stop();
  });

  it('never expires a session the gateway itself paused', (t) => {
    t.mock.timers.enable({ apis: ['setInterval', 'Date'], now: 0 });
    const monitor = new HeartbeatMonitor({
      intervalMs: 1000,
      timeoutMs: 2000,
      firstFrameTimeoutMs: 2000,
    });
    monitor.start();
    const s = { ...watched(Date.now()), paused: true };
    monitor.add(s);
    t.mock.timers.tick(10_000);
    assert.equal(s.expired, undefined);
    s.paused = false;
    t.mock.timers.tick(2000);
    assert.equal(s.expired, 'heartbeat_timeout');
    monitor.stop();
  });

  it('sweeps 20,000 sessions with one timer', (t) => {
    t.mock.timers.enable({ apis: ['setInterval', 'Date'], now: 0 });
    const monitor = new HeartbeatMonitor({
      intervalMs: 1000,
      timeoutMs: 3000,
      firstFrameTimeoutMs: 3000,
    });
    const setInterval = mock.method(globalThis, 'setInterval');
    monitor.start();
    const sessions = Array.from({ length: 20_000 }, () => watched(Date.now()));
    for (const s of sessions) monitor.add(s);
    t.mock.timers.tick(3000);
    assert.equal(sessions.filter((s) => s.expired).length, 20_000);
    assert.ok(setInterval.mock.callCount() <= 1);
    monitor.stop();
  });
});
