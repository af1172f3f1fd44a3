import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createPostgresDatabase,
  freePort,
  type HAProxyServer,
  type PostgresDatabase,
  type Services,
  startHAProxy,
  startServices,
  waitUntil,
} from '@iot-gateway/testing';
import { connectAsync } from 'mqtt';
import { autoAnswer, commandFrames, roundTrip } from '../commands/command-kit.ts';
import { GatewayProcess } from '../support/gateway-process.ts';
import { TestDevice } from '../support/test-device.ts';
import { ADMIN_TOKEN } from '../support/test-gateway.ts';

async function api(base: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Every command frame any device received, by command id: a second one is a double delivery. */
const deliveries = new Map<string, number>();

/**
 * A device behind the load balancer: it streams readings with unique timestamps, records the
 * acked ones, answers commands (except those it is told to sit on) and, when its connection
 * drops, connects again through the load balancer, as real devices do.
 */
class RoamingDevice {
  readonly acked = new Set<number>();
  device: TestDevice | undefined;
  sessions = 0;
  #sent = new Map<number, number>();
  #seq = 0;
  #ts: number;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(
    readonly id: string,
    readonly url: string,
    readonly token: string,
    startTs: number,
    readonly ignore: ReadonlySet<string> = new Set(),
  ) {
    this.#ts = startTs;
  }

  async start(): Promise<void> {
    await this.#connect();
    this.#timer = setInterval(() => this.#tick(), 20);
  }

  async #connect(): Promise<void> {
    for (;;) {
      if (this.#stopped) return;
      try {
        const device = await TestDevice.connect(this.url, this.token);
        this.#attach(device);
        return;
      } catch {
        // The load balancer may still route to the dead instance until its check fails: wait
        // until it answers /readyz from a live one (a round trip, not a pause), then try again.
        await waitUntil(
          async () =>
            this.#stopped ||
            (await fetch(`${this.url}/readyz`).then(
              (r) => r.ok,
              () => false,
            )),
          {
            timeoutMs: 30_000,
            intervalMs: 50,
            message: 'the load balancer routes to a live instance',
          },
        );
      }
    }
  }

  #attach(device: TestDevice): void {
    this.device = device;
    this.sessions++;
    this.#sent = new Map();
    this.#seq = 0;
    const handle = (frame: { type: string; seq?: number; id?: string; name?: string }) => {
      if (frame.type === 'ack' && frame.seq !== undefined) {
        for (const [seq, ts] of this.#sent) {
          if (seq > frame.seq) break;
          this.acked.add(ts);
          this.#sent.delete(seq);
        }
      } else if (frame.type === 'command' && frame.id && frame.name) {
        deliveries.set(frame.id, (deliveries.get(frame.id) ?? 0) + 1);
        if (!this.ignore.has(frame.name)) {
          device.send({ type: 'command_result', id: frame.id, status: 'succeeded' });
        }
      }
    };
    for (const frame of device.frames.splice(0)) handle(frame);
    device.ws.on('message', (data) => {
      device.frames.length = 0;
      handle(JSON.parse(String(data)));
    });
    device.ws.once('close', () => {
      if (!this.#stopped) void this.#connect();
    });
  }

  #tick(): void {
    const ws = this.device?.ws;
    if (!ws || ws.readyState !== ws.OPEN || this.#sent.size >= 100) return;
    this.#seq++;
    this.#ts++;
    this.#sent.set(this.#seq, this.#ts);
    ws.send(
      JSON.stringify({
        type: 'telemetry',
        seq: this.#seq,
        ts: this.#ts,
        metrics: { temperature: 21, humidity: 40 },
      }),
    );
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.device?.close();
  }
}

