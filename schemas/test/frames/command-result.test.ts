import { describe, it } from 'node:test';
import { commandResultFrameSchema } from '../../src/index.ts';
import { assertIssue, assertValid } from '../assert-issues.ts';

const succeeded = {
  type: 'command_result',
  id: 'cmd-1',
  status: 'succeeded',
  result: { rebootedAt: 1 },
};

describe('command_result frame', () => {
  it('accepts success with or without a result', () => {
    assertValid(commandResultFrameSchema, succeeded);
    assertValid(commandResultFrameSchema, {
      type: 'command_result',
      id: 'cmd-1',
      status: 'succeeded',
    });
  });

  it('accepts failure with a string error, an {code, message} error, or none', () => {
    const failed = { type: 'command_result', id: 'cmd-1', status: 'failed' };
    assertValid(commandResultFrameSchema, { ...failed, error: 'flash write failed' });
    assertValid(commandResultFrameSchema, {
      ...failed,
      error: { code: 'EIO', message: 'flash write failed' },
    });
    assertValid(commandResultFrameSchema, { ...failed, error: { message: 'busy' } });
    assertValid(commandResultFrameSchema, failed);
  });

  it('rejects an unknown status', () => {
    assertIssue(
      commandResultFrameSchema,
      { ...succeeded, status: 'done' },
      'status',
      'invalid_value',
    );
  });

  it('rejects an error next to "succeeded"', () => {
    assertIssue(
      commandResultFrameSchema,
      { ...succeeded, error: 'x' },
      'error',
      'custom',
      /failed/,
    );
  });

  it('rejects malformed errors', () => {
    const failed = { type: 'command_result', id: 'cmd-1', status: 'failed' };
    assertIssue(commandResultFrameSchema, { ...failed, error: 42 }, 'error', 'invalid_union');
    assertIssue(
      commandResultFrameSchema,
      { ...failed, error: { code: 'E' } },
      'error',
      'invalid_union',
    );
    assertIssue(
      commandResultFrameSchema,
      { ...failed, error: 'x'.repeat(1025) },
      'error',
      'too_big',
    );
  });

  it('rejects missing, malformed and oversized ids', () => {
    assertIssue(
      commandResultFrameSchema,
      { type: 'command_result', status: 'succeeded' },
      'id',
      'invalid_type',
    );
    assertIssue(commandResultFrameSchema, { ...succeeded, id: 'a/b' }, 'id', 'invalid_format');
    assertIssue(commandResultFrameSchema, { ...succeeded, id: 'c'.repeat(65) }, 'id', 'too_big');
  });

  it('rejects a result that is not bounded JSON', () => {
    assertIssue(
      commandResultFrameSchema,
      { ...succeeded, result: [Number.POSITIVE_INFINITY] },
      'result.0',
      'invalid_type',
    );
  });
});
