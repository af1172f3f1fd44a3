/** Options of {@link TestServer.stop}. */
export interface StopOptions {
  /**
   * Keep the data directory so {@link TestServer.restart} can bring the server back with its
   * data, as after an outage. Without it the stop is final.
   * @defaultValue false
   */
  keepData?: boolean;
}

/** A server process started by the harness on free ports with a temporary data directory. */
export interface TestServer {
  /** Where clients connect, e.g. `http://127.0.0.1:41234` or `mqtt://127.0.0.1:41235`. */
  readonly url: string;
  /** The client port; kept across {@link TestServer.restart}. */
  readonly port: number;
  /** Temporary directory holding the config, the data and `server.log`. */
  readonly dataDir: string;
  /** The server's stdout and stderr, appended across restarts; read it when a test fails. */
  readonly logFile: string;
  /** Whether the process is up (it may still be starting during a restart). */
  readonly running: boolean;
  /** The process id while it runs. */
  readonly pid: number | undefined;
  /**
   * Shuts the server down with SIGTERM, escalating to SIGKILL after `stopTimeoutMs`, and
   * resolves once it has exited. Unless `keepData` is set, then removes the data directory;
   * that stop is final. Safe to call more than once.
   */
  stop(options?: StopOptions): Promise<void>;
  /**
   * Kills the server with SIGKILL, as in a crash, and resolves once it has exited. Keeps the
   * data directory, so {@link TestServer.restart} shows what survived.
   */
  kill(): Promise<void>;
  /**
   * Stops the server gracefully if it is running, then starts it again on the same port and
   * data directory and resolves once it is ready.
   *
   * @throws {@link HarnessError} `TESTING_ERR_SERVER_STOPPED` after a final `stop()`.
   */
  restart(): Promise<void>;
}
