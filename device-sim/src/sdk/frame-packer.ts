import type { Outbox, OutboxEntry } from './outbox.ts';

/** Bounds of one frame, from the client's options and the gateway's `hello.limits`. */
export interface PackLimits {
  /** Most readings in one telemetry frame. */
  readonly maxBatch: number;
  /** Largest frame in UTF-8 bytes. */
  readonly maxFrameBytes: number;
}

/** A frame ready to send. */
export interface PackedFrame {
  readonly text: string;
  readonly entries: OutboxEntry[];
}

// `{"type":"telemetry","seq":` + up to 16 digits + `,"readings":[` + `]}`: 50 bytes, rounded up.
const BATCH_OVERHEAD = 64;

/** Bytes a reading takes inside a batch: its braces and the separating comma. */
function inBatch(entry: OutboxEntry): number {
  return entry.bytes + 3;
}

/**
 * Builds the next frame from the head of the queue: an event alone, one reading in the single
 * form, or as many consecutive readings as fit `limits` as a batch. Returns `undefined` when the
 * queue is empty. The caller has already discarded entries too large for any frame.
 */
export function packFrame(
  outbox: Outbox,
  seq: number,
  limits: PackLimits,
): PackedFrame | undefined {
  const first = outbox.peek();
  if (first === undefined) return undefined;
  if (first.item.kind === 'event') {
    return { text: `{"type":"event","seq":${seq},${first.body}}`, entries: outbox.take(1) };
  }
  let count = 1;
  let bytes = BATCH_OVERHEAD + inBatch(first);
  while (count < limits.maxBatch) {
    const next = outbox.peek(count);
    if (next === undefined || next.item.kind !== 'telemetry') break;
    if (bytes + inBatch(next) > limits.maxFrameBytes) break;
    bytes += inBatch(next);
    count++;
  }
  const entries = outbox.take(count);
  if (count === 1) {
    return { text: `{"type":"telemetry","seq":${seq},${first.body}}`, entries };
  }
  let text = `{"type":"telemetry","seq":${seq},"readings":[`;
  for (let i = 0; i < entries.length; i++) {
    text += i === 0 ? `{${entries[i]!.body}}` : `,{${entries[i]!.body}}`;
  }
  return { text: `${text}]}`, entries };
}

/** Whether an entry can travel at all under `maxFrameBytes`, alone in a frame. */
export function fitsAlone(entry: OutboxEntry, maxFrameBytes: number): boolean {
  return BATCH_OVERHEAD + inBatch(entry) <= maxFrameBytes;
}
