export const SCENARIOS = ['throughput', 'commands', 'sessions', 'liveness', 'reconnect'] as const;
/** Scenarios that run only when named: they measure robustness, not speed. */
export const EXTRA_SCENARIOS = ['abuse', 'cluster'] as const;
export type Scenario = (typeof SCENARIOS)[number] | (typeof EXTRA_SCENARIOS)[number];

/** How the load is shaped: devices streaming at once, each with at most `window` unacked frames. */
export interface LoadShape {
  readonly devices: number;
  readonly window: number;
}

export interface ThroughputOptions {
  /**
   * Every server is measured at each shape and reported at its best: a server that needs many
   * frames in flight (the gateway waits for InfluxDB before it acks) and one that slows down
   * with many sockets (Socket.IO) would each be misjudged at one shape alone.
   */
  readonly shapes: readonly LoadShape[];
  readonly clients: number;
  readonly warmupS: number;
  readonly durationS: number;
}

export interface BenchOptions {
  readonly scenarios: ReadonlySet<Scenario>;
  readonly quick: boolean;
  /** Run the servers under `--cpu-prof` and summarise the profiles (slows them down). */
  readonly profile: boolean;
  /** Rewrite the results section of BENCHMARKS.md (full runs of every scenario only). */
  readonly writeMarkdown: boolean;
  readonly throughput: ThroughputOptions;
  readonly commands: { readonly count: number; readonly warmup: number; readonly devices: number };
  readonly sessions: {
    readonly count: number;
    readonly clients: number;
    readonly heartbeatIntervalMs: number;
    readonly heartbeatTimeoutMs: number;
    readonly holdMs: number;
  };
  readonly abuse: {
    readonly healthy: number;
    readonly ratePerDevice: number;
    readonly phaseS: number;
    readonly flooders: number;
    readonly floodFrames: number;
    readonly nonReaders: number;
    readonly upgradesPerSec: number;
    readonly slowloris: number;
  };
  /** Several instances (`cluster`); it reuses `commands` and the largest `throughput` shape. */
  readonly cluster: { readonly handshakes: number };
  readonly liveness: {
    readonly zombies: number;
    readonly healthy: number;
    readonly heartbeatIntervalMs: number;
    readonly heartbeatTimeoutMs: number;
  };
  /** Every device reconnecting at once after its server restarts. */
  readonly reconnect: {
    readonly devices: number;
    /** Client processes, one loopback address each (~5,000 sockets per process). */
    readonly clients: number;
    /** A device retries after a random delay of at most this, and no other backoff. */
    readonly jitterMs: number;
    /** Attempts per device before it gives up (which fails the scenario). */
    readonly maxAttempts: number;
    /** How long after the restart every device must be back, or the scenario fails. */
    readonly deadlineMs: number;
  };
}

export const USAGE = `Usage: npm run bench [-- <scenario>...] [--quick] [--profile] [--<setting>=<value>...]

Scenarios (default: all, in this order):
  throughput  (a) raw ws sink, (b) Socket.IO 4, (c) the gateway's full pipeline, side by side
  commands    command round trip idle and with (c) at half its maximum (runs (c) to find it)
  sessions    most authenticated sessions with heartbeats, RSS per session, vs a raw ws server
  liveness    zombie devices: time from their last sign of life to offline
  reconnect   every device reconnecting at once after a restart: the gateway (each device with
              a queued command) against a raw ws server
  abuse       (only when named) a healthy fleet alone, then beside (a) a malformed-frame flood,
              (b) devices that never read, (c) unauthenticated upgrades, (d) slowloris;
              writes its own section of BENCHMARKS.md
  cluster     (only when named; needs PostgreSQL) two instances on one PostgreSQL against one:
              command round trip across instances, frames/s and CPU per frame, handshakes/s;
              writes its own section of BENCHMARKS.md

Flags:
  --quick            smoke run: small numbers, about a minute
  --profile          run the servers under --cpu-prof and print their top self-time functions
  --no-md            do not touch BENCHMARKS.md
  --devices=N[,N...] --window=N --clients=N --warmup=S --duration=S    throughput load
                     (default: 40 and 200 devices, window 16; each server reported at its best)
  --sessions=N --session-clients=N --commands=N --command-warmup=N --zombies=N     other sizes
  --storm=N          devices in the reconnect storm (default 19000, quick 2000)
  --phase=S          seconds per abuse phase (default 20)
  --handshakes=N     devices connecting in the cluster scenario (default 1000)
`;

