import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProfileSummary } from './cpu-profile.ts';
import type { MachineInfo, Versions } from './machine.ts';
import { table } from './markdown-table.ts';
import type { AbuseResult } from './scenarios/abuse.ts';
import type { ClusterResult } from './scenarios/cluster.ts';
import type { LivenessResult } from './scenarios/liveness.ts';
import type { ReconnectResult, Spread, StormResult } from './scenarios/reconnect.ts';
import type { SessionsResult } from './scenarios/sessions.ts';
import {
  type GatewayChecks,
  type ServerLoadResult,
  sustainedFramesPerSec,
  type ThroughputResult,
} from './scenarios/throughput.ts';

export interface BenchResults {
  readonly startedAt: string;
  readonly durationS: number;
  readonly command: string;
  readonly quick: boolean;
  readonly profiled: boolean;
  readonly machine: MachineInfo;
  readonly versions: Versions;
  readonly throughput?: ThroughputResult;
  readonly sessions?: SessionsResult;
  readonly liveness?: LivenessResult;
  readonly reconnect?: ReconnectResult;
  readonly abuse?: AbuseResult;
  readonly cluster?: ClusterResult;
  readonly targets: readonly TargetCheck[];
  readonly profiles?: readonly ProfileSummary[];
  readonly failures?: readonly string[];
}

export interface TargetCheck {
  readonly target: string;
  readonly measured: string;
  /** undefined: not measured in this run. */
  readonly met: boolean | undefined;
}

const f0 = (n: number) => Math.round(n).toLocaleString('en-US');
const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);

