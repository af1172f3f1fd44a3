import type { MetricInfo } from '@iot-gateway/schemas';
import { InfluxDB } from 'influx';
import { GatewayError } from '../errors.ts';
import { parseInfluxUrl } from '../sink/influx-writer.ts';

/** A history request, already validated against the device's type. */
export interface HistoryQuery {
  readonly deviceId: string;
  /** Inclusive start, epoch ms. */
  readonly from: number;
  /** Exclusive end, epoch ms. */
  readonly to: number;
  readonly metrics: readonly MetricInfo[];
  /** Bucket width in ms: numbers are averaged (`mean`), booleans and strings take the `last`. */
  readonly every?: number | undefined;
  readonly limit: number;
}

export type HistoryValue = number | boolean | string;

export interface HistoryPoint {
  /** Epoch ms: the reading's time, or the start of its bucket. */
  readonly ts: number;
  readonly metrics: Readonly<Record<string, HistoryValue>>;
}

/**
 * An InfluxQL identifier in double quotes. Identifiers reaching here are already restricted to
 * metric names (`[A-Za-z][A-Za-z0-9_]*`); quoting and escaping anyway keeps the query safe even
 * if that rule ever loosens.
 */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/** An InfluxQL string literal in single quotes, with `\` and `'` escaped. */
export function quoteString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
}

function safeInteger(value: number, what: string): string {
  if (!Number.isSafeInteger(value)) throw new Error(`${what} must be a safe integer`);
  return String(value);
}

/** The InfluxQL for a history request. Only this function turns input into query text. */
export function historyQueryText(q: HistoryQuery): string {
  const columns = q.metrics.map((m) => {
    const field = quoteIdentifier(m.name);
    if (q.every === undefined) return field;
    const fn = m.type === 'number' || m.type === 'integer' ? 'mean' : 'last';
    return `${fn}(${field}) AS ${field}`;
  });
  const where = [
    `${quoteIdentifier('device_id')} = ${quoteString(q.deviceId)}`,
    `time >= ${safeInteger(q.from, 'from')}ms`,
    `time < ${safeInteger(q.to, 'to')}ms`,
  ].join(' AND ');
  const group =
    q.every === undefined ? '' : ` GROUP BY time(${safeInteger(q.every, 'every')}ms) fill(none)`;
  return `SELECT ${columns.join(', ')} FROM "telemetry" WHERE ${where}${group} ORDER BY time ASC LIMIT ${safeInteger(q.limit, 'limit')}`;
}

interface RawSeries {
  columns: string[];
  values: unknown[][];
}
interface RawResponse {
  results?: Array<{ error?: string; series?: RawSeries[] }>;
}

/** Reads telemetry history back from the InfluxDB that INFLUX_URL names, with InfluxQL. */
export class TelemetryHistory {
  readonly database: string;
  readonly #influx: InfluxDB;

  constructor(url: string, options: { timeoutMs: number }) {
    const target = parseInfluxUrl(url);
    const base = new URL(target.baseUrl);
    this.database = target.database;
    this.#influx = new InfluxDB({
      host: base.hostname,
      port: Number(base.port || (base.protocol === 'https:' ? 443 : 80)),
      protocol: base.protocol === 'https:' ? 'https' : 'http',
      database: target.database,
      ...(target.username !== undefined ? { username: target.username } : {}),
      ...(target.password !== undefined ? { password: target.password } : {}),
      pool: { requestTimeout: options.timeoutMs, maxRetries: 0 },
    });
  }

  /** @throws GatewayError `history_unavailable` when InfluxDB fails or does not answer */
  async query(q: HistoryQuery): Promise<HistoryPoint[]> {
    const points: HistoryPoint[] = [];
    for (const row of await this.rows(historyQueryText(q))) {
      const { time, ...metrics } = row;
      if (Object.keys(metrics).length > 0) {
        points.push({ ts: Number(time), metrics: metrics as Record<string, HistoryValue> });
      }
    }
    return points;
  }

  /**
   * Runs one InfluxQL statement made by a `*QueryText` function and returns its rows, `time` in
   * epoch ms, null columns left out.
   * @throws GatewayError `history_unavailable` when InfluxDB fails or does not answer
   */
  async rows(text: string): Promise<Array<Record<string, unknown>>> {
    let raw: RawResponse;
    try {
      raw = (await this.#influx.queryRaw(text, {
        precision: 'ms',
        database: this.database,
      })) as RawResponse;
    } catch (err) {
      throw new GatewayError(
        'history_unavailable',
        `InfluxDB did not answer: ${(err as Error).message}`,
      );
    }
    const result = raw.results?.[0];
    if (result?.error) {
      // A database that does not exist yet simply has no history.
      if (/database not found/i.test(result.error)) return [];
      throw new GatewayError('history_unavailable', `InfluxDB refused the query: ${result.error}`);
    }
    const rows: Array<Record<string, unknown>> = [];
    for (const series of result?.series ?? []) {
      for (const values of series.values) {
        const row: Record<string, unknown> = {};
        series.columns.forEach((column, i) => {
          const value = values[i];
          if (value !== null && value !== undefined) row[column] = value;
        });
        rows.push(row);
      }
    }
    return rows;
  }
}
