import { LatencyHistogram } from './latency-histogram.ts';
import type { StatsSnapshot, Tally } from './sim-stats.ts';

/** The summary a run prints at exit (`--json` prints exactly this object). */
export interface Summary {
  readonly gateway: string;
  readonly devices: number;
  readonly processes: number;
  readonly durationS: number;
  readonly sent: number;
  readonly acked: number;
  /** Readings still unacked when the run ended. */
  readonly unacked: number;
  readonly rejected: Tally;
  readonly frameErrors: Tally;
  readonly sentPerSec: number;
  readonly ackedPerSec: number;
  readonly ackLatencyMs: {
    readonly p50: number | null;
    readonly p90: number | null;
    readonly p99: number | null;
    readonly max: number | null;
  };
  readonly sessions: number;
  readonly disconnects: Tally;
  readonly connectFailures: Tally;
  /** Devices that stopped because the gateway ended their session for good, by reason. */
  readonly gaveUp: Tally;
  readonly commands: StatsSnapshot['commands'];
  readonly chaos: StatsSnapshot['chaos'];
}

const ms = (v: number | undefined) => (v === undefined ? null : Math.round(v * 10) / 10);

export function summarize(
  snapshot: StatsSnapshot,
  meta: { gateway: string; processes: number; durationS: number },
): Summary {
  const latency = LatencyHistogram.from([snapshot.latency]);
  const seconds = Math.max(meta.durationS, 0.001);
  return {
    gateway: meta.gateway,
    devices: snapshot.devices,
    processes: meta.processes,
    durationS: Math.round(meta.durationS * 10) / 10,
    sent: snapshot.sent,
    acked: snapshot.acked,
    unacked: snapshot.unacked + snapshot.buffered,
    rejected: snapshot.rejected,
    frameErrors: snapshot.frameErrors,
    sentPerSec: Math.round(snapshot.sent / seconds),
    ackedPerSec: Math.round(snapshot.acked / seconds),
    ackLatencyMs: {
      p50: ms(latency.percentileMs(50)),
      p90: ms(latency.percentileMs(90)),
      p99: ms(latency.percentileMs(99)),
      max: latency.count > 0 ? ms(latency.max / 1000) : null,
    },
    sessions: snapshot.sessions,
    disconnects: snapshot.disconnects,
    connectFailures: snapshot.connectFailures,
    gaveUp: snapshot.gaveUp,
    commands: snapshot.commands,
    chaos: snapshot.chaos,
  };
}

function tally(t: Tally): string {
  const entries = Object.entries(t).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? 'none' : entries.map(([k, n]) => `${k}=${n}`).join(' ');
}

const int = (n: number) => n.toLocaleString('en-US');