function listFlag(flags: Map<string, string>, name: string, fallback: number[]): number[] {
  const raw = flags.get(name);
  if (raw === undefined) return fallback;
  return raw.split(',').map((part) => {
    const value = Number(part);
    if (!Number.isInteger(value) || value <= 0) {
      throw new Error(`--${name} takes positive integers, comma-separated`);
    }
    return value;
  });
}

function numberFlag(flags: Map<string, string>, name: string, fallback: number): number {
  const raw = flags.get(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

/** Reads the command line; throws with a message naming the problem. */
export function parseOptions(argv: readonly string[]): BenchOptions {
  const flags = new Map<string, string>();
  const scenarios = new Set<Scenario>();
  for (const arg of argv) {
    if (arg.startsWith('--')) {
      const [name, value] = arg.slice(2).split('=', 2) as [string, string | undefined];
      flags.set(name, value ?? 'true');
    } else if (arg === 'all') {
      for (const s of SCENARIOS) scenarios.add(s);
    } else if (([...SCENARIOS, ...EXTRA_SCENARIOS] as readonly string[]).includes(arg)) {
      scenarios.add(arg as Scenario);
    } else {
      throw new Error(`unknown scenario "${arg}"`);
    }
  }
  const known = new Set([
    'quick',
    'profile',
    'no-md',
    'help',
    'devices',
    'window',
    'clients',
    'warmup',
    'duration',
    'sessions',
    'session-clients',
    'commands',
    'command-warmup',
    'zombies',
    'phase',
    'storm',
    'handshakes',
  ]);
  for (const name of flags.keys()) if (!known.has(name)) throw new Error(`unknown flag --${name}`);
  if (scenarios.size === 0) for (const s of SCENARIOS) scenarios.add(s);
  const quick = flags.has('quick');
  const all = SCENARIOS.every((s) => scenarios.has(s));
  const sessions = numberFlag(flags, 'sessions', quick ? 1_000 : 19_000);
  const storm = numberFlag(flags, 'storm', quick ? 2_000 : 19_000);
  return {
    scenarios,
    quick,
    profile: flags.has('profile'),
    writeMarkdown: all && !quick && !flags.has('no-md') && !flags.has('profile'),
    throughput: {
      shapes: listFlag(flags, 'devices', quick ? [40] : [40, 200]).map((devices) => ({
        devices,
        window: numberFlag(flags, 'window', 16),
      })),
      clients: numberFlag(flags, 'clients', 2),
      warmupS: numberFlag(flags, 'warmup', quick ? 1 : 4),
      durationS: numberFlag(flags, 'duration', quick ? 3 : 10),
    },
    commands: {
      // p99 of 2,000 is the 20th slowest, not the 5th of 500. A fresh gateway's command path
      // gets cheaper over its first few thousand round trips (V8 optimizing it: 2.9 -> 1.4 ms of
      // CPU per cross-instance command over 11,000), so the count starts after a warm-up, which
      // is measured and reported too.
      count: numberFlag(flags, 'commands', quick ? 30 : 2_000),
      warmup: numberFlag(flags, 'command-warmup', quick ? 5 : 5_000),
      devices: 8,
    },
    sessions: {
      count: sessions,
      // At most ~19,000 sockets fit in one process (20,000 open files), so clients are spread.
      clients: numberFlag(flags, 'session-clients', Math.max(1, Math.ceil(sessions / 5_000))),
      heartbeatIntervalMs: quick ? 1_000 : 5_000,
      heartbeatTimeoutMs: quick ? 3_000 : 15_000,
      holdMs: quick ? 2_500 : 11_000,
    },
    abuse: {
      healthy: quick ? 50 : 200,
      ratePerDevice: 5,
      phaseS: numberFlag(flags, 'phase', quick ? 5 : 20),
      flooders: 4,
      floodFrames: quick ? 100_000 : 1_000_000,
      nonReaders: quick ? 5 : 20,
      upgradesPerSec: quick ? 500 : 2_000,
      slowloris: quick ? 500 : 2_000,
    },
    cluster: { handshakes: numberFlag(flags, 'handshakes', quick ? 200 : 1_000) },
    reconnect: {
      devices: storm,
      clients: Math.max(1, Math.ceil(storm / 5_000)),
      jitterMs: 1_000,
      maxAttempts: 1_000,
      deadlineMs: quick ? 60_000 : 120_000,
    },
    liveness: {
      zombies: numberFlag(flags, 'zombies', quick ? 100 : 1_000),
      healthy: quick ? 20 : 200,
      heartbeatIntervalMs: 1_000,
      heartbeatTimeoutMs: 3_000,
    },
  };
}
