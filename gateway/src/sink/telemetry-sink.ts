/**
 * Where accepted frames go. `write` resolves only once the lines are durable (in InfluxDB or in
 * the on-disk spool), which is what lets the session ack the frame.
 */
/**
 * Told when lines handed to {@link TelemetrySink.append} are durable, or why they are not. One
 * object serves every frame of a session, told apart by `ticket`: no closures per frame.
 */
export interface DurabilityListener {
  durable(ticket: number): void;
  /** A {@link PointsRejectedError} when the database refused the lines for good. */
  failed(ticket: number, err: Error): void;
}

export interface TelemetrySink {
  /**
   * Makes `lines` lines (joined by newlines in `text`) durable, then tells `listener` with
   * `ticket`. The per-frame path: {@link write} wraps it in a promise.
   */
  append(text: string, lines: number, listener: DurabilityListener, ticket: number): void;
  /**
   * Makes one frame's lines durable. Rejects with a {@link PointsRejectedError} when the database
   * refuses these lines for good (say a field type conflict); other lines are unaffected.
   * May take long while the spool is full: that is the backpressure devices feel.
   */
  write(lines: readonly string[]): Promise<void>;
  /** Resolves when everything written so far is durable. */
  flush(): Promise<void>;
  /** Flushes, then releases files and connections. */
  close(): Promise<void>;
  /** A short description for the start message and /readyz. */
  describe(): SinkState;
}

export interface SinkState {
  readonly kind: string;
  readonly ready: boolean;
  readonly influx: 'connected' | 'unreachable' | 'disabled';
  readonly spoolBytes: number;
  readonly spoolRecords: number;
  readonly detail?: string;
}

/** InfluxDB refused the lines and resending them unchanged will not help. */
export class PointsRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PointsRejectedError';
  }
}
