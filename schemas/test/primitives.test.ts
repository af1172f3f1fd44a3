import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  commandIdSchema,
  deviceIdSchema,
  deviceTypeNameSchema,
  eventNameSchema,
  metricNameSchema,
  PROTOCOL_LIMITS,
  seqSchema,
  timestampSchema,
} from '../src/index.ts';
import { assertIssue, assertValid } from './assert-issues.ts';

describe('seqSchema', () => {
  it('accepts 0 and the largest safe integer', () => {
    assert.equal(assertValid(seqSchema, 0), 0);
    assert.equal(assertValid(seqSchema, Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER);
  });

  it('rejects negatives, fractions, unsafe integers and strings', () => {
    assertIssue(seqSchema, -1, '', 'too_small');
    assertIssue(seqSchema, 1.5, '', 'invalid_type');
    assertIssue(seqSchema, 2 ** 60, '', 'too_big');
    assertIssue(seqSchema, '1', '', 'invalid_type');
  });
});

describe('timestampSchema', () => {
  it('accepts epoch milliseconds and RFC 3339 with Z or an offset', () => {
    assertValid(timestampSchema, 1_700_000_000_000);
    assertValid(timestampSchema, '2024-05-01T12:00:00Z');
    assertValid(timestampSchema, '2024-05-01T12:00:00.123+02:00');
  });

  it('rejects 0, negatives and instants from the year 3000 on', () => {
    assertIssue(timestampSchema, 0, '', 'too_small');
    assertIssue(timestampSchema, -5, '', 'too_small');
    assertIssue(timestampSchema, PROTOCOL_LIMITS.maxTimestampMs, '', 'too_big');
    assertIssue(timestampSchema, '3000-01-01T00:00:00Z', '', 'custom', /before the year 3000/);
    assertIssue(timestampSchema, '1969-12-31T23:59:59Z', '', 'custom');
  });

  it('rejects date-times without an offset, and non-dates', () => {
    assertIssue(timestampSchema, '2024-05-01T12:00:00', '', 'invalid_format');
    assertIssue(timestampSchema, '2024-05-01', '', 'invalid_format');
    assertIssue(timestampSchema, 'yesterday', '', 'invalid_format');
  });

  it('rejects fractional milliseconds, NaN, Infinity and booleans with one clear issue', () => {
    for (const value of [1.5, Number.NaN, Number.POSITIVE_INFINITY, true]) {
      assertIssue(timestampSchema, value, '', 'invalid_union', /epoch milliseconds.*RFC 3339/);
    }
  });
});

describe('names and ids', () => {
  it('accept the documented forms', () => {
    assertValid(metricNameSchema, 'power_factor');
    assertValid(eventNameSchema, 'door.opened');
    assertValid(deviceTypeNameSchema, 'gps-tracker');
    assertValid(deviceIdSchema, 'meter-0042.kitchen');
    assertValid(commandIdSchema, '0b6f3c1e-2a55-4c43-9f3e-0c4d2b1a9e77');
  });

  it('reject ids that would break an MQTT topic', () => {
    for (const id of ['a/b', 'a+b', 'a#b', '-leading', '']) {
      assertIssue(deviceIdSchema, id, '', 'invalid_format');
    }
  });

  it('reports an over-long name as too_big only', () => {
    assertIssue(metricNameSchema, 'a'.repeat(65), '', 'too_big');
    assertIssue(commandIdSchema, 'a'.repeat(65), '', 'too_big');
  });

  it('rejects names that start with an underscore or a digit', () => {
    assertIssue(metricNameSchema, '__proto__', '', 'invalid_format');
    assertIssue(metricNameSchema, '1st', '', 'invalid_format');
    assertIssue(deviceTypeNameSchema, 'Thermostat', '', 'invalid_format');
  });
});
