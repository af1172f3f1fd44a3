// The soak: the whole stack (InfluxDB, Mosquitto, the gateway as users run it, a simulated fleet
// with its chaos, operators' commands and a per-second schedule) under real faults, then checked
// against what the devices saw. See BENCHMARKS.md ("Soak") for a run and docs/operations.md.

import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freePort,
  type InfluxDBServer,
  startInfluxDB,
  startMosquitto,
  waitUntil,
} from '@iot-gateway/testing';
import mqtt from 'mqtt';
import { loadRegistry } from '../../../device-sim/src/sim/device-registry.ts';
import type { FleetConfig } from '../../../device-sim/src/sim/fleet.ts';
import { type DeviceSpec, planFleet } from '../../../device-sim/src/sim/fleet-plan.ts';
import { LatencyHistogram } from '../../../device-sim/src/sim/latency-histogram.ts';
import { readLedgers } from '../../../device-sim/src/sim/ledger-file.ts';
import { seededRandom } from '../../../device-sim/src/sim/random.ts';
import { mergeSnapshots, type StatsSnapshot } from '../../../device-sim/src/sim/sim-stats.ts';
import { WorkerPool } from '../../../device-sim/src/sim/worker-pool.ts';
import { removeOnExit } from '../cleanup.ts';
import { GatewayProcess } from '../gateway-process.ts';
import { type FaultPlan, planFaults } from './fault-plan.ts';
import { OperatorLoad } from './operator-load.ts';
import {
  type Check,
  type CommandRecord,
  checkCommands,
  checkLatency,
  checkRss,
  checkStatuses,
  checkStorage,
  type PhaseLatency,
  type StatusPair,
  type StorageAudit,
} from './soak-checks.ts';

export interface SoakOptions {
  readonly minutes: number;
  readonly devices: number;
  /** Rounds of faults (each: InfluxDB kill + restart, Mosquitto restart, gateway SIGKILL). */
  readonly rounds: number;
  readonly seed: number;
  readonly steadyP99Ms: number;
  readonly faultP99Ms: number;
  readonly rssTolerance: number;
}

export interface SoakFigures {
  readonly readings: {
    sent: number;
    acked: number;
    rejected: number;
    invalidSent: number;
    unackedAtExit: number;
  };
  readonly sessions: number;
  readonly disconnects: Record<string, number>;
  readonly connectFailures: Record<string, number>;
  /** Devices that stopped for good (a close the SDK does not retry), by reason. */
  readonly gaveUp: Record<string, number>;
  readonly commands: {
    operator: number;
    fleet: number;
    delivered: number;
    apiFailures: Record<string, number>;
  };
  readonly gatewayRestartsToReconnectedS: number[];
  readonly heapUsedMiB: { readonly afterWarmUp: number; readonly end: number };
  readonly spoolPeakRecords: number;
  readonly mqttDropped: number;
  readonly auditSeconds: number;
}

export interface SoakResult {
  readonly options: SoakOptions;
  readonly plan: FaultPlan;
  readonly phases: readonly PhaseLatency[];
  readonly figures: SoakFigures;
  readonly checks: readonly Check[];
  readonly ok: boolean;
}

const RATES = [1, 2, 5] as const;
const GROUPS = 10;
const SAMPLE_MS = 1000;
const DRAIN_MS = 15_000;
// The gateway's deadline sweep runs every second; allow a few for a loaded machine.
const SWEEP_GRACE_MS = 5_000;

interface Sample {
  readonly t: number;
  readonly snapshot: StatsSnapshot;
}

