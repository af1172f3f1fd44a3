import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freePort,
  type InfluxDBServer,
  type MosquittoServer,
  startInfluxDB,
  startMosquitto,
} from '@iot-gateway/testing';
import { removeOnExit } from './cleanup.ts';
import { GatewayProcess } from './gateway-process.ts';
import type { BenchOptions } from './options.ts';
import { dataDirFrom } from './provision.ts';

export interface Services {
  readonly influx: InfluxDBServer;
  readonly mosquitto: MosquittoServer;
}

/** What every scenario shares: options, a temp dir, progress lines, InfluxDB and Mosquitto. */
export class BenchContext {
  readonly options: BenchOptions;
  readonly dir: string;
  readonly profileDir: string;
  readonly adminToken = `bench-admin-${randomBytes(16).toString('hex')}`;
  readonly #started = performance.now();
  #services: Promise<Services> | undefined;
  #gateways = 0;
  /** Processes run under --cpu-prof, by pid, so their profiles can be named. */
  readonly profiled = new Map<number, string>();

  constructor(options: BenchOptions, profileDir: string) {
    this.options = options;
    this.dir = mkdtempSync(join(tmpdir(), 'iot-gateway-bench-'));
    removeOnExit(this.dir);
    this.profileDir = profileDir;
  }

  /** A progress line on stderr, with the time since the bench started. */
  log(text: string): void {
    const s = Math.floor((performance.now() - this.#started) / 1000);
    const stamp = `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
    process.stderr.write(`[bench ${stamp}] ${text}\n`);
  }

  /** Real influxd and mosquitto from the test harness, started once for the whole run. */
  services(): Promise<Services> {
    this.#services ??= (async () => {
      this.log('starting influxd and mosquitto (test harness)');
      const [influx, mosquitto] = await Promise.all([startInfluxDB(), startMosquitto()]);
      return { influx, mosquitto };
    })();
    return this.#services;
  }

  /**
   * Starts a gateway on a copy of the provisioned registry, writing to its own InfluxDB
   * database and bridging to the shared broker at QoS 1. `restart` starts it again on the same
   * port, data directory and settings, once the first process is gone.
   */
  async startGateway(
    name: string,
    registryDir: string,
    env: Readonly<Record<string, string>> = {},
  ): Promise<{
    gateway: GatewayProcess;
    database: string;
    restart: () => Promise<GatewayProcess>;
  }> {
    const { influx, mosquitto } = await this.services();
    const n = ++this.#gateways;
    const database = `bench_${name.replace(/\W/g, '_')}_${n}`;
    const dataDir = dataDirFrom(registryDir, join(this.dir, `gateway-${n}-${name}`));
    const port = await freePort();
    if (this.options.profile) mkdirSync(this.profileDir, { recursive: true });
    const start = async () => {
      const gateway = await GatewayProcess.start({
        port,
        env: {
          DATA_DIR: dataDir,
          ADMIN_TOKEN: this.adminToken,
          INFLUX_URL: `${influx.url}/${database}`,
          MQTT_URL: mosquitto.url,
          MQTT_QOS: '1',
          MQTT_CLIENT_ID: `iot-bench-${process.pid}-${n}`,
          ...env,
        },
        ...(this.options.profile ? { cpuProfileDir: this.profileDir } : {}),
      });
      this.profiled.set(gateway.pid, `gateway (${name})`);
      return gateway;
    };
    return { gateway: await start(), database, restart: start };
  }

  async close(): Promise<void> {
    if (this.#services) {
      const { influx, mosquitto } = await this.#services;
      await Promise.all([influx.stop(), mosquitto.stop()]);
    }
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