/** The performance targets, checked against one run's numbers. */
export function checkTargets(
  t: ThroughputResult | undefined,
  s: SessionsResult | undefined,
  l: LivenessResult | undefined,
  rc?: ReconnectResult,
): TargetCheck[] {
  const checks: TargetCheck[] = [];
  // Frames/s of a gateway run against a baseline's, counting what got through every stage.
  const versus = (target: string, x: ServerLoadResult, base: ServerLoadResult, factor: number) => {
    const sustained = sustainedFramesPerSec(x);
    const baseline = sustainedFramesPerSec(base);
    const ratio = sustained / baseline;
    const bridge = x.bridge
      ? `; acked ${f0(x.framesPerSec)}, MQTT delivered ${f0(x.bridge.deliveredPerSec)}`
      : '';
    checks.push({
      target,
      measured: `${f2(ratio)} × (${f0(sustained)} vs ${f0(baseline)}${bridge})`,
      met: ratio >= factor,
    });
  };
  if (t?.gatewayQos0 && t.socketio) {
    versus('(c0) frames/s ≥ 1.0 × (b), telemetry at QoS 0', t.gatewayQos0, t.socketio, 1);
  }
  if (t?.gateway && t.socketio) {
    versus('(c) frames/s ≥ 0.6 × (b), telemetry at QoS 1', t.gateway, t.socketio, 0.6);
  }
  if (t?.gateway && t.pipeline) {
    versus('(c) frames/s ≥ 2.0 × (d), both at QoS 1', t.gateway, t.pipeline, 2);
  }
  if (t?.gateway && t.raw) {
    const ratio = t.gateway.serverCpuUsPerFrame / t.raw.serverCpuUsPerFrame;
    const q0 = t.gatewayQos0;
    const qos0 = q0
      ? `; at QoS 0 ${f2(q0.serverCpuUsPerFrame / t.raw.serverCpuUsPerFrame)} × (${f1(q0.serverCpuUsPerFrame)} µs)`
      : '';
    checks.push({
      target: "(c) CPU per frame ≤ 2.0 × (a)'s, telemetry at QoS 1",
      measured: `${f2(ratio)} × (${f1(t.gateway.serverCpuUsPerFrame)} vs ${f1(t.raw.serverCpuUsPerFrame)} µs)${qos0}`,
      met: ratio <= 2,
    });
  }
  if (t?.gatewayChecks) {
    const i = t.gatewayChecks.influx;
    const i0 = t.gatewayQos0Checks?.influx;
    const ib = t.gatewayBatchChecks?.influx;
    checks.push({
      target: 'InfluxDB holds every acked reading',
      measured: `${f0(i.stored)} stored / ${f0(i.acked)} acked${i0 ? `; (c0) ${f0(i0.stored)} / ${f0(i0.acked)}` : ''}${ib ? `; (cb) ${f0(ib.stored)} / ${f0(ib.acked)}` : ''}`,
      met: i.everyAckedStored && (i0?.everyAckedStored ?? true) && (ib?.everyAckedStored ?? true),
    });
    const m = t.gatewayChecks.mqtt;
    checks.push({
      target: 'MQTT bridge (QoS 1) publishes every accepted frame',
      measured: `${f0(m.dropped)} dropped (MQTT_MAX_QUEUE full)`,
      met: m.dropped === 0,
    });
  }
  if (s?.gateway && s.raw) {
    const ratio = s.gateway.rssPerSessionKb / s.raw.rssPerSessionKb;
    checks.push({
      target: '≥ 19,000 sessions per gateway process, with heartbeats',
      measured: `${f0(s.gateway.held)} held of ${f0(s.gateway.target)}`,
      met: s.gateway.held >= 19_000,
    });
    const marginal = s.gateway.marginalRssPerSessionKb / s.raw.marginalRssPerSessionKb;
    checks.push({
      target: 'RSS per session ≤ 1.1 × raw ws',
      measured: `${f2(ratio)} × overall (${f1(s.gateway.rssPerSessionKb)} vs ${f1(s.raw.rssPerSessionKb)} KiB), ${f2(marginal)} × marginal (${f1(s.gateway.marginalRssPerSessionKb)} vs ${f1(s.raw.marginalRssPerSessionKb)} KiB)`,
      met: ratio <= 1.1 && marginal <= 1.1,
    });
    const handshake = s.gateway.serverCpuUsPerHandshake / s.raw.serverCpuUsPerHandshake;
    checks.push({
      target: 'CPU per handshake ≤ 2.0 × raw ws',
      measured: `${f2(handshake)} × (${f0(s.gateway.serverCpuUsPerHandshake)} vs ${f0(s.raw.serverCpuUsPerHandshake)} µs)`,
      met: handshake <= 2,
    });
  }
  const c = t?.commands;
  if (c?.status === 'measured' && c.idle && c.halfLoad) {
    checks.push({
      target: 'command round trip p99 ≤ 5 ms idle',
      measured: `p99 ${f2(c.idle.latency.p99Ms)} ms (p50 ${f2(c.idle.latency.p50Ms)})`,
      met: c.idle.latency.p99Ms <= 5 && c.idle.failures === 0,
    });
    checks.push({
      target: 'command round trip p99 ≤ 50 ms at half load',
      measured: `p99 ${f2(c.halfLoad.latency.p99Ms)} ms (p50 ${f2(c.halfLoad.latency.p50Ms)})`,
      met: c.halfLoad.latency.p99Ms <= 50 && c.halfLoad.failures === 0,
    });
    checks.push({
      target: 'gateway CPU per command ≤ 0.5 ms, idle',
      measured: `${f0(c.idle.gatewayCpuUsPerCommand)} µs`,
      met: c.idle.gatewayCpuUsPerCommand <= 500,
    });
  } else if (c?.status === 'pending') {
    checks.push({
      target: 'command round trips',
      measured: `pending: ${c.pendingReason}`,
      met: undefined,
    });
  }
  if (l) {
    checks.push({
      target: 'every zombie offline within HEARTBEAT_TIMEOUT_MS + 1 s',
      measured: `${f0(l.withinLimit)}/${f0(l.zombies)} within ${f0(l.limitMs)} ms (max ${f0(Math.max(l.closedAfter.maxMs, l.offlineAfter.maxMs))} ms)`,
      met: l.withinLimit === l.zombies && l.healthyClosed === 0,
    });
  }
  if (rc?.gateway && rc.raw) {
    const g = rc.gateway;
    const raw = rc.raw.allOnlineMs;
    const limit = rc.settings.deadlineMs;
    const versusRaw = (ms: number | null, what: string) => {
      if (raw === null) return `the raw ws server's storm did not settle within ${f0(limit)} ms`;
      if (ms === null) {
        return `> ${f2(limit / raw)} × (not settled within ${f0(limit / 1000)} s: ${what}; raw ${f0(raw)} ms)`;
      }
      return `${f2(ms / raw)} × (${f0(ms)} vs ${f0(raw)} ms for ${f0(g.devices)} devices)`;
    };
    checks.push({
      target: 'reconnect storm: every device online ≤ 2 × raw ws',
      measured: versusRaw(
        g.allOnlineMs,
        `${f0(g.onlineAtEnd)} of ${f0(g.devices)} online when stopped`,
      ),
      met: raw !== null && g.allOnlineMs !== null && g.allOnlineMs <= 2 * raw,
    });
    checks.push({
      target: 'reconnect storm: every queued command delivered ≤ 2 × raw ws reconnect',
      measured: versusRaw(
        g.allCommandsMs,
        `${f0(g.commandsDelivered)} of ${f0(g.devices)} delivered in time`,
      ),
      met: raw !== null && g.allCommandsMs !== null && g.allCommandsMs <= 2 * raw,
    });
  }
  return checks;
}

