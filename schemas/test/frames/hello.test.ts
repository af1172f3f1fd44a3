import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { helloFrameSchema } from '../../src/index.ts';
import { assertIssue, assertValid } from '../assert-issues.ts';
import { hello } from './examples.ts';

describe('hello frame', () => {
  it('accepts the gateway greeting', () => {
    assert.deepEqual(assertValid(helloFrameSchema, hello), hello);
  });

  it('ignores fields a newer gateway adds, so older devices still connect', () => {
    const newer = {
      ...hello,
      protocol: 1,
      heartbeat: { ...hello.heartbeat, jitterMs: 500 },
      limits: { ...hello.limits, maxEventBytes: 4096 },
    };
    assert.deepEqual(assertValid(helloFrameSchema, newer), hello);
  });

  it('rejects a timeout not longer than the interval', () => {
    assertIssue(
      helloFrameSchema,
      { ...hello, heartbeat: { intervalMs: 15_000, timeoutMs: 15_000 } },
      'heartbeat.timeoutMs',
      'custom',
    );
  });

  it('rejects missing and out-of-range limits', () => {
    const { burst: _burst, ...withoutBurst } = hello.limits;
    assertIssue(
      helloFrameSchema,
      { ...hello, limits: withoutBurst },
      'limits.burst',
      'invalid_type',
    );
    assertIssue(
      helloFrameSchema,
      { ...hello, limits: { ...hello.limits, maxBatch: 501 } },
      'limits.maxBatch',
      'too_big',
    );
    assertIssue(
      helloFrameSchema,
      { ...hello, limits: { ...hello.limits, ratePerSec: 0 } },
      'limits.ratePerSec',
      'too_small',
    );
    assertIssue(
      helloFrameSchema,
      { ...hello, heartbeat: { intervalMs: 1.5, timeoutMs: 10 } },
      'heartbeat.intervalMs',
      'invalid_type',
    );
  });

  it('rejects a malformed device id', () => {
    assertIssue(helloFrameSchema, { ...hello, deviceId: 'a/b' }, 'deviceId', 'invalid_format');
    assertIssue(helloFrameSchema, { ...hello, sessionId: undefined }, 'sessionId', 'invalid_type');
  });
});
