/**
 * The next times a cron expression fires, for the schedule form's helper. It reads what the
 * gateway's scheduler reads: five fields, or six with seconds first; `*`, lists, ranges, steps
 * and month and weekday names. When both day of month and weekday are restricted, either one
 * matching is enough (as in cron). Times are computed in the schedule's IANA time zone.
 */

const NAMES: Record<string, number> = {
  jan: 1,
  feb: 2,
  mar: 3,
  apr: 4,
  may: 5,
  jun: 6,
  jul: 7,
  aug: 8,
  sep: 9,
  oct: 10,
  nov: 11,
  dec: 12,
  sun: 0,
  mon: 1,
  tue: 2,
  wed: 3,
  thu: 4,
  fri: 5,
  sat: 6,
};

interface Field {
  readonly values: number[];
  readonly any: boolean;
}

function parseField(text: string, min: number, max: number, what: string): Field {
  const values = new Set<number>();
  const num = (s: string) => {
    const n = NAMES[s.toLowerCase()] ?? (/^\d+$/.test(s) ? Number(s) : Number.NaN);
    if (!Number.isInteger(n)) throw new Error(`${what}: "${s}" is not a number`);
    return n;
  };
  for (const part of text.split(',')) {
    const [range = '', stepText] = part.split('/');
    const step = stepText === undefined ? 1 : num(stepText);
    if (step < 1) throw new Error(`${what}: the step must be at least 1`);
    let lo: number;
    let hi: number;
    if (range === '*') {
      lo = min;
      hi = max;
    } else if (range.includes('-')) {
      const [a = '', b = ''] = range.split('-');
      lo = num(a);
      hi = num(b);
    } else {
      lo = num(range);
      hi = stepText === undefined ? lo : max;
    }
    if (lo < min || hi > max || lo > hi) {
      throw new Error(`${what}: ${part} is outside ${min}-${max}`);
    }
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  return { values: [...values].sort((a, b) => a - b), any: text === '*' || text === '?' };
}

export interface CronSpec {
  readonly seconds: Field;
  readonly minutes: Field;
  readonly hours: Field;
  readonly days: Field;
  readonly months: Field;
  readonly weekdays: Field;
}

export function parseCron(expression: string): CronSpec {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6) {
    throw new Error(
      'a cron expression has 5 fields (minute hour day month weekday), or 6 with seconds first',
    );
  }
  const [s, mi, h, d, mo, w] = parts.length === 6 ? parts : ['0', ...parts];
  const weekdays = parseField((w as string).replace('?', '*'), 0, 7, 'weekday');
  return {
    seconds: parseField(s as string, 0, 59, 'second'),
    minutes: parseField(mi as string, 0, 59, 'minute'),
    hours: parseField(h as string, 0, 23, 'hour'),
    days: parseField((d as string).replace('?', '*'), 1, 31, 'day of month'),
    months: parseField(mo as string, 1, 12, 'month'),
    weekdays: {
      any: weekdays.any,
      values: [...new Set(weekdays.values.map((v) => v % 7))].sort((a, b) => a - b),
    },
  };
}

/** The offset of `timeZone` from UTC at `instant`, in ms. */
function offsetMs(timeZone: string, instant: number): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(new Date(instant));
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value);
  const wall = Date.UTC(
    get('year'),
    get('month') - 1,
    get('day'),
    get('hour'),
    get('minute'),
    get('second'),
  );
  return wall - Math.floor(instant / 1000) * 1000;
}

/** The instant a wall-clock time of `timeZone` names (wall time given as if it were UTC). */
function fromWall(timeZone: string, wall: number): number {
  let instant = wall - offsetMs(timeZone, wall);
  instant = wall - offsetMs(timeZone, instant);
  return instant;
}

/** The next `count` firing times after `after` (epoch ms), at most two years ahead. */
export function nextRuns(
  expression: string,
  timeZone: string,
  count = 5,
  after = Date.now(),
): number[] {
  const spec = parseCron(expression);
  // Throws a RangeError for an unknown zone.
  const startWall = after + offsetMs(timeZone, after);
  const runs: number[] = [];
  const day0 = new Date(Math.floor(startWall / 86_400_000) * 86_400_000);
  for (let d = 0; d < 731 && runs.length < count; d++) {
    const date = new Date(day0.getTime() + d * 86_400_000);
    if (!spec.months.values.includes(date.getUTCMonth() + 1)) continue;
    const domOk = spec.days.values.includes(date.getUTCDate());
    const dowOk = spec.weekdays.values.includes(date.getUTCDay());
    const dayOk =
      spec.days.any && spec.weekdays.any
        ? true
        : spec.days.any
          ? dowOk
          : spec.weekdays.any
            ? domOk
            : domOk || dowOk;
    if (!dayOk) continue;
    for (const h of spec.hours.values) {
      for (const m of spec.minutes.values) {
        for (const s of spec.seconds.values) {
          const wall = date.getTime() + h * 3_600_000 + m * 60_000 + s * 1000;
          if (wall <= startWall) continue;
          runs.push(fromWall(timeZone, wall));
          if (runs.length >= count) return runs;
        }
      }
    }
  }
  return runs;
}