/** The results as Markdown: what `npm run bench` prints and BENCHMARKS.md holds. */
export function renderMarkdown(r: BenchResults): string {
  const out: string[] = [];
  const m = r.machine;
  const v = r.versions;
  out.push(
    `Run ${r.startedAt} (${f0(r.durationS)} s) with \`${r.command}\`${r.quick ? ' (smoke run: small numbers, not for comparison)' : ''}${r.profiled ? ' (servers under --cpu-prof: slower than normal)' : ''}.`,
    '',
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel}, ${m.openFilesLimit} open files per process. ` +
      `Versions: Node ${v.node}, ws ${v.ws}, socket.io ${v.socketIo}, InfluxDB ${v.influxdb}, Mosquitto ${v.mosquitto}, gateway ${v.gatewayCommit}.`,
    '',
  );
  const t = r.throughput;
  if (t && (t.raw || t.gateway)) {
    const s = t.settings;
    const shapes = s.shapes.map((shape) => `${shape.devices} × ${shape.window}`).join(' and ');
    out.push(
      '### Throughput',
      '',
      `Load shapes (devices × unacked frames per device): ${shapes}, over ${s.clients} load processes, one JSON reading per frame; ${s.warmupS} s warm-up, ${s.durationS} s measured per run. Each server is shown at the shape where it did best; for (c) and (d) that is the most frames/s through every stage, acked after InfluxDB and delivered over MQTT (messages the broker acknowledged: for the gateway accepted frames − queue growth − drops, for (d) the PUBACKs MQTT.js received), and "vs (b)" compares that figure. (c0) is the gateway with \`MQTT_TELEMETRY_QOS=0\` and (cb) with \`MQTT_TELEMETRY_FORMAT=batch\` (QoS 1), each run at (c)'s best shape only; for (cb) "MQTT delivered/s" counts the frames its messages carried. Server CPU is the server process's own (process.cpuUsage over IPC; the gateway's process_cpu_*_seconds_total from /metrics).`,
      '',
    );
    const rows: string[][] = [];
    const add = (label: string, x: ThroughputResult['raw'], extra: string) => {
      if (!x) return;
      rows.push([
        label,
        `${x.shape.devices} × ${x.shape.window}`,
        f0(x.framesPerSec),
        x.bridge ? f0(x.bridge.deliveredPerSec) : '',
        t.socketio ? `${f2(sustainedFramesPerSec(x) / sustainedFramesPerSec(t.socketio))} ×` : '',
        f1(x.serverCpuUsPerFrame),
        t.raw ? `${f2(x.serverCpuUsPerFrame / t.raw.serverCpuUsPerFrame)} ×` : '',
        f2(x.serverCores),
        f2(x.latency.p50Ms),
        f2(x.latency.p99Ms),
        extra,
      ]);
    };
    const sidecars = (x: ServerLoadResult | undefined) =>
      x
        ? Object.entries(x.sidecarCpuUsPerFrame)
            .map(([name, us]) => `${name} ${f1(us)} µs/frame`)
            .join(', ')
        : '';
    add('(a) raw ws sink (parse + coalesced acks)', t.raw, '');
    add('(b) Socket.IO 4 (emit with ack)', t.socketio, '');
    add('(d) Socket.IO pipeline (zod, influx, MQTT.js QoS 1)', t.pipeline, sidecars(t.pipeline));
    add('(c) gateway, full pipeline (telemetry QoS 1)', t.gateway, sidecars(t.gateway));
    add('(c0) gateway, telemetry QoS 0', t.gatewayQos0, sidecars(t.gatewayQos0));
    add('(cb) gateway, telemetry QoS 1 in batches', t.gatewayBatch, sidecars(t.gatewayBatch));
    out.push(
      table(
        [
          'server',
          'best shape',
          'frames/s acked',
          'MQTT delivered/s',
          'vs (b)',
          'server CPU µs/frame',
          'vs (a)',
          'server cores busy',
          'ack p50 ms',
          'ack p99 ms',
          'also busy',
        ],
        rows,
      ),
      '',
    );
    const gatewayChecks = (label: string, qos: 0 | 1, checks: GatewayChecks | undefined) => {
      if (!checks) return;
      out.push(
        `${label} checks over all its runs: InfluxDB holds ${f0(checks.influx.stored)} telemetry points for ${f0(checks.influx.acked)} acked readings (${checks.influx.everyAckedStored ? 'every acked reading stored' : 'MISSING READINGS'}); ` +
          `MQTT bridge (telemetry QoS ${qos}): ${f0(checks.mqtt.dropped)} dropped, ${f0(checks.mqtt.queuedAfterDrain)} still queued ${f0(checks.mqtt.drainMs)} ms after the load stopped; ` +
          `spool ${f0(checks.spoolRecords)} records; ${f0(checks.gatewayRejects)} error frames; ${f0(checks.unexpectedCloses)} sessions closed by the gateway.`,
        '',
      );
    };
    gatewayChecks('(c)', 1, t.gatewayChecks);
    gatewayChecks('(c0)', 0, t.gatewayQos0Checks);
    gatewayChecks('(cb)', 1, t.gatewayBatchChecks);
    const d = t.pipelineChecks;
    if (d) {
      out.push(
        `(d) checks over all its runs: InfluxDB holds ${f0(d.influx.stored)} telemetry points for ${f0(d.influx.acked)} acked readings (${d.influx.everyAckedStored ? 'every acked reading stored' : 'MISSING READINGS'}); ` +
          `MQTT.js (QoS 1): ${f0(d.mqtt.dropped)} failed, ${f0(d.mqtt.queuedAfterDrain)} without PUBACK ${f0(d.mqtt.drainMs)} ms after the load stopped; ` +
          `${f0(d.invalid)} readings refused by zod, ${f0(d.writeErrors)} failed InfluxDB writes; ${f0(d.unexpectedCloses)} sockets closed by the server.`,
        '',
      );
    }
    const all: string[][] = [];
    for (const [label, list] of [
      ['(a) raw ws', t.runs.raw],
      ['(b) Socket.IO', t.runs.socketio],
      ['(d) Socket.IO pipeline', t.runs.pipeline],
      ['(c) gateway', t.runs.gateway],
      ['(c0) gateway, QoS 0', t.runs.gatewayQos0],
      ['(cb) gateway, batches', t.runs.gatewayBatch],
    ] as const) {
      for (const x of list ?? []) {
        all.push([
          label,
          `${x.shape.devices} × ${x.shape.window}`,
          f0(x.framesPerSec),
          x.bridge
            ? `${f0(x.bridge.deliveredPerSec)} (queue ${f0(x.bridge.queuedAtStart)} → ${f0(x.bridge.queuedAtEnd)}, ${f0(x.bridge.dropped)} dropped)`
            : '',
          f1(x.serverCpuUsPerFrame),
          f2(x.serverCores),
          f1(x.clientCpuUsPerFrame),
          f2(x.latency.p50Ms),
          f2(x.latency.p99Ms),
        ]);
      }
    }
    out.push(
      'Every run:',
      '',
      table(
        [
          'server',
          'shape',
          'frames/s acked',
          'MQTT delivered/s',
          'server CPU µs/frame',
          'server cores busy',
          'load generator CPU µs/frame',
          'ack p50 ms',
          'ack p99 ms',
        ],
        all,
      ),
      '',
    );
  }
  const c = t?.commands;
  if (c) {
    out.push('### Commands', '');
    if (c.status === 'pending') {
      out.push(`Pending: ${c.pendingReason}`, '');
    } else if (c.idle && c.halfLoad) {
      const h = c.halfLoad;
      out.push(
        `\`POST /v1/devices/:id/commands?wait=5000\` → device → \`command_result\` → HTTP answer, sequential, ${f0(c.idle.count)} per row, round-robin over ${f0(c.devices)} devices that answer at once, after ${f0(c.idle.warmup?.count ?? 0)} warm-up round trips (measured too: the first row).`,
        '',
        table(
          ['load', 'p50 ms', 'p99 ms', 'max ms', 'failed', 'gateway CPU µs/command', 'target p99'],
          [
            ...(c.idle.warmup
              ? [
                  [
                    `idle, the first ${f0(c.idle.warmup.count)} (warm-up)`,
                    f2(c.idle.warmup.latency.p50Ms),
                    f2(c.idle.warmup.latency.p99Ms),
                    f2(c.idle.warmup.latency.maxMs),
                    '',
                    f0(c.idle.warmup.gatewayCpuUsPerCommand),
                    '',
                  ],
                ]
              : []),
            [
              'idle',
              f2(c.idle.latency.p50Ms),
              f2(c.idle.latency.p99Ms),
              f2(c.idle.latency.maxMs),
              f0(c.idle.failures),
              f0(c.idle.gatewayCpuUsPerCommand),
              '≤ 5 ms',
            ],
            [
              `(c) at half load (${f0(h.load.framesPerSec)} frames/s, ack p99 ${f2(h.load.latency.p99Ms)} ms)`,
              f2(h.latency.p50Ms),
              f2(h.latency.p99Ms),
              f2(h.latency.maxMs),
              f0(h.failures),
              '(with the load)',
              '≤ 50 ms',
            ],
          ],
        ),
        '',
      );
    }
  }
  const s = r.sessions;
  if (s) {
    out.push(
      '### Sessions',
      '',
      `Idle sessions opened from ${s.settings.clients} client processes (one loopback address each), then held ${f0(s.settings.holdMs / 1000)} s with heartbeats (ping every ${f0(s.settings.heartbeatIntervalMs)} ms of silence, timeout ${f0(s.settings.heartbeatTimeoutMs)} ms; the raw server pings every socket at the same interval). RSS from /proc before connecting, after the first half of the sessions (plus 1 s) and after the hold; the marginal figure is the second half's growth per session, free of heap the server had spare before.`,
      '',
    );
    const rows: string[][] = [];
    for (const [label, x] of [
      ['raw ws server', s.raw],
      ['gateway (token auth, heartbeats, InfluxDB + MQTT status)', s.gateway],
    ] as const) {
      if (!x) continue;
      rows.push([
        label,
        `${f0(x.held)} / ${f0(x.target)}`,
        `${f0(x.rssBeforeMb)} → ${f0(x.rssMidMb)} → ${f0(x.rssAfterMb)}`,
        f1(x.rssPerSessionKb),
        s.raw ? `${f2(x.rssPerSessionKb / s.raw.rssPerSessionKb)} ×` : '',
        f1(x.marginalRssPerSessionKb),
        s.raw ? `${f2(x.marginalRssPerSessionKb / s.raw.marginalRssPerSessionKb)} ×` : '',
        f0(x.handshakesPerSec),
        f0(x.serverCpuUsPerHandshake),
        f1(x.pingsPerSession),
        Object.keys(x.closedDuringHold).length === 0
          ? '0'
          : Object.entries(x.closedDuringHold)
              .map(([code, n]) => `${n} × ${code}`)
              .join(', '),
      ]);
    }
    out.push(
      table(
        [
          'server',
          'held',
          'RSS MiB (before → half → all)',
          'KiB/session',
          'vs raw',
          'marginal KiB/session (2nd half)',
          'vs raw',
          'handshakes/s',
          'server CPU µs/handshake',
          'pings/session in hold',
          'closed in hold',
        ],
        rows,
      ),
      '',
    );
  }
  const l = r.liveness;
  if (l) {
    out.push(
      '### Liveness',
      '',
      `${f0(l.zombies)} zombie devices (autoPong off, silent) fall silent at the same moment beside ${f0(l.healthy)} healthy ones; HEARTBEAT_INTERVAL_MS ${f0(l.settings.heartbeatIntervalMs)}, HEARTBEAT_TIMEOUT_MS ${f0(l.settings.heartbeatTimeoutMs)}. Time from each zombie's last frame to the close it receives, and to the \`ts\` of its offline status on MQTT.`,
      '',
      table(
        ['measure', 'count', 'p50 ms', 'p99 ms', 'max ms', 'limit ms'],
        [
          [
            `close 4002 seen by the device`,
            f0(l.closed4002),
            f0(l.closedAfter.p50Ms),
            f0(l.closedAfter.p99Ms),
            f0(l.closedAfter.maxMs),
            f0(l.limitMs),
          ],
          [
            `offline status ts (MQTT)`,
            f0(l.statusesSeen),
            f0(l.offlineAfter.p50Ms),
            f0(l.offlineAfter.p99Ms),
            f0(l.offlineAfter.maxMs),
            f0(l.limitMs),
          ],
        ],
      ),
      '',
      `Other closes: ${Object.keys(l.otherCloses).length === 0 ? 'none' : JSON.stringify(l.otherCloses)}; healthy devices closed: ${f0(l.healthyClosed)} of ${f0(l.healthy)}; API shows ${l.apiOffline.offline} of ${l.apiOffline.sampled} sampled zombies offline.`,
      '',
    );
  }
  const rc = r.reconnect;
  if (rc && (rc.raw || rc.gateway)) {
    const st = rc.settings;
    // Null: not reached before the deadline.
    const late = (ms: number | null) => (ms === null ? `> ${f0(st.deadlineMs)}` : f0(ms));
    const rawAll = rc.raw?.allOnlineMs ?? null;
    const row = (label: string, x: StormResult, to: string, at: Spread, all: number | null) => [
      label,
      to,
      f0(x.devices),
      late(at.p50Ms),
      late(at.p99Ms),
      late(all),
      rawAll === null
        ? ''
        : all === null
          ? `> ${f2(st.deadlineMs / rawAll)} ×`
          : `${f2(all / rawAll)} ×`,
      f0(x.restartMs),
      f1(x.attempts / x.devices),
      f0(x.serverCpuUsPerHandshake),
      f0(x.clientCpuUsPerHandshake),
      Object.entries(x.failures)
        .map(([cause, n]) => `${f0(n)} × ${cause}`)
        .join(', ') || 'none',
    ];
    const rows: string[][] = [];
    const g = rc.gateway;
    if (rc.raw) {
      rows.push(row('raw ws server', rc.raw, 'open (hello)', rc.raw.online, rc.raw.allOnlineMs));
    }
    if (g) {
      rows.push(row('gateway', g, 'online (hello)', g.online, g.allOnlineMs));
      rows.push(row('gateway', g, 'queued command delivered', g.commands, g.allCommandsMs));
    }
    out.push(
      '### Reconnect storm',
      '',
      `${f0(st.devices)} devices from ${f0(st.clients)} client processes (one loopback address each) reconnect at once after their server restarts: from the moment it is ready, each device tries after a random jitter of at most ${f0(st.jitterMs)} ms and retries as soon as its socket closes or an attempt fails, after the same jitter and no other backoff. The raw ws server has every device connected when its process exits; the gateway gets a fleet \`reboot\` command while the devices are offline (one queued command each), is stopped with SIGTERM and started again on the same DATA_DIR. Times are from the restarted server being ready (raw: its listen; gateway: the first /readyz poll that answered 200, counted from when it was sent); p50 and p99 are of each device's first hello (or command), "all" is until every device was online at once (or had its command), and a storm that had not settled ${f0(st.deadlineMs / 1000)} s after ready is stopped there. Server CPU is the server process's (from /proc) from ready until every device was back and, for the gateway, had its command, per device; the client processes' CPU over the same time is beside it: they share the cores with the server, at nice 10.`,
      '',
      table(
        [
          'server',
          'until',
          'devices',
          'p50 ms',
          'p99 ms',
          'all ms',
          'vs raw',
          'stop → ready ms',
          'attempts/device',
          'server CPU µs/handshake',
          'clients CPU µs/handshake',
          'failed attempts',
        ],
        rows,
      ),
      '',
    );
    for (const [label, x] of [
      ['raw ws server', rc.raw],
      ['gateway', g],
    ] as const) {
      if (x?.incomplete) out.push(`${label}: the storm did not settle: ${x.incomplete}.`, '');
    }
    if (rc.gateway) {
      out.push(
        `Fleet command after the storm: ${f0(rc.gateway.fleet.targeted)} targeted, ${Object.entries(
          rc.gateway.fleet.states,
        )
          .filter(([, n]) => n > 0)
          .map(([state, n]) => `${f0(n)} ${state}`)
          .join(', ')}.`,
        '',
      );
    }
  }
  if (r.targets.length > 0) {
    out.push(
      '### Targets',
      '',
      table(
        ['target', 'measured', 'met'],
        r.targets.map((c) => [
          c.target,
          c.measured,
          c.met === undefined ? 'pending' : c.met ? 'yes' : '**no**',
        ]),
      ),
      '',
    );
  }
  return out.join('\n');
}

