import { parseArgs } from 'node:util';
import type { SoakOptions } from './run-soak.ts';

export const SOAK_USAGE = `Usage: npm run soak [-- options]

The whole stack for a bounded time under real faults: InfluxDB killed and restarted, Mosquitto
restarted, the gateway killed with SIGKILL and restarted on its DATA_DIR, while a simulated fleet
(every built-in type, 1-5 readings/s, 5 % invalid, disconnects, zombies, churn), operators'
commands, fleet commands and a per-second schedule run. Then checked against what the devices
saw: every acked reading in InfluxDB exactly once, no command delivered twice or stuck in sent,
retained statuses matching the gateway, memory flat, acks prompt in every phase.
Exit code 0 when every check passes, 1 when one fails, 2 on a usage error.

Options
  --minutes N          length of the fleet's run                                  [10]
  --devices N          simulated devices                                          [2000]
  --rounds N           rounds of faults (each: InfluxDB kill, Mosquitto restart,
                       gateway SIGKILL)                                           [2]
  --short              1 minute, 200 devices, one round (what npm test runs)
  --seed N             seed for the fleet and the operators' choices              [1]
  --steady-p99-ms MS   ack p99 allowed in a healthy phase                         [1000]
  --fault-p99-ms MS    ack p99 allowed while a fault is going on                  [5000]
  --rss-tolerance X    allowed RSS growth from after warm-up to the end           [0.10]
  --json               print the result as JSON on stdout
  --no-write           do not write bench/results/ or BENCHMARKS.md
  -h, --help           this text

Needs influxd and mosquitto on PATH (see the README's test install line). A 10-minute run takes
about 12 minutes with its checks.
`;

export interface SoakCli extends SoakOptions {
  readonly json: boolean;
  readonly write: boolean;
  readonly short: boolean;
}

/** Parses argv; throws with every problem listed. */
export function parseSoakArgs(argv: readonly string[]): SoakCli | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      minutes: { type: 'string' },
      devices: { type: 'string' },
      rounds: { type: 'string' },
      short: { type: 'boolean' },
      seed: { type: 'string' },
      'steady-p99-ms': { type: 'string' },
      'fault-p99-ms': { type: 'string' },
      'rss-tolerance': { type: 'string' },
      json: { type: 'boolean' },
      'no-write': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const problems: string[] = [];
  const number = (flag: keyof typeof values, fallback: number, min: number, max: number) => {
    const text = values[flag];
    if (text === undefined) return fallback;
    const n = typeof text === 'string' && /^\d+(\.\d+)?$/.test(text) ? Number(text) : Number.NaN;
    if (!(n >= min && n <= max))
      problems.push(`--${flag} ${String(text)}: expected ${min} .. ${max}`);
    return n;
  };
  const short = values.short === true;
  const options: SoakCli = {
    minutes: number('minutes', short ? 1 : 10, 0.5, 24 * 60),
    devices: number('devices', short ? 200 : 2000, 10, 18_000),
    rounds: number('rounds', short ? 1 : 2, 1, 20),
    seed: number('seed', 1, 0, 2 ** 32 - 1),
    steadyP99Ms: number('steady-p99-ms', 1000, 1, 600_000),
    faultP99Ms: number('fault-p99-ms', 5000, 1, 600_000),
    rssTolerance: number('rss-tolerance', 0.1, 0, 10),
    json: values.json === true,
    write: values['no-write'] !== true && !short,
    short,
  };
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return options;
}
