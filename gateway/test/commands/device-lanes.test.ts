import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeviceLanes } from '../../src/commands/device-lanes.ts';

describe('DeviceLanes', () => {
  it("runs one device's tasks one at a time, in order, whatever their duration", async () => {
    const lanes = new DeviceLanes();
    const log: string[] = [];
    const task = (name: string, ms: number) => async () => {
      log.push(`${name}:start`);
      await sleep(ms);
      log.push(`${name}:end`);
    };
    await Promise.all([
      lanes.run('a', task('a1', 20)),
      lanes.run('a', task('a2', 0)),
      lanes.run('a', task('a3', 5)),
    ]);
    assert.deepEqual(log, ['a1:start', 'a1:end', 'a2:start', 'a2:end', 'a3:start', 'a3:end']);
  });

  it('lets other devices run meanwhile and survives a failing task', async () => {
    const lanes = new DeviceLanes();
    const log: string[] = [];
    const slow = lanes.run('a', async () => {
      await sleep(20);
      log.push('a');
    });
    await lanes.run('b', () => log.push('b'));
    assert.deepEqual(log, ['b']);
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
    const earlier = lanes.run('a', async () => {
      await sleep(10);
      log.push('earlier a');
    });
    const exclusive = lanes.runExclusive(['a', 'b', 'a'], async () => {
      log.push('exclusive start');
      await sleep(10);
      log.push('exclusive end');
    });
    const later = lanes.run('b', () => log.push('later b'));
    // Two exclusive holders over the same lanes in opposite order cannot deadlock.
    const other = lanes.runExclusive(['b', 'a'], async () => log.push('second exclusive'));
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
