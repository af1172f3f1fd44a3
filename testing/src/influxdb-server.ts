import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HarnessError } from './errors.ts';
import { removeOnExit } from './exit-cleanup.ts';
import { findBinary } from './find-binary.ts';
import { freePort } from './free-port.ts';
import { discardDataDir, isPortTaken, LocalServer } from './local-server.ts';
import type { TestServer } from './test-server.ts';

/** Options of {@link startInfluxDB}. */
export interface InfluxDBOptions {
  /** Database to create once the server is ready; exposed as {@link InfluxDBServer.database}. */
  database?: string;
  /**
   * How long to wait for `GET /ping` to answer 204, at start and at each restart.
   * @defaultValue 20000
   */
  startTimeoutMs?: number;
  /**
   * How long a graceful stop waits after SIGTERM before sending SIGKILL.
   * @defaultValue 5000
   */
  stopTimeoutMs?: number;
}

/** Defaults of {@link InfluxDBOptions}. */
export const DEFAULT_INFLUXDB_OPTIONS = Object.freeze({
  startTimeoutMs: 20_000,
  stopTimeoutMs: 5_000,
});

/** A value in a row returned by {@link InfluxDBServer.query}. */
export type InfluxValue = string | number | boolean | null;

/**
 * One row of a query result: the selected columns plus the series' tags when the query
 * groups by tags. `time` is in epoch milliseconds.
 */
export type InfluxRow = Record<string, InfluxValue>;

/** A throwaway InfluxDB 1.x server. */
export interface InfluxDBServer extends TestServer {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** The database created from {@link InfluxDBOptions.database}, if any. */
  readonly database: string | undefined;
  /**
   * Runs InfluxQL and returns the rows of every series of every statement, with `time` in
   * epoch milliseconds.
   *
   * @param database - Defaults to {@link InfluxDBServer.database}.
   * @throws {@link HarnessError} `TESTING_ERR_QUERY_FAILED` when InfluxDB reports an error.
   */
  query(influxql: string, database?: string): Promise<InfluxRow[]>;
  /**
   * Counts the points of a measurement, as the count of its most often written field; exact
   * when some field is present in every point. 0 when the measurement does not exist.
   *
   * @param database - Defaults to {@link InfluxDBServer.database}.
   */
  count(measurement: string, database?: string): Promise<number>;
  /** Creates a database; does nothing if it exists. */
  createDatabase(name: string): Promise<void>;
}

const INFLUXD = { name: 'influxd', envVar: 'INFLUXD_BIN', product: 'InfluxDB 1.x' } as const;
const PORT_ATTEMPTS = 3;
const PING_TIMEOUT_MS = 1_000;

/**
 * Starts `influxd` on free ports with a fresh temporary data directory and resolves once it
 * answers `GET /ping`. Stop it with {@link TestServer.stop} (for example in node:test's
 * `after()`); if the test process exits first, the server is killed and the directory removed.
 *
 * The binary is looked up on `PATH` unless `INFLUXD_BIN` names it.
 *
 * @throws {@link HarnessError} `TESTING_ERR_BINARY_NOT_FOUND`, `TESTING_ERR_SERVER_EXITED` or
 *   `TESTING_ERR_START_TIMEOUT`, the last two with the end of the server's log.
 *
 * @example
 * ```ts
 * const influx = await startInfluxDB({ database: 'telemetry' });
 * after(() => influx.stop());
 * ```
 */
export async function startInfluxDB(options: InfluxDBOptions = {}): Promise<InfluxDBServer> {
  const settings = { ...DEFAULT_INFLUXDB_OPTIONS, ...options };
  const binary = findBinary(INFLUXD);
  const dataDir = await mkdtemp(join(tmpdir(), 'iot-gateway-influxdb-'));
  removeOnExit(dataDir);
  try {
    for (let attempt = 1; ; attempt++) {
      const httpPort = await freePort();
      let rpcPort = await freePort();
      while (rpcPort === httpPort) rpcPort = await freePort();
      const configFile = join(dataDir, 'influxdb.conf');
      await writeFile(configFile, influxdbConfig(dataDir, httpPort, rpcPort));
      const url = `http://127.0.0.1:${httpPort}`;
      const server = new LocalInfluxDB(settings.database, {
        name: INFLUXD.name,
        binary,
        args: ['run', '-config', configFile],
        env: influxdEnv(),
        url,
        port: httpPort,
        dataDir,
        logFile: join(dataDir, 'server.log'),
        isReady: () => ping(url),
        startTimeoutMs: settings.startTimeoutMs,
        stopTimeoutMs: settings.stopTimeoutMs,
      });
      try {
        await server.start();
      } catch (error) {
        if (attempt < PORT_ATTEMPTS && isPortTaken(error)) continue;
        throw error;
      }
      if (settings.database !== undefined) await server.createDatabase(settings.database);
      return server;
    }
  } catch (error) {
    discardDataDir(dataDir);
    throw error;
  }
}