describe('three gateway processes behind HAProxy, one PostgreSQL, one broker', () => {
  let database: PostgresDatabase;
  let services: Services;
  let haproxy: HAProxyServer;
  const names = ['a', 'b', 'c'] as const;
  const gateways = new Map<string, GatewayProcess>();
  const ports = new Map<string, number>();
  const dirs = new Map<string, string>();
  const devices: RoamingDevice[] = [];
  const env = (name: string) => ({
    DATA_DIR: dirs.get(name) as string,
    ADMIN_TOKEN,
    DATABASE_URL: database.url,
    DATABASE_POOL_SIZE: '4',
    MQTT_URL: services.mqtt.url,
    MQTT_COMMAND_INGRESS: 'on',
    MQTT_SHARE_GROUP: 'gateways',
    INFLUX_URL: `${services.influx.url}/iot`,
    INSTANCE_ID: `gw-${name}`,
    SPOOL_FSYNC: 'none',
    LOG_LEVEL: 'warn',
  });
  const start = async (name: string) => {
    const gateway = await GatewayProcess.start(env(name), ports.get(name) as number, {
      readyPath: '/readyz',
    });
    gateways.set(name, gateway);
    return gateway;
  };
  const holderOf = async (id: string) =>
    (await api(haproxy.url, 'GET', `/v1/devices/${id}`)).body.device.session?.instance;
  /** The instance holding the device's session `sessionId`, once every instance says so. */
  const heldBy = (id: string, sessionId: string | undefined) =>
    waitUntil(
      async () => {
        const session = (await api(haproxy.url, 'GET', `/v1/devices/${id}`)).body.device.session;
        return session?.id === sessionId ? (session.instance as string) : undefined;
      },
      { message: `${id}'s session ${sessionId} online` },
    );
  const everyInstanceUp = () =>
    waitUntil(
      async () =>
        Object.values(await haproxy.serverStates()).filter((s) => s === 'UP').length === 3,
      { timeoutMs: 20_000, message: 'HAProxy to see three gateways up' },
    );
  /**
   * Connects through HAProxy while `instance` is drained, as an operator drains an instance
   * before maintenance: the connection lands on one of the others.
   */
  const connectAvoiding = async (instance: string, token: string) => {
    const server = instance.replace('gw-', '');
    await haproxy.setServerState(server, 'drain');
    try {
      return await TestDevice.connect(haproxy.url, token);
    } finally {
      await haproxy.setServerState(server, 'ready');
    }
  };
  const provision = async (id: string, labels?: Record<string, string>) => {
    const created = await api(haproxy.url, 'POST', '/v1/devices', {
      id,
      type: 'thermostat',
      ...(labels ? { labels } : {}),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body.token as string;
  };

  before(async () => {
    [database, services] = await Promise.all([
      createPostgresDatabase(),
      startServices({ influx: { database: 'iot' } }),
    ]);
    for (const name of names) {
      ports.set(name, await freePort());
      dirs.set(name, mkdtempSync(join(tmpdir(), `iot-gateway-cluster-${name}-`)));
    }
    await start('a');
    await Promise.all([start('b'), start('c')]);
    haproxy = await startHAProxy({
      backends: names.map((name) => ({ name, port: ports.get(name) as number })),
    });
    await waitUntil(
      async () =>
        Object.values(await haproxy.serverStates()).filter((s) => s === 'UP').length === 3,
      { message: 'HAProxy to see three gateways up' },
    );
  });
  after(async () => {
    for (const d of devices) d.stop();
    await haproxy?.stop();
    await Promise.all([...gateways.values()].map((g) => g.stop()));
    await Promise.all([services?.stop(), database?.drop()]);
    for (const dir of dirs.values()) rmSync(dir, { recursive: true, force: true });
  });

  it('routes commands to the instance holding the device, and survives a kill -9', async () => {
    const startTs = Date.now() - 6 * 3_600_000;
    // Provisioned at A directly; connected through HAProxy, so any instance may hold them.
    const a = gateways.get('a') as GatewayProcess;
    for (let i = 0; i < 6; i++) {
      const created = await api(a.url, 'POST', '/v1/devices', {
        id: `lb-${i}`,
        type: 'thermostat',
      });
      assert.equal(created.status, 201);
      const device = new RoamingDevice(
        `lb-${i}`,
        haproxy.url,
        created.body.token,
        startTs + i * 1_000_000,
        // lb-0 sits on reboots: the one it gets stays `sent` until its instance is lost.
        i === 0 ? new Set(['reboot']) : new Set(),
      );
      devices.push(device);
      await device.start();
    }
    const holders = await waitUntil(
      async () => {
        const h = await Promise.all(devices.map((d) => holderOf(d.id)));
        return h.every(Boolean) ? h : undefined;
      },
      { message: 'every device online' },
    );
    assert.ok(new Set(holders).size >= 2, `devices spread over instances: ${holders}`);

    // A command posted at every instance directly reaches lb-1 wherever it is.
    for (const name of names) {
      const res = await api(
        (gateways.get(name) as GatewayProcess).url,
        'POST',
        '/v1/devices/lb-1/commands?wait=5000',
        { name: 'set_setpoint', params: { setpoint: 19 } },
      );
      assert.equal(res.body.state, 'succeeded', `posted at ${name}: ${JSON.stringify(res.body)}`);
    }

    // And one sent over MQTT, taken by one of the three instances.
    const backend = await connectAsync(services.mqtt.url, { clientId: 'cluster-backend' });
    const viaMqtt = randomUUID();
    await backend.publishAsync(
      'iot/devices/lb-1/commands',
      JSON.stringify({ id: viaMqtt, name: 'reboot', params: {} }),
      { qos: 1 },
    );
    await backend.endAsync();
    await waitUntil(
      async () =>
        (await api(haproxy.url, 'GET', `/v1/commands/${viaMqtt}`)).body?.state === 'succeeded',
      { message: 'the MQTT command to succeed' },
    );

    // Kill the instance holding lb-0, while lb-0 sits on a reboot that instance sent.
    const victimId = holders[0] as string;
    const victim = victimId.replace('gw-', '');
    const stuck = await api(haproxy.url, 'POST', '/v1/devices/lb-0/commands', {
      name: 'reboot',
      params: {},
      timeoutMs: 120_000,
    });
    await waitUntil(
      async () =>
        (await api(haproxy.url, 'GET', `/v1/commands/${stuck.body.id}`)).body.state === 'sent',
      { message: 'the reboot to be sent' },
    );
    const victims = devices.filter((_, i) => holders[i] === victimId);
    // A device on the victim that will not come back: the others must declare it offline.
    const victimGateway = gateways.get(victim) as GatewayProcess;
    const gone = await api(a.url, 'POST', '/v1/devices', { id: 'lb-gone', type: 'thermostat' });
    const goneDevice = await TestDevice.connect(victimGateway.url, gone.body.token);
    await waitUntil(async () => (await holderOf('lb-gone')) === victimId, {
      message: 'lb-gone online on the victim',
    });
    await waitUntil(() => devices.every((d) => d.acked.size > 50), {
      message: 'load before the kill',
    }).catch((err: Error) => {
      throw new Error(
        `${err.message}: ${devices.map((d) => `${d.id} ${d.acked.size} ${d.device?.ws.readyState} ${d.sessions}`)}`,
      );
    });
    const killedAt = Date.now();
    await victimGateway.kill('SIGKILL');
    const survivor = (gateways.get(names.find((n) => n !== victim) as string) as GatewayProcess)
      .url;

    // The others notice the lease ran out (INSTANCE_LEASE_MS, 10 s, plus at most a third of it
    // until their next renewal; the times are printed, not asserted, as the machine is shared),
    // settle the reboot and take the devices in.
    const settled = await waitUntil(
      async () => {
        const c = (await api(survivor, 'GET', `/v1/commands/${stuck.body.id}`)).body;
        return c.state === 'timed_out' ? c : undefined;
      },
      { timeoutMs: 40_000, intervalMs: 100, message: 'the lost instance’s reboot to be settled' },
    );
    const detectedMs = Date.now() - killedAt;
    assert.equal(settled.error.code, 'instance_lost');
    await waitUntil(
      async () => {
        for (const d of victims) {
          const h = await holderOf(d.id);
          if (h === undefined || h === victimId) return false;
        }
        return true;
      },
      { timeoutMs: 20_000, message: "the lost instance's devices on the survivors" },
    );
    const offline = await waitUntil(
      async () => {
        const d = (await api(survivor, 'GET', '/v1/devices/lb-gone')).body.device;
        return d.online ? undefined : Date.now() - killedAt;
      },
      { timeoutMs: 40_000, intervalMs: 100, message: 'lb-gone offline' },
    );
    goneDevice.close();
    process.stdout.write(`# lb-gone offline ${offline} ms after kill -9\n`);
    process.stdout.write(
      `# instance loss noticed and its sent command settled ${detectedMs} ms after kill -9\n`,
    );

    // Commands still reach a moved device, once.
    const moved = victims[0] as RoamingDevice;
    const after = await api(survivor, 'POST', `/v1/devices/${moved.id}/commands?wait=5000`, {
      name: 'set_setpoint',
      params: { setpoint: 22 },
    });
    assert.equal(after.body.state, 'succeeded');

    // The instance comes back with its data directory: its spool is replayed.
    await start(victim);
    for (const d of devices) d.stop();
    for (const d of devices) {
      let missing: number[] = [];
      await waitUntil(
        async () => {
          const rows = await services.influx.query(
            `SELECT temperature FROM telemetry WHERE device_id = '${d.id}'`,
            'iot',
          );
          const stored = rows.map((r) => Number(r.time));
          const set = new Set(stored);
          assert.equal(set.size, stored.length, `${d.id}: a reading stored twice`);
          missing = [...d.acked].filter((ts) => !set.has(ts));
          return missing.length === 0;
        },
        { timeoutMs: 30_000, intervalMs: 250, message: `acked readings of ${d.id} in InfluxDB` },
      );
    }
    const twice = [...deliveries].filter(([, n]) => n > 1);
    assert.deepEqual(twice, [], 'no command delivered twice');
    assert.ok(
      victims.every((d) => d.sessions >= 2),
      'the lost instance’s devices reconnected',
    );
  });

  it('replaces a session through HAProxy: the first gets 4000, the status ends online with the new one', async () => {
    await everyInstanceUp();
    const token = await provision('lb-takeover');
    const topic = 'iot/devices/lb-takeover/status';
    const barrierTopic = 'iot/devices/lb-takeover-barrier/status';
    const statuses: Array<{ online: boolean; sessionId: string; reason: string }> = [];
    const observer = await connectAsync(services.mqtt.url, {
      clientId: 'cluster-takeover-observer',
    });
    let barrierOffline = false;
    observer.on('message', (t, payload) => {
      const status = JSON.parse(String(payload));
      if (t === topic) statuses.push(status);
      else if (t === barrierTopic && !status.online) {
        barrierOffline = true;
      }
    });
    await observer.subscribeAsync(topic, { qos: 1 });
    try {
      const first = await TestDevice.connect(haproxy.url, token);
      const oldHolder = await heldBy('lb-takeover', first.hello?.sessionId);
      const second = await connectAvoiding(oldHolder, token);
      assert.equal((await first.waitClosed(10_000)).code, 4000);
      const newHolder = await heldBy('lb-takeover', second.hello?.sessionId);
      assert.notEqual(newHolder, oldHolder, 'the second connection landed on another instance');

      // A device that comes and goes on the old instance: its statuses leave through the same
      // bridge after anything the replaced session could have published, so once its offline is
      // in, the old instance has said all it will about lb-takeover.
      const barrierToken = await provision('lb-takeover-barrier');
      const oldUrl = (gateways.get(oldHolder.replace('gw-', '')) as GatewayProcess).url;
      const barrier = await TestDevice.connect(oldUrl, barrierToken);
      barrier.close();
      await observer.subscribeAsync(barrierTopic, { qos: 1 });
      await waitUntil(() => barrierOffline, { message: 'the barrier device offline on MQTT' });
      const last = await waitUntil(
        () => {
          const s = statuses.at(-1);
          return s?.sessionId === second.hello?.sessionId ? s : undefined;
        },
        { message: "the new session's status on MQTT" },
      );
      assert.equal(last.online, true);
      assert.ok(
        !statuses.some((s) => !s.online && s.sessionId === first.hello?.sessionId),
        `no offline status for the replaced session: ${JSON.stringify(statuses)}`,
      );
      second.close();
      await second.waitClosed();
    } finally {
      await observer.endAsync();
    }
  });

  it('delivers a queued command when the device comes back through HAProxy on another instance', async () => {
    await everyInstanceUp();
    const token = await provision('lb-queued');
    const first = await TestDevice.connect(haproxy.url, token);
    const oldHolder = await heldBy('lb-queued', first.hello?.sessionId);
    first.close();
    await first.waitClosed();
    await waitUntil(
      async () => !(await api(haproxy.url, 'GET', '/v1/devices/lb-queued')).body.device.online,
      { message: 'lb-queued offline' },
    );
    const queued = await api(haproxy.url, 'POST', '/v1/devices/lb-queued/commands', {
      name: 'reboot',
      params: {},
    });
    assert.equal(queued.body.state, 'queued');
    const again = await connectAvoiding(oldHolder, token);
    const frame = await again.next((f) => f.type === 'command', 10_000);
    assert.equal(frame.id, queued.body.id);
    assert.notEqual(await heldBy('lb-queued', again.hello?.sessionId), oldHolder);
    again.send({ type: 'command_result', id: frame.id, status: 'succeeded' });
    await waitUntil(
      async () =>
        (await api(haproxy.url, 'GET', `/v1/commands/${frame.id}`)).body.state === 'succeeded',
      { message: 'the queued command to succeed' },
    );
    await roundTrip(again);
    // `next` took the one command frame; a second delivery would be left here.
    assert.deepEqual(commandFrames(again), [], 'delivered once');
    again.close();
  });

  it('fires a per-second schedule once per second with three instances', async () => {
    await everyInstanceUp();
    const token = await provision('lb-sched', { group: 'lb-sched' });
    const device = await TestDevice.connect(haproxy.url, token);
    const received = autoAnswer(device);
    await heldBy('lb-sched', device.hello?.sessionId);
    const created = await api(haproxy.url, 'POST', '/v1/schedules', {
      cron: '* * * * * *',
      timezone: 'UTC',
      selector: { labels: { group: 'lb-sched' } },
      command: { name: 'reboot' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    // Made through one instance; the other two arm it at their next re-read (within 5 s), so
    // eight runs cover slots for which all three raced.
    const runs = await waitUntil(
      async () => {
        const r = await api(haproxy.url, 'GET', `/v1/schedules/${created.body.id}/runs?limit=100`);
        return r.body.runs.length >= 8
          ? (r.body.runs as Array<{ at: string; outcome: string }>)
          : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, message: 'eight runs of the schedule' },
    );
    assert.equal(
      (await api(haproxy.url, 'DELETE', `/v1/schedules/${created.body.id}`)).status,
      204,
    );
    const seconds = runs.map((r) => Math.floor(Date.parse(r.at) / 1000));
    assert.equal(new Set(seconds).size, seconds.length, `one run per second: ${seconds}`);
    await roundTrip(device);
    const ids = received.map((f) => f.id);
    assert.equal(new Set(ids).size, ids.length, 'no command delivered twice');
    assert.deepEqual(
      runs.filter((r) => r.outcome !== 'ok'),
      [],
      'every run sent its command',
    );
    device.close();
  });
});
