// When each fault of a soak run happens, as a pure function of the run's length, so the plan can
// be printed before the run and tested without running it.

export type FaultKind =
  | 'influx_kill'
  | 'influx_restart'
  | 'mosquitto_restart'
  | 'gateway_kill'
  | 'rss_baseline';

export interface PlannedStep {
  /** Milliseconds from the start of the fleet's run. */
  readonly atMs: number;
  readonly kind: FaultKind;
}

/** A phase between two steps, named after what the gateway is going through. */
export interface PlannedPhase {
  readonly name: string;
  readonly fromMs: number;
  readonly toMs: number;
  /** A fault's own phase: its ack latency is judged by the looser bound. */
  readonly faulty: boolean;
}

export interface FaultPlan {
  readonly durationMs: number;
  readonly steps: readonly PlannedStep[];
  readonly phases: readonly PlannedPhase[];
  /** RSS is compared between this window (after the last restart's warm-up) and the run's end. */
  readonly rssBaselineMs: readonly [from: number, to: number];
  readonly rssEndMs: readonly [from: number, to: number];
}

/**
 * Each round: InfluxDB killed and, a while later, restarted; Mosquitto restarted; the gateway
 * killed with SIGKILL and restarted on its DATA_DIR. `rounds` of them fill the first ~55 % of
 * the run; the rest is steady, to see recovery finish and memory settle.
 */
export function planFaults(durationMs: number, rounds: number): FaultPlan {
  const warmUp = 0.1 * durationMs;
  const faultSpan = (rounds === 1 ? 0.35 : 0.45) * durationMs;
  const round = faultSpan / rounds;
  const steps: PlannedStep[] = [];
  const phases: PlannedPhase[] = [{ name: 'warm-up', fromMs: 0, toMs: warmUp, faulty: false }];
  for (let r = 0; r < rounds; r++) {
    const t0 = warmUp + r * round;
    const at = (share: number) => Math.round(t0 + share * round);
    const n = rounds > 1 ? ` #${r + 1}` : '';
    steps.push(
      { atMs: at(0.05), kind: 'influx_kill' },
      { atMs: at(0.3), kind: 'influx_restart' },
      { atMs: at(0.5), kind: 'mosquitto_restart' },
      { atMs: at(0.75), kind: 'gateway_kill' },
    );
    // The gateway's restart phase runs until the next round's first fault: devices coming back
    // after a crash are part of it, and the phase in between would be too short to say much.
    const nextRound = r + 1 < rounds ? warmUp + (r + 1) * round + 0.05 * round : warmUp + faultSpan;
    if (r === 0) phases.push({ name: 'steady', fromMs: at(0), toMs: at(0.05), faulty: false });
    phases.push(
      { name: `influxdb down${n}`, fromMs: at(0.05), toMs: at(0.3), faulty: true },
      { name: `influxdb back, replay${n}`, fromMs: at(0.3), toMs: at(0.5), faulty: true },
      { name: `mosquitto restart${n}`, fromMs: at(0.5), toMs: at(0.75), faulty: true },
      {
        name: `gateway killed, restarted${n}`,
        fromMs: at(0.75),
        toMs: Math.round(nextRound),
        faulty: true,
      },
    );
  }
  const lastRestart = warmUp + faultSpan;
  const settle = 0.1 * durationMs;
  phases.push({ name: 'final steady', fromMs: lastRestart, toMs: durationMs, faulty: false });
  const baselineFrom = lastRestart + settle;
  steps.push({ atMs: Math.round(baselineFrom), kind: 'rss_baseline' });
  steps.sort((a, b) => a.atMs - b.atMs);
  return {
    durationMs,
    steps,
    phases: phases.filter((p) => p.toMs > p.fromMs),
    rssBaselineMs: [Math.round(baselineFrom), Math.round(baselineFrom + settle)],
    rssEndMs: [Math.round(durationMs - settle), durationMs],
  };
}
