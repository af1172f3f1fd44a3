// (d) What a user would build instead of the gateway: a Socket.IO 4 server that, for each
// `telemetry` emit with an ack callback, validates the reading with zod, writes it to InfluxDB
// with the `influx` package, publishes it with MQTT.js at QoS 1, and acks once the InfluxDB
// write resolved. Written as those libraries' docs show them, without tuning: points are
// collected and written in batches (the influx docs recommend batches of a couple thousand
// points), every BATCH_SIZE points or every FLUSH_MS, whichever comes first, and each accepted
// reading is published on its own once stored, as the gateway's bridge does.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FieldType, InfluxDB, type IPoint } from 'influx';
import mqtt, { type MqttClient } from 'mqtt';
import { Server } from 'socket.io';
import { z } from 'zod';
import { serveWorker } from '../worker-process.ts';

export interface PipelineListenArgs {
  readonly port: number;
  /** `http://host:port` of InfluxDB 1.x. */
  readonly influxUrl: string;
  readonly database: string;
  readonly mqttUrl: string;
  readonly clientId: string;
}

export interface PipelineStats {
  readonly cpu: NodeJS.CpuUsage;
  readonly rss: number;
  /** Readings acked after their InfluxDB write resolved. */
  readonly acked: number;
  readonly invalid: number;
  readonly writeErrors: number;
  /** QoS 1 messages handed to MQTT.js, and those the broker acknowledged (PUBACK). */
  readonly published: number;
  readonly delivered: number;
  readonly publishErrors: number;
  readonly connections: number;
}

const BATCH_SIZE = 2_000;
const FLUSH_MS = 10;
const DEVICE_TYPE = 'thermostat';
// The gateway's default prefix, so a backend would read both from the same topics.
const TOPIC_PREFIX = 'iot';

// The thermostat's metrics the load generator sends, with the device type's ranges.
const Reading = z.object({
  seq: z.number().int().nonnegative(),
  ts: z.number().int().positive(),
  metrics: z.object({
    temperature: z.number().min(-40).max(85),
    humidity: z.number().min(0).max(100),
  }),
});
type Reading = z.infer<typeof Reading>;

type Ack = (answer?: { ok: boolean; error?: string }) => void;

let influx: InfluxDB;
let broker: MqttClient;
let acked = 0;
let invalid = 0;
let writeErrors = 0;
let published = 0;
let delivered = 0;
let publishErrors = 0;

interface Pending {
  readonly deviceId: string;
  readonly reading: Reading;
  readonly ack: Ack;
}

let batch: IPoint[] = [];
let waiting: Pending[] = [];
let flushTimer: NodeJS.Timeout | undefined;

function onPublished(err?: Error): void {
  if (err) publishErrors++;
  else delivered++;
}

function flush(): void {
  clearTimeout(flushTimer);
  flushTimer = undefined;
  if (batch.length === 0) return;
  const points = batch;
  const settled = waiting;
  batch = [];
  waiting = [];
  influx.writePoints(points, { precision: 'ms' }).then(
    () => {
      for (const { deviceId, reading, ack } of settled) {
        acked++;
        ack({ ok: true });
        published++;
        broker.publish(
          `${TOPIC_PREFIX}/devices/${deviceId}/telemetry`,
          JSON.stringify({
            deviceId,
            type: DEVICE_TYPE,
            seq: reading.seq,
            ts: new Date(reading.ts).toISOString(),
            metrics: reading.metrics,
          }),
          { qos: 1 },
          onPublished,
        );
      }
    },
    (err: unknown) => {
      writeErrors++;
      for (const { ack } of settled) ack({ ok: false, error: String(err) });
    },
  );
}

function store(deviceId: string, reading: Reading, ack: Ack): void {
  batch.push({
    measurement: 'telemetry',
    tags: { device_id: deviceId, device_type: DEVICE_TYPE },
    fields: reading.metrics,
    timestamp: reading.ts,
  });
  waiting.push({ deviceId, reading, ack });
  if (batch.length >= BATCH_SIZE) flush();
  else flushTimer ??= setTimeout(flush, FLUSH_MS);
}

const server = createServer();
const io = new Server(server, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
});
io.on('connection', (socket) => {
  // The load generator's Socket.IO devices carry no identity, as in (b): the connection's id
  // stands for the device, which keeps each device's points apart in InfluxDB.
  const deviceId = socket.id;
  socket.on('telemetry', (data: unknown, ack?: Ack) => {
    if (typeof ack !== 'function') return;
    const parsed = Reading.safeParse(data);
    if (!parsed.success) {
      invalid++;
      ack({ ok: false, error: parsed.error.message });
      return;
    }
    store(deviceId, parsed.data, ack);
  });
});

serveWorker({
  listen: async (args: PipelineListenArgs) => {
    const url = new URL(args.influxUrl);
    influx = new InfluxDB({
      host: url.hostname,
      port: Number(url.port),
      database: args.database,
      schema: [
        {
          measurement: 'telemetry',
          fields: { temperature: FieldType.FLOAT, humidity: FieldType.FLOAT },
          tags: ['device_id', 'device_type'],
        },
      ],
    });
    const names = await influx.getDatabaseNames();
    if (!names.includes(args.database)) await influx.createDatabase(args.database);
    broker = await mqtt.connectAsync(args.mqttUrl, { clientId: args.clientId });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: args.port, host: '127.0.0.1', backlog: 4096 }, resolve);
    });
    return { port: (server.address() as AddressInfo).port };
  },
  stats: (): PipelineStats => ({
    cpu: process.cpuUsage(),
    rss: process.memoryUsage.rss(),
    acked,
    invalid,
    writeErrors,
    published,
    delivered,
    publishErrors,
    connections: io.engine.clientsCount,
  }),
  close: async () => {
    flush();
    await io.close();
    await broker?.endAsync();
  },
});
