// Zombie devices: sessions that show life once and then stop answering pings (autoPong off) and
// send nothing, all at the same moment; healthy devices beside them keep answering pings. The
// gateway's offline verdicts are read twice: the close frame (4002) each zombie receives, and the
// retained MQTT status the bridge publishes, whose `ts` is when the gateway declared it offline.
import mqtt from 'mqtt';
import WebSocket from 'ws';
import { serveWorker, workerLog } from '../worker-process.ts';

interface Device {
  readonly id: string;
  readonly ws: WebSocket;
  readonly zombie: boolean;
  /** Wall-clock ms and monotonic ms of the last frame written to the socket. */
  lastLifeWall: number;
  lastLifeMono: number;
  closeCode?: number;
  closedMono?: number;
  statusOfflineWall?: number;
  statusReason?: string;
}

export interface ZombieConnectArgs {
  readonly url: string;
  readonly zombies: { readonly ids: readonly string[]; readonly tokens: readonly string[] };
  readonly healthy: { readonly ids: readonly string[]; readonly tokens: readonly string[] };
  readonly mqttUrl: string;
  readonly topicPrefix: string;
}

export interface ZombieOutcome {
  readonly id: string;
  readonly closeCode?: number;
  /** From the last sign of life to the close frame, as the device saw it. */
  readonly closedAfterMs?: number;
  /** From the last sign of life to the offline status's `ts`, as the gateway declared it. */
  readonly offlineAfterMs?: number;
  readonly statusReason?: string;
}

const devices = new Map<string, Device>();
let broker: mqtt.MqttClient | undefined;
// Until `silence`, zombies show life every 500 ms: connecting a thousand of them takes longer
// than the heartbeat timeout, and they must all fall silent at the same moment.
let keepAlive: NodeJS.Timeout | undefined;

function send(device: Device, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    device.ws.send(text, (err) => {
      if (err) return reject(err);
      device.lastLifeWall = Date.now();
      device.lastLifeMono = performance.now();
      resolve();
    });
  });
}

function connectDevice(url: string, id: string, token: string, zombie: boolean): Promise<Device> {
  const ws = new WebSocket(url, {
    headers: { authorization: `Bearer ${token}` },
    perMessageDeflate: false,
    autoPong: !zombie,
  });
  const device: Device = { id, ws, zombie, lastLifeWall: 0, lastLifeMono: 0 };
  devices.set(id, device);
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
    ws.once('close', (code) => {
      device.closeCode = code;
      device.closedMono = performance.now();
    });
    ws.once('message', () => {
      // The hello. A pong frame right away is the first sign of life (the ping that came with
      // the hello goes unanswered), so the session is past its first-frame check.
      void send(device, '{"type":"pong"}').then(() => resolve(device), reject);
    });
  });
}

async function connectAll(args: ZombieConnectArgs): Promise<{ zombies: number; healthy: number }> {
  broker = await mqtt.connectAsync(args.mqttUrl, { clientId: `bench-zombies-${process.pid}` });
  broker.on('message', (_topic, payload) => {
    const status = JSON.parse(payload.toString()) as {
      deviceId: string;
      online: boolean;
      ts: string;
      reason: string;
    };
    const device = devices.get(status.deviceId);
    if (device && !status.online && device.statusOfflineWall === undefined) {
      device.statusOfflineWall = Date.parse(status.ts);
      device.statusReason = status.reason;
    }
  });
  await broker.subscribeAsync(`${args.topicPrefix}/devices/+/status`, { qos: 1 });
  const jobs: Array<[string, string, boolean]> = [
    ...args.zombies.ids.map(
      (id, i) => [id, args.zombies.tokens[i]!, true] as [string, string, boolean],
    ),
    ...args.healthy.ids.map(
      (id, i) => [id, args.healthy.tokens[i]!, false] as [string, string, boolean],
    ),
  ];
  let next = 0;
  const runner = async () => {
    while (next < jobs.length) {
      const [id, token, zombie] = jobs[next++]!;
      await connectDevice(args.url, id, token, zombie);
    }
  };
  keepAlive = setInterval(() => {
    for (const d of devices.values()) {
      if (d.zombie && d.ws.readyState === WebSocket.OPEN) {
        void send(d, '{"type":"pong"}').catch(() => {});
      }
    }
  }, 500);
  await Promise.all(Array.from({ length: 50 }, runner));
  return { zombies: args.zombies.ids.length, healthy: args.healthy.ids.length };
}

serveWorker({
  connect: (args: ZombieConnectArgs) => connectAll(args),
  /** Every zombie sends its last frame now, then falls silent. */
  silence: async () => {
    clearInterval(keepAlive);
    const zombies = [...devices.values()].filter(
      (d) => d.zombie && d.ws.readyState === WebSocket.OPEN,
    );
    await Promise.all(zombies.map((d) => send(d, '{"type":"pong"}')));
    return { silenced: zombies.length };
  },
  /** Waits until every zombie is closed (or `timeoutMs`), then for their MQTT statuses. */
  wait: async ({ timeoutMs, statusGraceMs }: { timeoutMs: number; statusGraceMs: number }) => {
    const zombies = [...devices.values()].filter((d) => d.zombie);
    const deadline = performance.now() + timeoutMs;
    while (zombies.some((d) => d.closeCode === undefined) && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const statusDeadline = performance.now() + statusGraceMs;
    while (
      zombies.some((d) => d.statusOfflineWall === undefined) &&
      performance.now() < statusDeadline
    ) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const outcomes: ZombieOutcome[] = zombies.map((d) => ({
      id: d.id,
      ...(d.closeCode !== undefined ? { closeCode: d.closeCode } : {}),
      ...(d.closedMono !== undefined ? { closedAfterMs: d.closedMono - d.lastLifeMono } : {}),
      ...(d.statusOfflineWall !== undefined
        ? { offlineAfterMs: d.statusOfflineWall - d.lastLifeWall }
        : {}),
      ...(d.statusReason !== undefined ? { statusReason: d.statusReason } : {}),
    }));
    const healthy = [...devices.values()].filter((d) => !d.zombie);
    const healthyClosed = healthy.filter((d) => d.closeCode !== undefined).length;
    if (healthyClosed > 0) workerLog(`${healthyClosed} healthy devices were closed`);
    return { outcomes, healthy: healthy.length, healthyClosed };
  },
  close: async () => {
    clearInterval(keepAlive);
    for (const d of devices.values()) d.ws.terminate();
    await broker?.endAsync();
    return {};
  },
});
