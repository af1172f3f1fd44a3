import { describe, it } from 'node:test';
import { commandFrameSchema } from '../../src/index.ts';
import { assertIssue, assertValid } from '../assert-issues.ts';

const command = {
  type: 'command',
  id: '0b6f3c1e-2a55-4c43-9f3e-0c4d2b1a9e77',
  name: 'set_interval',
  params: { intervalMs: 5000 },
  expiresAt: 1_714_560_060_000,
};

describe('command frame', () => {
  it('accepts a command, with empty params too', () => {
    assertValid(commandFrameSchema, command);
    assertValid(commandFrameSchema, { ...command, name: 'reboot', params: {} });
  });

  it('takes expiresAt as epoch milliseconds only', () => {
    assertIssue(
      commandFrameSchema,
      { ...command, expiresAt: '2024-05-01T12:01:00Z' },
      'expiresAt',
      'invalid_type',
    );
    assertIssue(commandFrameSchema, { ...command, expiresAt: 0 }, 'expiresAt', 'too_small');
  });

  it('requires params to be an object', () => {
    assertIssue(commandFrameSchema, { ...command, params: [5000] }, 'params', 'invalid_type');
    assertIssue(commandFrameSchema, { ...command, params: undefined }, 'params', 'invalid_type');
  });

  it('rejects params that are not bounded JSON', () => {
    assertIssue(
      commandFrameSchema,
      { ...command, params: JSON.parse('{"constructor":{}}') },
      'params.constructor',
      'invalid_key',
    );
    assertIssue(
      commandFrameSchema,
      { ...command, params: { intervalMs: Number.NaN } },
      'params.intervalMs',
      'invalid_type',
    );
  });

  it('rejects malformed ids and names', () => {
    assertIssue(commandFrameSchema, { ...command, id: 'x'.repeat(65) }, 'id', 'too_big');
    assertIssue(commandFrameSchema, { ...command, name: 'set interval' }, 'name', 'invalid_format');
  });
});