const BEGIN = '<!-- bench:results:begin (written by `npm run bench`) -->';
const END = '<!-- bench:results:end -->';

/** Writes the run as JSON: a timestamped file and latest.json. Returns the timestamped path. */
export function writeResults(dir: string, results: BenchResults): string {
  mkdirSync(dir, { recursive: true });
  const name = `${results.startedAt.replace(/[:.]/g, '-')}${results.quick ? '-quick' : ''}.json`;
  const text = `${JSON.stringify(results, null, 2)}\n`;
  writeFileSync(join(dir, name), text);
  writeFileSync(join(dir, 'latest.json'), text);
  return join(dir, name);
}

/**
 * Replaces the text between `begin` and `end` in `file`, keeping the hand-written text around
 * it; appends it under `heading` the first time.
 */
export function replaceSection(
  file: string,
  begin: string,
  end: string,
  body: string,
  heading: string,
): void {
  const section = `${begin}\n\n${body}\n\n${end}`;
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const from = text.indexOf(begin);
  const to = text.indexOf(end);
  if (from !== -1 && to > from) {
    text = text.slice(0, from) + section + text.slice(to + end.length);
  } else {
    text = `${text.trimEnd()}\n\n## ${heading}\n\n${section}\n`;
  }
  writeFileSync(file, text);
}

