import { describe, it } from 'node:test';
import { pingFrameSchema, pongFrameSchema } from '../../src/index.ts';
import { assertIssue, assertValid } from '../assert-issues.ts';

describe('ping and pong frames', () => {
  it('accept the bare frame', () => {
    assertValid(pingFrameSchema, { type: 'ping' });
    assertValid(pongFrameSchema, { type: 'pong' });
  });

  it('reject extra fields, including __proto__', () => {
    assertIssue(pingFrameSchema, { type: 'ping', seq: 1 }, '', 'unrecognized_keys');
    assertIssue(
      pongFrameSchema,
      JSON.parse('{"type":"pong","__proto__":{}}'),
      '',
      'unrecognized_keys',
      /__proto__/,
    );
  });

  it('reject the other type', () => {
    assertIssue(pingFrameSchema, { type: 'pong' }, 'type', 'invalid_value');
    assertIssue(pongFrameSchema, { type: 'ping' }, 'type', 'invalid_value');
  });
});