type Log = (text: string) => void;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs a soak and returns its verdict; `log` gets progress lines. */
export async function runSoak(options: SoakOptions, log: Log): Promise<SoakResult> {
  const dir = mkdtempSync(join(tmpdir(), 'iot-gateway-soak-'));
  removeOnExit(dir);
  const durationMs = Math.round(options.minutes * 60_000);
  const plan = planFaults(durationMs, options.rounds);
  const random = seededRandom(options.seed);
  const adminToken = `soak-admin-${randomBytes(16).toString('hex')}`;

  log('starting influxd and mosquitto');
  const [influx, mosquitto] = await Promise.all([startInfluxDB(), startMosquitto()]);
  const port = await freePort();
  const dataDir = join(dir, 'gateway');
  mkdirSync(dataDir);
  const env = {
    DATA_DIR: dataDir,
    ADMIN_TOKEN: adminToken,
    INFLUX_URL: `${influx.url}/soak`,
    MQTT_URL: mosquitto.url,
    MQTT_QOS: '1',
  };
  let gateway = await GatewayProcess.start({ port, env });
  const baseUrl = gateway.url;
  const watcher = new StatusWatcher(mosquitto.url);
  const pools: WorkerPool[] = [];
  try {
    const devices = await provision(baseUrl, adminToken, options.devices, log);
    const ledgerDir = join(dir, 'ledgers');
    await watcher.ready();

    const fleetConfig = (rate: number, count: number): FleetConfig => ({
      behaviour: {
        gatewayUrl: baseUrl,
        rate,
        window: 16,
        buffer: 20_000,
        batch: 100,
        batchDelayMs: 0,
        invalidShare: 0.05,
        firmwareMs: 300,
      },
      rampMs: Math.max(1000, count),
      durationMs,
      disconnectsPerMin: count / 100,
      zombieShare: 0.01,
      churnPerMin: count / 200,
      churnOfflineMs: 10_000,
      seed: (options.seed + rate) >>> 0,
      ledgerDir,
    });
    const slices = RATES.map((_, i) => devices.filter((_, j) => j % RATES.length === i));
    for (const [i, rate] of RATES.entries()) {
      pools.push(new WorkerPool([slices[i]!], fleetConfig(rate, slices[i]!.length), undefined));
    }
    const load = new OperatorLoad({
      baseUrl: () => baseUrl,
      adminToken,
      devices,
      groups: GROUPS,
      commandEveryMs: 2000,
      fleetEveryMs: 10_000,
      random,
    });
    await load.createSchedule();

    log(
      `fleet: ${devices.length} devices at ${RATES.join(', ')} readings/s, 5 % invalid, disconnects, zombies, churn; ${options.minutes} min`,
    );
    await Promise.all(pools.map((p) => p.start()));
    const t0 = performance.now();
    const elapsed = () => performance.now() - t0;
    load.start();

    const samples: Sample[] = [];
    const rss: Array<[number, number]> = [];
    const heap: Array<[number, number]> = [];
    let spoolPeak = 0;
    let mqttDropped = 0;
    const sampler = setInterval(() => {
      const snapshot = mergeSnapshots(pools.map((p) => p.snapshot()));
      samples.push({ t: elapsed(), snapshot });
      const bytes = gateway.rssBytes();
      if (bytes !== undefined) rss.push([elapsed(), bytes]);
      gateway.metrics().then(
        (m) => {
          heap.push([elapsed(), m.sum('nodejs_heap_size_used_bytes')]);
          spoolPeak = Math.max(spoolPeak, m.sum('iot_gateway_spool_records'));
          mqttDropped = Math.max(mqttDropped, m.sum('iot_gateway_mqtt_dropped_total'));
        },
        () => {},
      );
    }, SAMPLE_MS);
    const progress = setInterval(() => {
      const s = samples.at(-1)?.snapshot;
      if (s) {
        // Why devices are not connected, when they are not: the way to tell a reconnect storm
        // from devices that gave up.
        const top = (t: Record<string, number>) =>
          Object.entries(t)
            .sort((a, b) => b[1] - a[1])
            .slice(0, 3)
            .map(([k, n]) => `${k}=${n}`)
            .join(' ') || 'none';
        log(
          `${Math.round(elapsed() / 1000)} s: ${s.connected}/${s.devices} connected, ${s.sent} sent, ${s.acked} acked, ${s.buffered} buffered, ${s.commands.received} commands received; failed attempts ${top(s.connectFailures)}; gave up ${top(s.gaveUp)}`,
        );
      }
    }, 10_000);

    const reconnected: number[] = [];
    for (const step of plan.steps) {
      await sleep(step.atMs - elapsed());
      switch (step.kind) {
        case 'influx_kill':
          log('fault: InfluxDB killed (SIGKILL)');
          await influx.kill();
          break;
        case 'influx_restart':
          log('fault over: InfluxDB restarted');
          await influx.restart();
          break;
        case 'mosquitto_restart':
          log('fault: Mosquitto restarted');
          await mosquitto.restart();
          break;
        case 'gateway_kill': {
          const before = samples.at(-1)?.snapshot.connected ?? 0;
          log(`fault: gateway killed (SIGKILL) with ${before} devices connected`);
          const killedAt = elapsed();
          await gateway.kill();
          gateway = await GatewayProcess.start({ port, env });
          log(
            `gateway restarted on the same DATA_DIR in ${((elapsed() - killedAt) / 1000).toFixed(1)} s`,
          );
          void waitUntil(() => (samples.at(-1)?.snapshot.connected ?? 0) >= before * 0.95, {
            timeoutMs: 120_000,
            intervalMs: 250,
          }).then(
            () => {
              const s = (elapsed() - killedAt) / 1000;
              reconnected.push(Math.round(s * 10) / 10);
              log(`95 % of the devices reconnected ${s.toFixed(1)} s after the kill`);
            },
            () => log('the devices did not reconnect within 120 s'),
          );
          break;
        }
        case 'rss_baseline':
          log('memory baseline window starts');
          break;
      }
    }
    await sleep(durationMs - elapsed());
    clearInterval(progress);

    log('checking retained statuses against the API while the fleet runs');
    const checks: Check[] = [];
    checks.push(
      checkStatuses(await settledStatuses(baseUrl, adminToken, devices, watcher), 'while running'),
    );

    await load.stop();
    log('stopping the fleet; draining');
    const finals = await Promise.all(pools.map((p) => p.stop(DRAIN_MS)));
    clearInterval(sampler);
    const final = mergeSnapshots(finals);
    samples.push({ t: elapsed(), snapshot: final });

    log('waiting for every device to be offline and the spool to drain');
    await waitUntil(async () => (await onlineDevices(baseUrl, adminToken)) === 0, {
      timeoutMs: 60_000,
      intervalMs: 500,
      message: 'every device offline in the API',
    });
    checks.push(
      checkStatuses(await settledStatuses(baseUrl, adminToken, devices, watcher), 'at the end'),
    );
    await waitUntil(async () => (await gateway.metrics()).sum('iot_gateway_spool_records') === 0, {
      timeoutMs: 180_000,
      intervalMs: 500,
      message: 'the spool drained into InfluxDB',
    });

    log('auditing InfluxDB against the devices’ ledgers');
    const auditStarted = performance.now();
    const ledgers = readLedgers(ledgerDir);
    const audits = await auditStorage(influx, ledgers, log);
    checks.push(...checkStorage(audits, final.unacked));
    const commands = await allCommands(baseUrl, adminToken);
    const delivered = new Map([...ledgers].map(([id, l]) => [id, l.commands]));
    checks.push(...checkCommands(commands, delivered, Date.now(), SWEEP_GRACE_MS));
    const auditSeconds = (performance.now() - auditStarted) / 1000;

    const phases = phaseLatencies(plan, samples);
    checks.push(checkLatency(phases, options.steadyP99Ms, options.faultP99Ms));
    const memory = checkRss(rss, plan.rssBaselineMs, plan.rssEndMs, options.rssTolerance);
    checks.push(memory);
    // The JS heap beside RSS: growth in one but not the other tells a leak from allocator slack.
    const heapCheck = checkRss(heap, plan.rssBaselineMs, plan.rssEndMs, options.rssTolerance);

    const rejected = Object.values(final.rejected).reduce((a, b) => a + b, 0);
    const figures: SoakFigures = {
      readings: {
        sent: final.sent,
        acked: final.acked,
        rejected,
        invalidSent: final.chaos.invalidReadings,
        unackedAtExit: final.unacked,
      },
      sessions: final.sessions,
      disconnects: final.disconnects,
      connectFailures: final.connectFailures,
      gaveUp: final.gaveUp,
      commands: {
        operator: load.stats.commands,
        fleet: load.stats.fleetCommands,
        delivered: final.commands.received,
        apiFailures: load.stats.failures,
      },
      gatewayRestartsToReconnectedS: reconnected,
      heapUsedMiB: {
        afterWarmUp: Math.round((heapCheck.baselineBytes ?? 0) / 2 ** 20),
        end: Math.round((heapCheck.endBytes ?? 0) / 2 ** 20),
      },
      spoolPeakRecords: spoolPeak,
      mqttDropped,
      auditSeconds: Math.round(auditSeconds),
    };
    return { options, plan, phases, figures, checks, ok: checks.every((c) => c.ok) };
  } catch (error) {
    // Enough of the gateway's own words to see why, when it is the gateway that failed.
    log(`gateway output (last lines):\n${gateway.output.split('\n').slice(-30).join('\n')}`);
    throw error;
  } finally {
    await Promise.allSettled(pools.map((p) => p.stop(0)));
    watcher.close();
    await gateway.stop();
    await Promise.allSettled([influx.stop(), mosquitto.stop()]);
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

interface ApiDevice {
  readonly id: string;
  readonly online: boolean;
}

/**
 * One API call. A gateway busy with a reconnect storm may take a while to accept: network
 * errors are retried a few times before the soak gives up on the call.
 */
async function api(base: string, token: string, path: string, init: RequestInit = {}) {
  let res: Response | undefined;
  for (let attempt = 1; !res; attempt++) {
    try {
      res = await fetch(`${base}${path}`, {
        ...init,
        headers: {
          authorization: `Bearer ${token}`,
          ...(init.body ? { 'content-type': 'application/json' } : {}),
        },
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      if (attempt >= 5) throw error;
    }
  }
  const body = (await res.json()) as Record<string, unknown>;
  if (!res.ok)
    throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** Every built-in type, interleaved; label groups for fleet commands; a few on the schedule. */
async function provision(
  base: string,
  token: string,
  count: number,
  log: Log,
): Promise<Array<DeviceSpec>> {
  const types = loadRegistry(undefined)
    .list()
    .map((t) => ({ type: t.name, weight: 1 }));
  const plan = planFleet('soak', count, types);
  const devices: DeviceSpec[] = new Array(plan.length);
  let next = 0;
  let thermostats = 0;
  const started = performance.now();
  const labelsOf = plan.map((d, i) => {
    const labels: Record<string, string> = { group: `g${i % GROUPS}` };
    if (d.type === 'thermostat' && thermostats++ % 20 === 0) labels.soak = 'schedule';
    return labels;
  });
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < plan.length) {
        const i = next++;
        const d = plan[i]!;
        const body = await api(base, token, '/v1/devices', {
          method: 'POST',
          body: JSON.stringify({ id: d.id, type: d.type, labels: labelsOf[i] }),
        });
        devices[i] = { id: d.id, type: d.type, token: body.token as string };
      }
    }),
  );
  log(
    `provisioned ${count} devices (${types.map((t) => t.type).join(', ')}) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  return devices;
}

async function listDevices(base: string, token: string): Promise<ApiDevice[]> {
  const all: ApiDevice[] = [];
  let after: string | undefined;
  do {
    const page = await api(
      base,
      token,
      `/v1/devices?limit=1000${after ? `&after=${encodeURIComponent(after)}` : ''}`,
    );
    all.push(...(page.devices as ApiDevice[]));
    after = page.next as string | undefined;
  } while (after);
  return all;
}

async function onlineDevices(base: string, token: string): Promise<number> {
  return (await listDevices(base, token)).filter((d) => d.online).length;
}

/**
 * Pairs each device's retained status with the API's view. A device whose status changes while
 * it is read differs for a moment: those are read again until they agree or 10 s pass.
 */
async function settledStatuses(
  base: string,
  token: string,
  devices: readonly DeviceSpec[],
  watcher: StatusWatcher,
): Promise<StatusPair[]> {
  const pairs = new Map<string, StatusPair>();
  // A device that never had a session has no retained status: for a backend that is offline.
  const retained = (id: string) => watcher.online(id) ?? false;
  const readAll = async () => {
    for (const d of await listDevices(base, token)) {
      pairs.set(d.id, { device: d.id, retainedOnline: retained(d.id), apiOnline: d.online });
    }
  };
  await readAll();
  for (const d of devices) {
    if (!pairs.has(d.id)) {
      pairs.set(d.id, { device: d.id, retainedOnline: retained(d.id), apiOnline: false });
    }
  }
  const differing = () => [...pairs.values()].filter((p) => p.retainedOnline !== p.apiOnline);
  await waitUntil(
    async () => {
      const again = differing();
      // Many: read the list again; a few: each on its own, at once.
      if (again.length > 100) await readAll();
      else {
        await Promise.all(
          again.map(async (p) => {
            const body = await api(base, token, `/v1/devices/${encodeURIComponent(p.device)}`);
            const apiOnline = (body.device as ApiDevice).online;
            pairs.set(p.device, {
              device: p.device,
              retainedOnline: retained(p.device),
              apiOnline,
            });
          }),
        );
      }
      return differing().length === 0;
    },
    { timeoutMs: 10_000, intervalMs: 500 },
  ).catch(() => {});
  return [...pairs.values()];
}

/** Follows every device's retained status over the whole run, across broker restarts. */
class StatusWatcher {
  readonly #latest = new Map<string, boolean>();
  readonly #client: mqtt.MqttClient;

  constructor(url: string) {
    this.#client = mqtt.connect(url, { reconnectPeriod: 250, clean: true, resubscribe: true });
    this.#client.on('message', (topic, payload) => {
      const id = /^iot\/devices\/([^/]+)\/status$/.exec(topic)?.[1];
      if (!id) return;
      try {
        this.#latest.set(
          decodeURIComponent(id),
          (JSON.parse(payload.toString()) as { online: boolean }).online,
        );
      } catch {
        // Not a status the gateway wrote: ignored, and the pair check will show the device.
      }
    });
    this.#client.on('error', () => {});
  }

  async ready(): Promise<void> {
    await this.#client.subscribeAsync('iot/devices/+/status', { qos: 1 });
  }

  online(id: string): boolean | undefined {
    return this.#latest.get(id);
  }

  close(): void {
    this.#client.end(true);
  }
}

/** Each device's stored telemetry times, eight devices at a time. */
async function auditStorage(
  influx: InfluxDBServer,
  ledgers: ReadonlyMap<string, { acked: number[] }>,
  log: Log,
): Promise<StorageAudit[]> {
  const ids = [...ledgers.keys()];
  const audits: StorageAudit[] = [];
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < ids.length) {
        const id = ids[next++]!;
        const rows = await influx.query(
          `SELECT * FROM telemetry WHERE device_id = '${id.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`,
          'soak',
        );
        audits.push({
          device: id,
          acked: ledgers.get(id)!.acked,
          stored: rows.map((r) => r.time as number),
        });
        if (++done % 500 === 0) log(`audited ${done}/${ids.length} devices`);
      }
    }),
  );
  return audits;
}

