import type {
  DurabilityListener,
  SinkState,
  TelemetrySink,
} from '../../src/sink/telemetry-sink.ts';

/**
 * A sink whose writes stay pending until the test opens the gate, to prove that acks wait for
 * durability. It records every line it was given.
 */
export class GatedSink implements TelemetrySink {
  readonly lines: string[] = [];
  #open = false;
  #pending: Array<{ lines: readonly string[]; resolve: () => void; reject: (e: Error) => void }> =
    [];
  failWith: Error | undefined;

  /** Pending writes of telemetry frames (status points also pass through the sink). */
  get pendingWrites(): number {
    return this.#pending.filter((p) => p.lines[0]?.startsWith('telemetry,')).length;
  }

  append(text: string, _lines: number, listener: DurabilityListener, ticket: number): void {
    // Settled a microtask later at the soonest, as a real sink would: never from within append.
    this.write(text.split('\n')).then(
      () => listener.durable(ticket),
      (err: Error) => listener.failed(ticket, err),
    );
  }

  write(lines: readonly string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const entry = { lines, resolve, reject };
      if (this.#open) this.#settle(entry);
      else this.#pending.push(entry);
    });
  }

  #settle(entry: { lines: readonly string[]; resolve: () => void; reject: (e: Error) => void }) {
    if (this.failWith) return entry.reject(this.failWith);
    this.lines.push(...entry.lines);
    entry.resolve();
  }

  /** Settles every pending write and all later ones. */
  open(): void {
    this.#open = true;
    for (const entry of this.#pending.splice(0)) this.#settle(entry);
  }

  /** Settles the pending writes only; later writes wait again. */
  release(): void {
    for (const entry of this.#pending.splice(0)) this.#settle(entry);
  }

  /** Makes later writes wait again. */
  shut(): void {
    this.#open = false;
  }

  async close(): Promise<void> {
    this.release();
  }

  async flush(): Promise<void> {
    this.release();
  }

  describe(): SinkState {
    return { kind: 'gated', ready: true, influx: 'disabled', spoolBytes: 0, spoolRecords: 0 };
  }
}
