/**
 * Every failure the harness reports, keyed by a stable code so tests can assert on the code
 * rather than on wording.
 */
export type HarnessErrorCode =
  /** A server binary is not installed or the `*_BIN` override points nowhere. */
  | 'TESTING_ERR_BINARY_NOT_FOUND'
  /** A server process exited before it became ready (bad config, port taken, crash). */
  | 'TESTING_ERR_SERVER_EXITED'
  /** A server process did not become ready within `startTimeoutMs`. */
  | 'TESTING_ERR_START_TIMEOUT'
  /** A server process outlived SIGKILL by `stopTimeoutMs`, e.g. stuck in uninterruptible I/O. */
  | 'TESTING_ERR_STOP_TIMEOUT'
  /** `restart()` was called after a final `stop()` removed the data directory. */
  | 'TESTING_ERR_SERVER_STOPPED'
  /** InfluxDB answered a query with an error or a non-2xx status. */
  | 'TESTING_ERR_QUERY_FAILED'
  /** `waitUntil()` ran out of time before its predicate held. */
  | 'TESTING_ERR_WAIT_TIMEOUT'
  /** The PostgreSQL server the tests use cannot be reached. */
  | 'TESTING_ERR_POSTGRES_UNAVAILABLE';

/** An error raised by the test harness; `code` is stable, `message` is for humans. */
export class HarnessError extends Error {
  override readonly name = 'HarnessError';
  readonly code: HarnessErrorCode;

  constructor(code: HarnessErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** The one command that installs every binary the harness needs, quoted in error messages. */
export const INSTALL_COMMAND = 'sudo apt-get install -y influxdb mosquitto haproxy';
