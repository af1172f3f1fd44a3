import { describe, it } from 'node:test';
import { ackFrameSchema } from '../../src/index.ts';
import { assertIssue, assertValid } from '../assert-issues.ts';

describe('ack frame', () => {
  it('accepts a sequence number', () => {
    assertValid(ackFrameSchema, { type: 'ack', seq: 0 });
    assertValid(ackFrameSchema, { type: 'ack', seq: Number.MAX_SAFE_INTEGER });
  });

  it('rejects a missing, negative or fractional seq', () => {
    assertIssue(ackFrameSchema, { type: 'ack' }, 'seq', 'invalid_type');
    assertIssue(ackFrameSchema, { type: 'ack', seq: -1 }, 'seq', 'too_small');
    assertIssue(ackFrameSchema, { type: 'ack', seq: 0.5 }, 'seq', 'invalid_type');
  });

  it('rejects extra fields', () => {
    assertIssue(ackFrameSchema, { type: 'ack', seq: 1, ids: [1] }, '', 'unrecognized_keys');
  });
});