/** Replaces the generated section of BENCHMARKS.md, keeping the hand-written text around it. */
export function updateBenchmarksMd(file: string, markdown: string, resultsFile: string): void {
  replaceSection(
    file,
    BEGIN,
    END,
    `${markdown}\nRaw numbers: [${resultsFile}](${resultsFile}).`,
    'Latest results',
  );
}

/** A section of BENCHMARKS.md that one scenario run rewrites on its own, between two markers. */
export interface ScenarioSection {
  /** `abuse` → `<!-- abuse results: begin -->` … `<!-- abuse results: end -->`. */
  readonly marker: string;
  /** The heading it goes under when BENCHMARKS.md does not hold the markers yet. */
  readonly heading: string;
  /** What shares the machine with the servers, for the header line. */
  readonly sharedBy: string;
}

export const ABUSE_SECTION: ScenarioSection = {
  marker: 'abuse',
  heading: 'Robustness: the gateway under attack',
  sharedBy: 'the attackers, the healthy fleet, influxd, mosquitto and the gateway',
};

export const CLUSTER_SECTION: ScenarioSection = {
  marker: 'cluster',
  heading: 'Several instances: what the shared store costs',
  sharedBy: 'the load generator, PostgreSQL, influxd, mosquitto and the gateway instances',
};

/** Rewrites a scenario's own section of BENCHMARKS.md (`npm run bench -- abuse`, `-- cluster`). */
export function updateScenarioSection(
  file: string,
  section: ScenarioSection,
  results: BenchResults,
  markdown: string,
  resultsFile: string,
): void {
  const m = results.machine;
  const header =
    `Run ${results.startedAt} with \`${results.command}\`. Machine: ${m.cpuModel}, ${m.cores} cores, ` +
    `${m.memoryGiB} GiB, Linux ${m.kernel}; ${section.sharedBy} share it.`;
  replaceSection(
    file,
    `<!-- ${section.marker} results: begin -->`,
    `<!-- ${section.marker} results: end -->`,
    `${header}\n\n${markdown}\n\nRaw numbers: [${resultsFile}](${resultsFile}).`,
    section.heading,
  );
}
