// The soak's verdicts, as pure functions of what was collected: each returns a check that
// passes or fails with the first few offenders named, so a failed run says where to look.

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  /** The figure the check is about, in words. */
  readonly detail: string;
  /** A few of the offending devices, commands or phases. */
  readonly examples?: readonly string[];
}

const EXAMPLES = 5;

/** Per device: the acked readings' times and the times stored in InfluxDB. */
export interface StorageAudit {
  readonly device: string;
  readonly acked: readonly number[];
  readonly stored: readonly number[];
}

/**
 * Every acked reading is stored exactly once: its time is in InfluxDB once (a device's series
 * holds one point per time, so a second copy would have to sit at another time, and those are
 * counted as extras). Extras are readings stored that the device never saw acked; at most
 * `unackedAtExit` of those may exist (sent, made durable, the ack lost when the run ended).
 */
export function checkStorage(audits: readonly StorageAudit[], unackedAtExit: number): Check[] {
  let acked = 0;
  let missing = 0;
  let duplicated = 0;
  let extra = 0;
  const missingAt: string[] = [];
  const duplicatedAt: string[] = [];
  for (const { device, acked: times, stored } of audits) {
    acked += times.length;
    const counts = new Map<number, number>();
    for (const t of stored) counts.set(t, (counts.get(t) ?? 0) + 1);
    const ackedSet = new Set(times);
    for (const t of times) {
      const n = counts.get(t) ?? 0;
      if (n === 0) {
        missing++;
        if (missingAt.length < EXAMPLES) missingAt.push(`${device}@${new Date(t).toISOString()}`);
      } else if (n > 1) {
        duplicated++;
        if (duplicatedAt.length < EXAMPLES) duplicatedAt.push(`${device}@${t} ×${n}`);
      }
    }
    for (const t of counts.keys()) if (!ackedSet.has(t)) extra++;
  }
  return [
    {
      name: 'every acked reading is in InfluxDB',
      ok: missing === 0 && acked > 0,
      detail: `${acked} acked, ${missing} missing`,
      ...(missingAt.length ? { examples: missingAt } : {}),
    },
    {
      name: 'no acked reading is stored twice',
      ok: duplicated === 0,
      detail: `${duplicated} stored more than once`,
      ...(duplicatedAt.length ? { examples: duplicatedAt } : {}),
    },
    {
      name: 'nothing is stored that was not sent',
      ok: extra <= unackedAtExit,
      detail: `${extra} stored without an ack seen, ${unackedAtExit} readings unacked at exit`,
    },
  ];
}

/** A command as the API shows it at the end. */
export interface CommandRecord {
  readonly id: string;
  readonly deviceId: string;
  readonly state: string;
  readonly timeoutMs: number;
  readonly sentAt?: string;
}

/**
 * No command reached a device twice (the devices' own count), none is still `sent` longer than
 * its timeout plus `graceMs` (the deadline sweep's period), and every command the API says the
 * device answered was delivered to it.
 */
export function checkCommands(
  records: readonly CommandRecord[],
  delivered: ReadonlyMap<string, readonly string[]>,
  now: number,
  graceMs: number,
): Check[] {
  const twice: string[] = [];
  let deliveries = 0;
  for (const [device, ids] of delivered) {
    deliveries += ids.length;
    const seen = new Set<string>();
    for (const id of ids) {
      if (seen.has(id)) twice.push(`${id} to ${device}`);
      seen.add(id);
    }
  }
  const stuck: string[] = [];
  const answeredUnseen: string[] = [];
  const states: Record<string, number> = {};
  for (const c of records) {
    states[c.state] = (states[c.state] ?? 0) + 1;
    if (c.state === 'sent') {
      const sentAt = c.sentAt ? Date.parse(c.sentAt) : Number.NaN;
      if (!(now - sentAt <= c.timeoutMs + graceMs)) stuck.push(`${c.id} (${c.deviceId})`);
    }
    if (c.state === 'succeeded' || c.state === 'failed') {
      if (!delivered.get(c.deviceId)?.includes(c.id))
        answeredUnseen.push(`${c.id} (${c.deviceId})`);
    }
  }
  const byState = Object.entries(states)
    .sort()
    .map(([s, n]) => `${n} ${s}`)
    .join(', ');
  return [
    {
      name: 'no command delivered twice',
      ok: twice.length === 0 && deliveries > 0,
      detail: `${deliveries} deliveries, ${twice.length} repeated`,
      ...(twice.length ? { examples: twice.slice(0, EXAMPLES) } : {}),
    },
    {
      name: 'no command stuck in sent past its timeout',
      ok: stuck.length === 0,
      detail: `${records.length} commands (${byState}); ${stuck.length} stuck`,
      ...(stuck.length ? { examples: stuck.slice(0, EXAMPLES) } : {}),
    },
    {
      name: 'every answered command was delivered',
      ok: answeredUnseen.length === 0,
      detail: `${answeredUnseen.length} answered without a delivery seen`,
      ...(answeredUnseen.length ? { examples: answeredUnseen.slice(0, EXAMPLES) } : {}),
    },
  ];
}