async function allCommands(base: string, token: string): Promise<CommandRecord[]> {
  const all: CommandRecord[] = [];
  let before: string | undefined;
  do {
    const page = await api(
      base,
      token,
      `/v1/commands?limit=1000${before ? `&before=${encodeURIComponent(before)}` : ''}`,
    );
    all.push(...(page.commands as CommandRecord[]));
    before = page.next as string | undefined;
  } while (before);
  return all;
}

/** Ack latency per phase: the fleet's cumulative histogram at the phase's end minus its start. */
function phaseLatencies(plan: FaultPlan, samples: readonly Sample[]): PhaseLatency[] {
  const at = (t: number) => {
    let found: Sample | undefined;
    for (const s of samples) if (s.t <= t) found = s;
    return found;
  };
  return plan.phases.map((phase) => {
    const end = at(phase.toMs) ?? samples.at(-1);
    const start = at(phase.fromMs);
    const h = LatencyHistogram.from(end ? [end.snapshot.latency] : []);
    if (start) h.subtract(start.snapshot.latency);
    const round = (ms: number | undefined) => Math.round((ms ?? 0) * 10) / 10;
    return {
      name: phase.name,
      faulty: phase.faulty,
      acks: h.count,
      p50Ms: round(h.percentileMs(50)),
      p99Ms: round(h.percentileMs(99)),
    };
  });
}
