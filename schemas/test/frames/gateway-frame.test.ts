import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GATEWAY_FRAME_TYPES, type GatewayFrame, gatewayFrameSchema } from '../../src/index.ts';
import { assertIssue, assertValid } from '../assert-issues.ts';
import { hello } from './examples.ts';

const examples: Record<GatewayFrame['type'], unknown> = {
  hello,
  ack: { type: 'ack', seq: 41 },
  error: {
    type: 'error',
    seq: 42,
    code: 'too_large',
    message: 'frame over 65536 bytes',
    issues: [],
  },
  command: { type: 'command', id: 'c1', name: 'reboot', params: {}, expiresAt: 1_714_560_060_000 },
  ping: { type: 'ping' },
  pong: { type: 'pong' },
};

describe('gatewayFrameSchema', () => {
  it('accepts every gateway frame type', () => {
    assert.deepEqual(Object.keys(examples).sort(), [...GATEWAY_FRAME_TYPES].sort());
    for (const frame of Object.values(examples)) {
      assert.deepEqual(assertValid(gatewayFrameSchema, frame), frame);
    }
  });

  it('keeps the paths of the chosen frame', () => {
    assertIssue(
      gatewayFrameSchema,
      { ...hello, limits: { ...hello.limits, maxBatch: 0 } },
      'limits.maxBatch',
      'too_small',
    );
    assertIssue(gatewayFrameSchema, { type: 'ack', seq: -1 }, 'seq', 'too_small');
  });

  it('rejects an unknown, missing or device-only type at path type', () => {
    for (const type of ['telemetry', 'event', 'command_result', undefined, 'welcome']) {
      assertIssue(
        gatewayFrameSchema,
        { type },
        'type',
        'invalid_union',
        /the gateway may send: hello/,
      );
    }
  });
});
