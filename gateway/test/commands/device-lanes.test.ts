import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import { DeviceLanes } from '../../src/commands/device-lanes.ts';

/** A promise the test settles itself: a task "takes as long as" the test wants, no timers. */
function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

describe('DeviceLanes', () => {
  it("runs one device's tasks one at a time, in order, whatever their duration", async () => {
    const lanes = new DeviceLanes();
    const log: string[] = [];
    const task = (name: string, wait: Promise<void>) => async () => {
      log.push(`${name}:start`);
      await wait;
      log.push(`${name}:end`);
    };
    const first = gate();
    const all = Promise.all([
      lanes.run('a', task('a1', first.promise)),
      lanes.run('a', task('a2', Promise.resolve())),
      lanes.run(
        'a',
        task(
          'a3',
          turn().then(() => {}),
        ),
      ),
    ]);
    // The first task is still running after several turns of the event loop: nothing else began.
    for (let i = 0; i < 5; i++) await turn();
    assert.deepEqual(log, ['a1:start']);
    first.open();
    await all;
    assert.deepEqual(log, ['a1:start', 'a1:end', 'a2:start', 'a2:end', 'a3:start', 'a3:end']);
  });

  it('lets other devices run meanwhile and survives a failing task', async () => {
    const lanes = new DeviceLanes();
    const log: string[] = [];
    const held = gate();
    const slow = lanes.run('a', async () => {
      await held.promise;
      log.push('a');
    });
    await lanes.run('b', () => log.push('b'));
    assert.deepEqual(log, ['b']);
    held.open();
    await slow;
    await assert.rejects(
      lanes.run('a', () => Promise.reject(new Error('boom'))),
      /boom/,
    );
    assert.equal(await lanes.run('a', () => 42), 42);
    await lanes.idle();
  });

  it('runExclusive holds several lanes: later tasks wait, earlier ones finish first', async () => {
    const lanes = new DeviceLanes();
    const log: string[] = [];
    const earlierGate = gate();
    const exclusiveGate = gate();
    const earlier = lanes.run('a', async () => {
      await earlierGate.promise;
      log.push('earlier a');
    });
    const exclusive = lanes.runExclusive(['a', 'b', 'a'], async () => {
      log.push('exclusive start');
      await exclusiveGate.promise;
      log.push('exclusive end');
    });
    const later = lanes.run('b', () => log.push('later b'));
    // Two exclusive holders over the same lanes in opposite order cannot deadlock.
    const other = lanes.runExclusive(['b', 'a'], async () => log.push('second exclusive'));
    for (let i = 0; i < 5; i++) await turn();
    assert.deepEqual(log, [], 'everything waits for the earlier task');
    earlierGate.open();
    for (let i = 0; i < 5; i++) await turn();
    assert.deepEqual(log, ['earlier a', 'exclusive start']);
    exclusiveGate.open();
    await Promise.all([earlier, exclusive, later, other]);
    assert.deepEqual(log, [
      'earlier a',
      'exclusive start',
      'exclusive end',
      'later b',
      'second exclusive',
    ]);
  });
});
