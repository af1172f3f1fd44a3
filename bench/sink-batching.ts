// Measures InfluxDB sink batching (throughput and ack latency for several batch settings) and
// spool replay speed against a real influxd: `node --import tsx bench/sink-batching.ts`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startInfluxDB } from '@iot-gateway/testing';
import { createLogger } from '../gateway/src/logger.ts';
import { GatewayMetrics } from '../gateway/src/metrics.ts';
import { InfluxSink } from '../gateway/src/sink/influx-sink.ts';
import { InfluxWriter } from '../gateway/src/sink/influx-writer.ts';
import { Spool } from '../gateway/src/spool/spool.ts';

const influx = await startInfluxDB();
const log = createLogger('silent');
const N = 200_000;
function line(i: number, dev: number) {
  return `telemetry,device_id=dev-${dev},device_type=thermostat temperature=${20 + (i % 100) / 10},humidity=50 ${1_700_000_000_000 + i}`;
}
async function live(batchSize: number, flushMs: number, db: string) {
  const dir = mkdtempSync(join(tmpdir(), 'm-'));
  const spool = new Spool({ dir, maxBytes: 1e9, fsync: 'batch' });
  await spool.open();
  const sink = new InfluxSink(
    new InfluxWriter(`${influx.url}/${db}`, { timeoutMs: 5000, maxSockets: 6 }),
    spool,
    { metrics: new GatewayMetrics({ defaultMetrics: false }), log },
    { batchSize, flushMs, maxInFlight: 4, deadLetterFile: join(dir, 'dl') },
  );
  await sink.start();
  const t = performance.now();
  const cpu = process.cpuUsage();
  const lat: number[] = [];
  // 1000 devices, each with a window of 20 frames in flight: like a fleet waiting for acks.
  let next = 0;
  await Promise.all(
    Array.from({ length: 1000 }, async (_, dev) => {
      while (next < N) {
        const i = next++;
        const s = performance.now();
        await sink.write([line(i, dev)]);
        lat.push(performance.now() - s);
      }
    }),
  );
  const ms = performance.now() - t;
  const c = process.cpuUsage(cpu);
  lat.sort((a, b) => a - b);
  console.log(
    `live batch=${batchSize} flush=${flushMs}: ${Math.round(N / (ms / 1000))} pts/s, p50 ${lat[Math.floor(lat.length / 2)]?.toFixed(1)} ms p99 ${lat[Math.floor(lat.length * 0.99)]?.toFixed(1)} ms, gateway cpu ${((c.user + c.system) / N).toFixed(1)} us/pt, spooled ${spool.records}`,
  );
  await sink.close();
  rmSync(dir, { recursive: true, force: true });
}
for (const [b, f] of [
  [5000, 0],
  [1000, 0],
  [10000, 0],
  [5000, 5],
  [5000, 20],
] as const)
  await live(b, f, `live${b}_${f}`);

// Replay: fill a spool, then let a sink drain it.
const dir = mkdtempSync(join(tmpdir(), 'r-'));
const spool = new Spool({ dir, maxBytes: 1e10, fsync: 'none' });
await spool.open();
for (let k = 0; k < N; k += 1000)
  await spool.append(Array.from({ length: 1000 }, (_, j) => line(k + j, (k + j) % 1000)));
const sink = new InfluxSink(
  new InfluxWriter(`${influx.url}/replay`, { timeoutMs: 5000, maxSockets: 6 }),
  spool,
  { metrics: new GatewayMetrics({ defaultMetrics: false }), log },
  { batchSize: 5000, flushMs: 20, maxInFlight: 4, deadLetterFile: join(dir, 'dl') },
);
const t = performance.now();
await sink.start();
while (spool.records > 0) await new Promise((r) => setTimeout(r, 20));
const ms = performance.now() - t;
console.log(`replay: ${N} points in ${ms.toFixed(0)} ms = ${Math.round(N / (ms / 1000))} pts/s`);
await sink.close();
rmSync(dir, { recursive: true, force: true });
await influx.stop();
