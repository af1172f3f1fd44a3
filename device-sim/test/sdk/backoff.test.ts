import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Transport } from '../../src/index.ts';
import { Backoff, DeviceClient } from '../../src/index.ts';

/** Yields to pending promise callbacks (setImmediate is not among the mocked timers). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('Backoff', () => {
  it('doubles the ceiling from initialDelayMs and caps it at maxDelayMs', () => {
    const backoff = new Backoff({
      initialDelayMs: 500,
      maxDelayMs: 30_000,
      random: () => 0.999999,
    });
    const delays = Array.from({ length: 10 }, () => backoff.next());
    assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000]);
  });

  it('draws each delay uniformly from [0, ceiling] (full jitter)', () => {
    const draws = [0, 0.5, 0.25, 1 - 1e-9];
    const backoff = new Backoff({
      initialDelayMs: 1000,
      maxDelayMs: 60_000,
      random: () => draws.shift()!,
    });
    assert.deepEqual(
      [backoff.next(), backoff.next(), backoff.next(), backoff.next()],
      [0, 1000, 1000, 8000],
    );
  });

  it('keeps every delay within [0, cap] whatever the random source says', () => {
    let seed = 1;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return (seed - 1) / 2147483646;
    };
    const backoff = new Backoff({ initialDelayMs: 500, maxDelayMs: 30_000, random });
    const delays = Array.from({ length: 200 }, () => backoff.next());
    assert.ok(delays.every((d) => d >= 0 && d <= 30_000));
    assert.ok(new Set(delays.slice(10)).size > 150, 'capped delays are still spread out');
  });

  it('waits floodDelayMs/2 .. floodDelayMs after a flood, and at least Retry-After', () => {
    const low = new Backoff({ floodDelayMs: 60_000, random: () => 0 });
    const high = new Backoff({ floodDelayMs: 60_000, random: () => 1 - 1e-12 });
    assert.equal(low.next('flood'), 30_000);
    assert.equal(high.next('flood'), 60_000);
    const busy = new Backoff({ maxDelayMs: 30_000, random: () => 0 });
    assert.equal(busy.next('normal', 45_000), 45_000, 'the server floor wins over the cap');
  });

  it('starts over after reset()', () => {
    const backoff = new Backoff({ initialDelayMs: 100, random: () => 0.999999 });
    backoff.next();
    backoff.next();
    backoff.reset();
    assert.equal(backoff.next(), 100);
  });
});

describe('DeviceClient reconnects (fake timers)', () => {
  /** A transport whose every attempt fails like a refused TCP connection. */
  function failingTransport(attempts: number[]): Transport {
    return (_request, listener) => {
      attempts.push(Date.now());
      queueMicrotask(() =>
        listener.close({ code: 1006, reason: '', error: new Error('ECONNREFUSED') }),
      );
      return { send() {}, close() {}, terminate() {}, ping: () => false };
    };
  }

  it('retries at jittered, exponentially growing, capped intervals', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 0 });
    const attempts: number[] = [];
    const draws = [0.5, 0.25, 1 - 1e-9, 0.75, 0.5, 1 - 1e-9, 1 - 1e-9, 0.1];
    const client = new DeviceClient({
      url: 'http://gateway.invalid:8080',
      credentials: 'dtk_x',
      transport: failingTransport(attempts),
      backoff: { initialDelayMs: 1000, maxDelayMs: 8000, random: () => draws.shift() ?? 0.5 },
    });
    const delays: number[] = [];
    client.on('disconnected', (e) => delays.push(e.delayMs!));
    void client.connect().catch(() => {});
    await settle();
    // Ceilings 1000, 2000, 4000, 8000, then capped at 8000.
    const expected = [500, 500, 4000, 6000, 4000, 8000, 8000, 800];
    for (const delay of expected) {
      t.mock.timers.tick(delay);
      await settle();
    }
    assert.deepEqual(delays.slice(0, expected.length), expected);
    const gaps = attempts.slice(1).map((at, i) => at - attempts[i]!);
    assert.deepEqual(gaps, expected, 'each attempt happens exactly when its delay ran out');
    t.mock.timers.reset();
    await client.close();
  });

  it('does not attempt early: one tick short of the delay, nothing happens', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 0 });
    const attempts: number[] = [];
    const client = new DeviceClient({
      url: 'http://gateway.invalid:8080',
      credentials: 'dtk_x',
      transport: failingTransport(attempts),
      backoff: { initialDelayMs: 1000, random: () => 0.5 },
    });
    void client.connect().catch(() => {});
    await settle();
    assert.equal(attempts.length, 1);
    t.mock.timers.tick(499);
    await settle();
    assert.equal(attempts.length, 1);
    t.mock.timers.tick(1);
    await settle();
    assert.equal(attempts.length, 2);
    t.mock.timers.reset();
    await client.close();
  });
});
