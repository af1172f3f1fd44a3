import { mkdirSync, readdirSync, statSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { open, readFile, rm, truncate } from 'node:fs/promises';
import { join } from 'node:path';

export interface SpoolOptions {
  readonly dir: string;
  /** Appends wait (backpressure) while the spool holds this many bytes. */
  readonly maxBytes: number;
  /**
   * `batch`: every group of appends is fdatasync'ed before it resolves, so acked data survives a
   * power cut. `none`: data reaches the OS page cache only, which survives a crash of the gateway
   * process but not of the machine.
   */
  readonly fsync: 'batch' | 'none';
  /** A segment is closed and a new one started past this size. */
  readonly segmentBytes?: number;
}

interface Segment {
  readonly id: number;
  bytes: number;
  records: number;
}

interface PendingAppend {
  readonly text: string;
  readonly records: number;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

const SEGMENT_SUFFIX = '.lp';
const segmentName = (id: number) => `${String(id).padStart(12, '0')}${SEGMENT_SUFFIX}`;

function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * An append-only, segmented on-disk queue of line-protocol lines.
 *
 * Appends made while a write is under way are grouped into the next write and share one fsync
 * (group commit), so durability costs one disk flush per batch, not per frame. Segments are
 * read and removed whole by the replayer, oldest first; InfluxDB writes are idempotent, so a
 * segment replayed twice after a crash stores nothing twice.
 */
export class Spool {
  readonly #options: Required<SpoolOptions>;
  readonly #segments: Segment[] = [];
  #handle: FileHandle | undefined;
  #queue: PendingAppend[] = [];
  #writing = false;
  #closed = false;
  #closing = false;
  /** Serialises writes and sealing, so no append lands in a segment being replayed. */
  #lock: Promise<unknown> = Promise.resolve();
  #idleWaiters: Array<() => void> = [];
  #bytes = 0;
  #records = 0;
  #spaceWaiters: Array<() => void> = [];
  #dataWaiters: Array<() => void> = [];

  constructor(options: SpoolOptions) {
    this.#options = { segmentBytes: 16 * 1024 * 1024, ...options };
  }

  get bytes(): number {
    return this.#bytes;
  }
  get records(): number {
    return this.#records;
  }
  /** True while appends are queued or being written. */
  get busy(): boolean {
    return this.#writing || this.#queue.length > 0;
  }
  get full(): boolean {
    return this.#bytes >= this.#options.maxBytes;
  }

  /** Finds the segments a previous run left behind; cuts a torn last line off the newest one. */
  async open(): Promise<void> {
    mkdirSync(this.#options.dir, { recursive: true });
    const ids = readdirSync(this.#options.dir)
      .filter((n) => /^\d{12}\.lp$/.test(n))
      .map((n) => Number.parseInt(n, 10))
      .sort((a, b) => a - b);
    for (const id of ids) {
      const path = join(this.#options.dir, segmentName(id));
      const text = await readFile(path, 'utf8');
      let keep = text.length;
      if (text.length > 0 && !text.endsWith('\n')) {
        // A crash in the middle of a write leaves a partial line; its frame was never acked,
        // so the device still holds it and will resend it.
        keep = text.lastIndexOf('\n') + 1;
        await truncate(path, Buffer.byteLength(text.slice(0, keep)));
      }
      const bytes = statSync(path).size;
      if (bytes === 0) {
        await rm(path, { force: true });
        continue;
      }
      const records = countLines(text.slice(0, keep));
      this.#segments.push({ id, bytes, records });
      this.#bytes += bytes;
      this.#records += records;
    }
  }

  /** Resolves once the lines are on disk (and fsync'ed under the `batch` policy). */
  append(lines: readonly string[]): Promise<void> {
    return this.appendText(lines.join('\n'), lines.length);
  }

  /** {@link append} for `records` lines already joined by newlines. */
  appendText(text: string, records: number): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('the spool is closed'));
    if (records === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ text: `${text}\n`, records, resolve, reject });
      if (!this.#writing) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0) {
        while (this.full && !this.#closing) {
          await new Promise<void>((r) => this.#spaceWaiters.push(r));
        }
        const batch = this.#queue;
        this.#queue = [];
        if (this.full) {
          // Shutting down with a full spool: these frames were never acked, so their devices
          // still hold them and resend them to the next gateway.
          const err = new Error('the spool is full and the gateway is shutting down');
          for (const p of batch) p.reject(err);
          continue;
        }
        const text = batch.map((p) => p.text).join('');
        const records = batch.reduce((n, p) => n + p.records, 0);
        try {
          await this.#exclusive(() => this.#write(text, records));
          for (const p of batch) p.resolve();
        } catch (err) {
          for (const p of batch) p.reject(err as Error);
        }
      }
    } finally {
      this.#writing = false;
      for (const wake of this.#idleWaiters.splice(0)) wake();
    }
  }

  #exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(work, work);
    this.#lock = run.catch(() => undefined);
    return run;
  }

  async #write(text: string, records: number): Promise<void> {
    let current = this.#segments.at(-1);
    if (!this.#handle || !current || current.bytes >= this.#options.segmentBytes) {
      await this.#handle?.close();
      const id = (current?.id ?? 0) + 1;
      this.#handle = await open(join(this.#options.dir, segmentName(id)), 'a');
      current = { id, bytes: 0, records: 0 };
      this.#segments.push(current);
    }
    const buffer = Buffer.from(text);
    await this.#handle.write(buffer);
    if (this.#options.fsync === 'batch') await this.#handle.datasync();
    current.bytes += buffer.length;
    current.records += records;
    this.#bytes += buffer.length;
    this.#records += records;
    for (const wake of this.#dataWaiters.splice(0)) wake();
  }

  /**
   * The oldest segment's lines, for the replayer. The segment being appended to is sealed first,
   * so that it can be removed once replayed. Returns undefined when the spool is empty.
   */
  async takeOldest(): Promise<{ id: number; lines: string[] } | undefined> {
    const oldest = this.#segments[0];
    if (!oldest) return undefined;
    if (this.#segments.length === 1 && this.#handle) {
      // Seal the segment being appended to; the next append starts a new one. Appends waiting
      // for space do not hold the lock, so a full spool can always be drained.
      await this.#exclusive(async () => {
        if (this.#segments.length === 1 && this.#handle) {
          await this.#handle.close();
          this.#handle = undefined;
        }
      });
    }
    const text = await readFile(join(this.#options.dir, segmentName(oldest.id)), 'utf8');
    const lines = text.split('\n');
    lines.pop();
    return { id: oldest.id, lines };
  }

  /** Removes a segment whose lines all reached InfluxDB. */
  async remove(id: number): Promise<void> {
    const index = this.#segments.findIndex((s) => s.id === id);
    if (index === -1) return;
    const [segment] = this.#segments.splice(index, 1) as [Segment];
    await rm(join(this.#options.dir, segmentName(id)), { force: true });
    this.#bytes -= segment.bytes;
    this.#records -= segment.records;
    if (!this.full) for (const wake of this.#spaceWaiters.splice(0)) wake();
  }

  /** Resolves when the spool holds data (at once if it already does). */
  waitForData(): Promise<void> {
    if (this.#segments.length > 0 || this.#closed) return Promise.resolve();
    return new Promise((r) => this.#dataWaiters.push(r));
  }

  /**
   * Resolves once every append made so far is on disk. While the spool is full that waits for
   * the replayer to make room; callers that cannot wait bound it themselves.
   */
  flush(): Promise<void> {
    if (!this.#writing && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    this.#closing = true;
    for (const wake of this.#spaceWaiters.splice(0)) wake();
    await this.flush();
    this.#closed = true;
    for (const wake of this.#spaceWaiters.splice(0)) wake();
    for (const wake of this.#dataWaiters.splice(0)) wake();
    await this.#handle?.close();
    this.#handle = undefined;
  }
}
