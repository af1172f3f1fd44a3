import { describe, it } from 'node:test';
import { errorFrameSchema, PROTOCOL_LIMITS } from '../../src/index.ts';
import { assertIssue, assertValid } from '../assert-issues.ts';

const error = {
  type: 'error',
  seq: 12,
  code: 'invalid_telemetry',
  message: 'metrics do not match thermostat',
  issues: [
    {
      path: 'metrics.temperature',
      message: 'Too big: expected number to be <=85',
      code: 'too_big',
    },
    { path: 'readings.0.ts', message: 'Invalid input' },
  ],
};

describe('error frame', () => {
  it('accepts a rejection with issues, and a session error without seq or issues', () => {
    assertValid(errorFrameSchema, error);
    assertValid(errorFrameSchema, {
      type: 'error',
      code: 'rate_limited',
      message: 'slow down',
      issues: [],
    });
  });

  it('rejects codes that are not snake_case', () => {
    assertIssue(errorFrameSchema, { ...error, code: 'InvalidTelemetry' }, 'code', 'invalid_format');
    assertIssue(errorFrameSchema, { ...error, code: 'WS_ERR_X' }, 'code', 'invalid_format');
  });

  it('requires issues, each with path and message', () => {
    const { issues: _issues, ...withoutIssues } = error;
    assertIssue(errorFrameSchema, withoutIssues, 'issues', 'invalid_type');
    assertIssue(
      errorFrameSchema,
      { ...error, issues: [{ path: 'x' }] },
      'issues.0.message',
      'invalid_type',
    );
    assertIssue(
      errorFrameSchema,
      { ...error, issues: [{ path: 'x', message: 'm', hint: 1 }] },
      'issues.0',
      'unrecognized_keys',
    );
  });

  it('caps the number of issues', () => {
    const issues = Array.from({ length: PROTOCOL_LIMITS.maxErrorIssues + 1 }, () => ({
      path: '',
      message: 'm',
    }));
    assertIssue(errorFrameSchema, { ...error, issues }, 'issues', 'too_big');
  });

  it('rejects an empty message', () => {
    assertIssue(errorFrameSchema, { ...error, message: '' }, 'message', 'too_small');
  });
});
