import { appendFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { OutboxStore, StoredItem } from './outbox-store.ts';

type Record_ = { add: StoredItem } | { del: number[] };

/**
 * Persists the offline buffer to a JSON Lines file (Node only): `{"add":item}` when a reading is
 * buffered, `{"del":[ids]}` when it is acked. Writes are batched per event-loop turn and
 * appended; the file is rewritten with only the live items when dead lines outnumber them. A
 * crash loses at most the readings of the last turn, and a torn last line is skipped on load.
 * Readings that were written but not yet marked acked are resent after a restart, which the
 * gateway's idempotent writes absorb.
 */
export class FileOutboxStore implements OutboxStore {
  readonly path: string;
  readonly #live = new Map<number, string>();
  #pending: string[] = [];
  #dead = 0;
  #flushing: Promise<void> = Promise.resolve();
  #scheduled = false;
  #closed = false;
  #error: Error | undefined;
  #dirReady: Promise<unknown> | undefined;

  constructor(path: string) {
    this.path = path;
  }

  async load(): Promise<StoredItem[]> {
    let text = '';
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const items = new Map<number, StoredItem>();
    for (const line of text.split('\n')) {
      if (line === '') continue;
      let record: Record_;
      try {
        record = JSON.parse(line) as Record_;
      } catch {
        continue; // a line torn by a crash
      }
      if ('add' in record) items.set(record.add.id, record.add);
      else if (Array.isArray(record.del)) for (const id of record.del) items.delete(id);
    }
    const sorted = [...items.values()].sort((a, b) => a.id - b.id);
    for (const item of sorted) this.#live.set(item.id, JSON.stringify({ add: item }));
    await this.#compact();
    return sorted;
  }

  add(item: StoredItem): void {
    // Serialised now: the caller may reuse its metrics object after sendTelemetry returns.
    const line = JSON.stringify({ add: item });
    this.#live.set(item.id, line);
    this.#write(line);
  }

  remove(ids: readonly number[]): void {
    const gone = ids.filter((id) => this.#live.delete(id));
    if (gone.length === 0) return;
    this.#dead += gone.length + 1;
    this.#write(JSON.stringify({ del: gone }));
  }

  /** Resolves once everything added or removed so far is on disk. */
  flush(): Promise<void> {
    if (this.#pending.length > 0) this.#flush();
    return this.#flushing;
  }

  /** Writes what is pending; rejects with the first write error, if any happened. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    if (this.#error) throw this.#error;
  }

  #write(line: string): void {
    if (this.#closed) return;
    this.#pending.push(line);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    const lines = this.#pending;
    if (lines.length === 0) return;
    this.#pending = [];
    const compact = this.#dead > 1000 && this.#dead > this.#live.size;
    this.#flushing = this.#flushing.then(async () => {
      try {
        if (compact) await this.#compact();
        else {
          this.#dirReady ??= mkdir(dirname(this.path), { recursive: true });
          await this.#dirReady;
          await appendFile(this.path, `${lines.join('\n')}\n`);
        }
      } catch (error) {
        // Kept, not thrown: the buffer in memory still works; close() reports it.
        this.#error ??= error as Error;
      }
    });
  }

  /** Rewrites the file with the live items only (written to a temporary file, then renamed). */
  async #compact(): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp`;
    const body = [...this.#live.values()].join('\n');
    await writeFile(tmp, body === '' ? '' : `${body}\n`);
    await rename(tmp, this.path);
    this.#dead = 0;
  }
}