/** The summary for people (stderr). */
export function formatSummary(s: Summary): string {
  const l = s.ackLatencyMs;
  const lines = [
    `Summary: ${int(s.devices)} devices in ${s.processes} process${s.processes === 1 ? '' : 'es'} against ${s.gateway}, ${s.durationS} s`,
    `  readings  sent ${int(s.sent)} (${int(s.sentPerSec)}/s), acked ${int(s.acked)} (${int(s.ackedPerSec)}/s), unacked ${int(s.unacked)}`,
    `  rejected  ${tally(s.rejected)}`,
    `  ack latency  p50 ${l.p50 ?? '-'} ms, p90 ${l.p90 ?? '-'} ms, p99 ${l.p99 ?? '-'} ms, max ${l.max ?? '-'} ms`,
    `  sessions  ${int(s.sessions)} opened; ended: ${tally(s.disconnects)}; failed attempts: ${tally(s.connectFailures)}`,
    ...(Object.keys(s.gaveUp).length > 0
      ? [
          `  stopped   ${int(Object.values(s.gaveUp).reduce((a, b) => a + b, 0))} devices gave up: ${tally(s.gaveUp)}`,
        ]
      : []),
    `  commands  received ${s.commands.received}, succeeded ${s.commands.succeeded}, failed ${s.commands.failed}`,
  ];
  const c = s.chaos;
  if (c.invalidReadings + c.malformedFrames + c.disconnects + c.zombies + c.churned > 0) {
    lines.push(
      `  chaos     invalid readings ${c.invalidReadings}, malformed frames ${c.malformedFrames} (errors: ${tally(s.frameErrors)}), disconnects ${c.disconnects}, zombies ${c.zombies}, churned ${c.churned}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** One status line from two snapshots `elapsedMs` apart. */
export function formatStatus(
  now: StatsSnapshot,
  before: StatsSnapshot | undefined,
  elapsedMs: number,
  sinceStartS: number,
): string {
  const perSec = (a: number, b: number | undefined) =>
    b === undefined || elapsedMs <= 0 ? 0 : Math.round(((a - b) * 1000) / elapsedMs);
  // Latency of the acks since the previous line, not since the start: a status line should show
  // what is happening now.
  const latency = LatencyHistogram.from([now.latency]);
  if (before) latency.subtract(before.latency);
  const p50 = latency.percentileMs(50);
  const p99 = latency.percentileMs(99);
  const rejected = Object.values(now.rejected).reduce((a, b) => a + b, 0);
  const stopped = Object.values(now.gaveUp).reduce((a, b) => a + b, 0);
  return `[${sinceStartS.toFixed(0)}s] ${[
    `connected ${int(now.connected)}/${int(now.devices)}`,
    // Devices the gateway ended for good (another connection took their session...) send
    // nothing more: say so next to the connected count, with why.
    ...(stopped > 0 ? [`stopped ${int(stopped)} (${tally(now.gaveUp)})`] : []),
    `sent ${int(perSec(now.sent, before?.sent))}/s`,
    `acked ${int(now.acked)} (${int(perSec(now.acked, before?.acked))}/s)`,
    `p50 ${p50 === undefined ? '-' : p50.toFixed(1)} ms p99 ${p99 === undefined ? '-' : p99.toFixed(1)} ms`,
    `buffered ${int(now.buffered)}`,
    // Last: it grows with the codes seen, and a narrow terminal cuts the end of the line.
    `errors ${rejected === 0 && Object.keys(now.frameErrors).length === 0 ? 'none' : tally({ ...now.rejected, ...now.frameErrors })}`,
  ].join(' | ')}`;
}

/** Where status lines go: stderr, a terminal or not. */
export type StatusStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

/**
 * Shows progress on stderr: a line rewritten in place twice a second on a terminal, a new line
 * every `intervalMs` otherwise (logs, CI).
 */
export class StatusReporter {
  readonly #read: () => StatsSnapshot;
  readonly #out: StatusStream;
  readonly #intervalMs: number;
  readonly #startedAt = performance.now();
  #timer: ReturnType<typeof setInterval> | undefined;
  #previous: { snapshot: StatsSnapshot; at: number } | undefined;

  constructor(read: () => StatsSnapshot, out: StatusStream, intervalMs: number) {
    this.#read = read;
    this.#out = out;
    this.#intervalMs = out.isTTY ? 500 : intervalMs;
  }

  start(): void {
    this.#previous = { snapshot: this.#read(), at: performance.now() };
    this.#timer = setInterval(() => this.#print(), this.#intervalMs);
    this.#timer.unref();
  }

  /** Stops and, on a terminal, ends the live line. */
  stop(): void {
    clearInterval(this.#timer);
    if (this.#out.isTTY && this.#previous) this.#out.write('\n');
  }

  /** A message that must not be overwritten by the live line. */
  note(text: string): void {
    this.#out.write(this.#out.isTTY ? `\r\x1b[2K${text}\n` : `${text}\n`);
  }

  #print(): void {
    const now = performance.now();
    const snapshot = this.#read();
    const line = formatStatus(
      snapshot,
      this.#previous?.snapshot,
      now - (this.#previous?.at ?? now),
      (now - this.#startedAt) / 1000,
    );
    this.#previous = { snapshot, at: now };
    if (this.#out.isTTY) {
      const width = this.#out.columns ?? 200;
      this.#out.write(`\r\x1b[2K${line.slice(0, width - 1)}`);
    } else {
      this.#out.write(`${line}\n`);
    }
  }
}
