import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeIssues, deviceFrameSchema, formatIssues } from '../src/index.ts';

function errorOf(value: unknown) {
  const result = deviceFrameSchema.safeParse(value);
  assert.equal(result.success, false);
  return result.error!;
}

describe('formatIssues', () => {
  it('joins paths with dots, array indexes included', () => {
    const error = errorOf({
      type: 'telemetry',
      seq: 1,
      readings: [{ ts: 1.5, metrics: { t: 1 } }],
    });
    assert.deepEqual(formatIssues(error), [
      {
        path: 'readings.0.ts',
        message: 'Expected epoch milliseconds (an integer) or an RFC 3339 date-time with offset',
        code: 'invalid_union',
      },
    ]);
  });

  it('uses "" for the frame itself', () => {
    assert.equal(formatIssues(errorOf('ping'))[0]?.path, '');
  });

  it('accepts a bare issue list and keeps at most `limit` issues', () => {
    const error = errorOf({ type: 'event', seq: -1, name: '', severity: 'x', extra: 1 });
    assert.equal(formatIssues(error).length, 4);
    assert.deepEqual(formatIssues(error.issues, 2), formatIssues(error).slice(0, 2));
  });
});

describe('describeIssues', () => {
  it('renders one line per issue for people', () => {
    assert.equal(
      describeIssues([
        { path: 'a.b', message: 'bad', code: 'custom' },
        { path: '', message: 'worse', code: 'custom' },
      ]),
      '  - a.b: bad\n  - (root): worse',
    );
  });
});
