import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { describe, it } from 'node:test';
import { RequestDeadlines } from '../../src/api/request-deadlines.ts';

const socket = () => new EventEmitter() as unknown as Duplex;

describe('RequestDeadlines (fake clock)', () => {
  it('times out a connection whose first request is late, not one whose request arrived', () => {
    let now = 0;
    const timedOut: Duplex[] = [];
    const deadlines = new RequestDeadlines({
      timeoutMs: 10_000,
      onTimeout: (s) => timedOut.push(s),
      now: () => now,
    });
    const slow = socket();
    const quick = socket();
    deadlines.accepted(slow);
    deadlines.accepted(quick);
    now = 100;
    deadlines.arrived(quick);
    now = 9_999;
    deadlines.sweep();
    assert.deepEqual(timedOut, []);
    now = 10_000;
    deadlines.sweep();
    assert.deepEqual(timedOut, [slow]);
    assert.equal(deadlines.waiting, 0);
    deadlines.sweep();
    assert.equal(timedOut.length, 1, 'answered once');
  });

  it("leaves the gateway's own stalls out of the time a client took", () => {
    let now = 0;
    const stalls = { stalledMs: 500 };
    const timedOut: Duplex[] = [];
    const deadlines = new RequestDeadlines({
      timeoutMs: 10_000,
      stalls,
      onTimeout: (s) => timedOut.push(s),
      now: () => now,
    });
    const waiting = socket();
    deadlines.accepted(waiting);
    // A storm: of 14 s since the accept, the gateway was 6 s behind its own timers.
    now = 14_000;
    stalls.stalledMs = 6_500;
    deadlines.sweep();
    assert.deepEqual(timedOut, [], '8 s of the client’s own');
    now = 16_000;
    deadlines.sweep();
    assert.deepEqual(timedOut, [waiting]);
  });

  it('forgets a connection that closed', () => {
    let now = 0;
    const timedOut: Duplex[] = [];
    const deadlines = new RequestDeadlines({
      timeoutMs: 1_000,
      onTimeout: (s) => timedOut.push(s),
      now: () => now,
    });
    const gone = socket();
    deadlines.accepted(gone);
    (gone as unknown as EventEmitter).emit('close');
    now = 5_000;
    deadlines.sweep();
    assert.deepEqual(timedOut, []);
    assert.equal(deadlines.waiting, 0);
  });
});
