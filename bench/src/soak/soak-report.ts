import type { MachineInfo } from '../machine.ts';
import type { SoakResult } from './run-soak.ts';

/** The soak's result as Markdown, for the terminal and BENCHMARKS.md. */
export function renderSoak(result: SoakResult): string {
  const { figures: f, options: o } = result;
  const lines: string[] = [];
  lines.push(
    `${o.devices} devices for ${o.minutes} min, ${o.rounds} round${o.rounds === 1 ? '' : 's'} of faults ` +
      `(InfluxDB SIGKILL + restart, Mosquitto restart, gateway SIGKILL + restart on its DATA_DIR).`,
    '',
    '| check | result | |',
    '|---|---|---|',
  );
  for (const c of result.checks) {
    const examples = c.examples?.length ? ` (e.g. ${c.examples.slice(0, 3).join('; ')})` : '';
    lines.push(`| ${c.name} | ${c.ok ? 'pass' : '**FAIL**'} | ${c.detail}${examples} |`);
  }
  lines.push('', '| phase | acks | p50 ms | p99 ms |', '|---|---|---|---|');
  for (const p of result.phases) lines.push(`| ${p.name} | ${p.acks} | ${p.p50Ms} | ${p.p99Ms} |`);
  const r = f.readings;
  const tally = (t: Record<string, number>) =>
    Object.entries(t)
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${n}`)
      .join(', ') || 'none';
  lines.push(
    '',
    `Readings: ${r.sent} sent, ${r.acked} acked, ${r.rejected} rejected (${r.invalidSent} invalid on purpose), ` +
      `${r.unackedAtExit} unacked at exit. Sessions opened: ${f.sessions}; ended: ${tally(f.disconnects)}; ` +
      `failed attempts: ${tally(f.connectFailures)}; devices that gave up: ${tally(f.gaveUp)}.`,
    `Commands: ${f.commands.operator} by operators, ${f.commands.fleet} fleet commands plus the schedule's, ` +
      `${f.commands.delivered} delivered to devices; API calls that failed (gateway down): ${tally(f.commands.apiFailures)}.`,
    `After each gateway SIGKILL, 95 % of the devices were back in ${f.gatewayRestartsToReconnectedS.map((s) => `${s} s`).join(', ') || '(not measured)'}. ` +
      `JS heap used: ${f.heapUsedMiB.afterWarmUp} MiB after warm-up, ${f.heapUsedMiB.end} MiB at the end. ` +
      `Spool peak: ${f.spoolPeakRecords} records; MQTT messages dropped: ${f.mqttDropped}. Audit took ${f.auditSeconds} s.`,
  );
  return `${lines.join('\n')}\n`;
}

export function soakHeader(startedAt: string, command: string, m: MachineInfo): string {
  return (
    `Run ${startedAt} with \`${command}\`. Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ` +
    `Linux ${m.kernel}; the fleet, influxd, mosquitto and the gateway share it.`
  );
}
