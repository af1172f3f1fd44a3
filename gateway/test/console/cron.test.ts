import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextRuns, parseCron } from '../../console/cron.ts';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number[]) => ms.map((t) => new Date(t).toISOString());

describe("the schedule form's cron helper", () => {
  it('lists the next runs of a five-field expression in UTC', () => {
    assert.deepEqual(iso(nextRuns('*/15 * * * *', 'UTC', 3, at('2026-03-02T10:07:00Z'))), [
      '2026-03-02T10:15:00.000Z',
      '2026-03-02T10:30:00.000Z',
      '2026-03-02T10:45:00.000Z',
    ]);
  });

  it('keeps weekday ranges and names, and the wall clock of a time zone across DST', () => {
    // Friday 2026-03-27 22:00 Berlin is 21:00 UTC; after the switch on Sunday it is 20:00 UTC.
    assert.deepEqual(
      iso(nextRuns('0 22 * * mon-fri', 'Europe/Berlin', 2, at('2026-03-27T12:00:00Z'))),
      ['2026-03-27T21:00:00.000Z', '2026-03-30T20:00:00.000Z'],
    );
  });

  it('takes a seconds field first, and fires on either day field when both are set', () => {
    assert.deepEqual(iso(nextRuns('30 0 6 * * *', 'UTC', 1, at('2026-01-01T07:00:00Z'))), [
      '2026-01-02T06:00:30.000Z',
    ]);
    // The 13th, or any Friday: Friday 2026-02-06 comes before Friday the 13th.
    assert.deepEqual(iso(nextRuns('0 0 13 * 5', 'UTC', 2, at('2026-02-01T00:00:00Z'))), [
      '2026-02-06T00:00:00.000Z',
      '2026-02-13T00:00:00.000Z',
    ]);
  });

  it('explains what is wrong with an expression', () => {
    assert.throws(() => parseCron('* * *'), /5 fields/);
    assert.throws(() => parseCron('61 * * * *'), /minute: 61 is outside 0-59/);
    assert.throws(() => parseCron('* * * * funday'), /weekday/);
    assert.throws(() => nextRuns('* * * * *', 'Mars/Olympus'), RangeError);
  });
});
