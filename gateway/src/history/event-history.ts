import { quoteIdentifier, quoteString, type TelemetryHistory } from './telemetry-history.ts';

/** An events request, already validated. */
export interface EventQuery {
  readonly deviceId: string;
  /** Inclusive start, epoch ms. */
  readonly from: number;
  /** Exclusive end, epoch ms. */
  readonly to: number;
  /** Only events of these severities; all when undefined. */
  readonly severities?: readonly string[] | undefined;
  readonly limit: number;
}

export interface StoredEvent {
  /** Epoch ms. */
  readonly ts: number;
  readonly name: string;
  readonly severity: string;
  readonly seq: number;
  readonly data?: unknown;
}

function safeInteger(value: number, what: string): string {
  if (!Number.isSafeInteger(value)) throw new Error(`${what} must be a safe integer`);
  return String(value);
}

/** The InfluxQL for an events request, newest first. Only this function turns input into text. */
export function eventQueryText(q: EventQuery): string {
  const where = [
    `${quoteIdentifier('device_id')} = ${quoteString(q.deviceId)}`,
    `time >= ${safeInteger(q.from, 'from')}ms`,
    `time < ${safeInteger(q.to, 'to')}ms`,
  ];
  if (q.severities && q.severities.length > 0) {
    where.push(
      `(${q.severities.map((s) => `${quoteIdentifier('severity')} = ${quoteString(s)}`).join(' OR ')})`,
    );
  }
  return `SELECT "name", "severity", "seq", "data" FROM "events" WHERE ${where.join(' AND ')} ORDER BY time DESC LIMIT ${safeInteger(q.limit, 'limit')}`;
}

/** A device's events as the gateway wrote them to InfluxDB (`events`), newest first. */
export async function readEvents(history: TelemetryHistory, q: EventQuery): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  for (const row of await history.rows(eventQueryText(q))) {
    let data: unknown;
    if (typeof row.data === 'string' && row.data !== '') {
      try {
        data = JSON.parse(row.data);
      } catch {
        data = row.data;
      }
    }
    events.push({
      ts: Number(row.time),
      name: String(row.name ?? ''),
      severity: String(row.severity ?? ''),
      seq: Number(row.seq ?? 0),
      ...(data !== undefined ? { data } : {}),
    });
  }
  return events;
}
