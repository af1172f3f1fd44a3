import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EVENT_SEVERITIES, eventFrameSchema } from '../../src/index.ts';
import { assertIssue, assertIssues, assertValid } from '../assert-issues.ts';

const event = {
  type: 'event',
  seq: 3,
  ts: '2024-05-01T12:00:00+02:00',
  name: 'door.opened',
  severity: 'warning',
  data: { door: 'front', attempts: [1, 2], ok: null },
};

describe('event frame', () => {
  it('accepts a full event and a minimal one', () => {
    assert.deepEqual(assertValid(eventFrameSchema, event), event);
    assertValid(eventFrameSchema, { type: 'event', seq: 0, name: 'boot', severity: 'info' });
  });

  it('accepts every severity', () => {
    for (const severity of EVENT_SEVERITIES) assertValid(eventFrameSchema, { ...event, severity });
  });

  it('rejects an unknown severity', () => {
    assertIssue(eventFrameSchema, { ...event, severity: 'fatal' }, 'severity', 'invalid_value');
  });

  it('rejects missing name and severity', () => {
    assertIssues(eventFrameSchema, { type: 'event', seq: 1 }, [
      { path: 'name', code: 'invalid_type' },
      { path: 'severity', code: 'invalid_value' },
    ]);
  });

  it('rejects unsafe and oversized names', () => {
    assertIssue(eventFrameSchema, { ...event, name: 'door opened' }, 'name', 'invalid_format');
    assertIssue(eventFrameSchema, { ...event, name: '$where' }, 'name', 'invalid_format');
    assertIssue(eventFrameSchema, { ...event, name: 'e'.repeat(65) }, 'name', 'too_big');
  });

  it('rejects data that is not bounded JSON, at its path', () => {
    assertIssue(
      eventFrameSchema,
      { ...event, data: { level: Number.NaN } },
      'data.level',
      'invalid_type',
    );
    assertIssue(
      eventFrameSchema,
      { ...event, data: JSON.parse('{"a":{"__proto__":{"isAdmin":true}}}') },
      'data.a.__proto__',
      'invalid_key',
    );
    assertIssue(eventFrameSchema, { ...event, data: { s: 'x'.repeat(4097) } }, 'data.s', 'too_big');
  });

  it('rejects a bad ts and unknown fields', () => {
    assertIssue(eventFrameSchema, { ...event, ts: -1 }, 'ts', 'too_small');
    assertIssue(eventFrameSchema, { ...event, extra: 1 }, '', 'unrecognized_keys');
  });
});