/** A device's status as the retained MQTT message and as the API tell it. */
export interface StatusPair {
  readonly device: string;
  readonly retainedOnline: boolean | undefined;
  readonly apiOnline: boolean;
}

/** The retained status agrees with the gateway's own view (`when` says at which moment). */
export function checkStatuses(pairs: readonly StatusPair[], when: string): Check {
  const wrong = pairs.filter((p) => p.retainedOnline !== p.apiOnline);
  return {
    name: `retained statuses match the gateway (${when})`,
    ok: wrong.length === 0 && pairs.length > 0,
    detail: `${pairs.length} devices, ${wrong.length} differ`,
    ...(wrong.length
      ? {
          examples: wrong
            .slice(0, EXAMPLES)
            .map(
              (p) =>
                `${p.device}: retained ${p.retainedOnline === undefined ? 'none' : p.retainedOnline ? 'online' : 'offline'}, API ${p.apiOnline ? 'online' : 'offline'}`,
            ),
        }
      : {}),
  };
}

function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** RSS samples `[ms since start, bytes]`; the median of each window, so one GC does not decide. */
export function checkRss(
  samples: ReadonlyArray<readonly [number, number]>,
  baseline: readonly [number, number],
  end: readonly [number, number],
  tolerance: number,
): Check & { readonly baselineBytes?: number; readonly endBytes?: number } {
  const inWindow = ([from, to]: readonly [number, number]) =>
    samples.filter(([t]) => t >= from && t <= to).map(([, bytes]) => bytes);
  const a = median(inWindow(baseline));
  const b = median(inWindow(end));
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
  if (a === undefined || b === undefined) {
    return { name: 'gateway memory does not grow', ok: false, detail: 'too few RSS samples' };
  }
  const growth = b / a - 1;
  return {
    name: 'gateway memory does not grow',
    ok: growth <= tolerance,
    detail: `RSS ${mib(a)} after warm-up, ${mib(b)} at the end (${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)} %, limit +${(tolerance * 100).toFixed(0)} %)`,
    baselineBytes: a,
    endBytes: b,
  };
}

/** Ack latency of one phase. */
export interface PhaseLatency {
  readonly name: string;
  readonly faulty: boolean;
  readonly acks: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** Every phase acked readings, within `steadyMs` at p99 when healthy, `faultMs` during a fault. */
export function checkLatency(
  phases: readonly PhaseLatency[],
  steadyMs: number,
  faultMs: number,
): Check {
  const slow = phases.filter((p) => p.acks === 0 || p.p99Ms > (p.faulty ? faultMs : steadyMs));
  return {
    name: 'healthy devices are acked promptly in every phase',
    ok: slow.length === 0 && phases.length > 0,
    detail: `p99 limit ${steadyMs} ms steady, ${faultMs} ms during faults; ${slow.length} of ${phases.length} phases over`,
    ...(slow.length
      ? { examples: slow.map((p) => `${p.name}: ${p.acks} acks, p99 ${p.p99Ms} ms`) }
      : {}),
  };
}