class LocalInfluxDB extends LocalServer implements InfluxDBServer {
  readonly database: string | undefined;

  constructor(database: string | undefined, ...spec: ConstructorParameters<typeof LocalServer>) {
    super(...spec);
    this.database = database;
  }

  async query(influxql: string, database = this.database): Promise<InfluxRow[]> {
    const params = new URLSearchParams({ q: influxql, epoch: 'ms' });
    if (database !== undefined) params.set('db', database);
    // POST because InfluxDB 1.x rejects statements that write, such as CREATE, over GET.
    const response = await fetch(`${this.url}/query`, { method: 'POST', body: params });
    const text = await response.text();
    let body: QueryResponse;
    try {
      body = JSON.parse(text) as QueryResponse;
    } catch {
      body = { error: text };
    }
    const failure = body.error ?? body.results?.find((result) => result.error)?.error;
    if (!response.ok || failure !== undefined) {
      throw new HarnessError(
        'TESTING_ERR_QUERY_FAILED',
        `InfluxDB query failed (HTTP ${response.status}): ${failure ?? text}; query: ${influxql}`,
      );
    }
    const rows: InfluxRow[] = [];
    for (const result of body.results ?? []) {
      for (const series of result.series ?? []) {
        for (const values of series.values ?? []) {
          const row: InfluxRow = { ...series.tags };
          series.columns.forEach((column, i) => {
            row[column] = values[i] ?? null;
          });
          rows.push(row);
        }
      }
    }
    return rows;
  }

  async count(measurement: string, database = this.database): Promise<number> {
    const rows = await this.query(`SELECT COUNT(*) FROM ${quoteIdentifier(measurement)}`, database);
    let most = 0;
    for (const row of rows) {
      for (const [column, value] of Object.entries(row)) {
        if (column.startsWith('count_') && typeof value === 'number') most = Math.max(most, value);
      }
    }
    return most;
  }

  async createDatabase(name: string): Promise<void> {
    await this.query(`CREATE DATABASE ${quoteIdentifier(name)}`);
  }
}

interface QueryResponse {
  error?: string;
  results?: {
    error?: string;
    series?: { tags?: Record<string, string>; columns: string[]; values?: InfluxValue[][] }[];
  }[];
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

async function ping(url: string): Promise<boolean> {
  const response = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(PING_TIMEOUT_MS) });
  await response.body?.cancel();
  return response.status === 204;
}

// influxd lets INFLUXDB_* variables override the config file, so a developer's or CI's
// settings could move a test server onto shared ports or directories.
function influxdEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('INFLUXDB_')) env[key] = value;
  }
  return env;
}

function toml(value: string): string {
  return JSON.stringify(value);
}

function influxdbConfig(dir: string, httpPort: number, rpcPort: number): string {
  return `# Written by @iot-gateway/testing for one throwaway server.
# Upstream builds read reporting-disabled, Debian's patched build reporting-enabled; unknown keys
# are ignored, so both are set to keep usage reports off either way.
reporting-disabled = true
reporting-enabled = false
# The backup/restore RPC service listens on 8088 by default, which would collide between
# instances.
bind-address = ${toml(`127.0.0.1:${rpcPort}`)}

[meta]
  dir = ${toml(join(dir, 'meta'))}
  logging-enabled = false

[data]
  dir = ${toml(join(dir, 'data'))}
  wal-dir = ${toml(join(dir, 'wal'))}
  query-log-enabled = false

[monitor]
  # The _internal database would add writes every 10 s and show up in SHOW DATABASES.
  store-enabled = false

[http]
  bind-address = ${toml(`127.0.0.1:${httpPort}`)}
  log-enabled = false
  # The default socket path is shared by every instance.
  unix-socket-enabled = false

[ifql]
  enabled = false

[logging]
  level = "warn"
  suppress-logo = true
`;
}
