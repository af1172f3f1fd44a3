// A smoke test of the bench's own parts, a few seconds long: no InfluxDB, Mosquitto or gateway,
// and no assertion on how fast anything is. Run with `npm run bench:test`.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { freePort } from '@iot-gateway/testing';
import { LatencyHistogram } from '../../device-sim/src/sim/latency-histogram.ts';
import { BenchContext } from '../src/bench-context.ts';
import { summarizeProfile } from '../src/cpu-profile.ts';
import { runLoadPhase } from '../src/load-phase.ts';
import { parseOptions } from '../src/options.ts';
import { rawStorm } from '../src/scenarios/reconnect.ts';
import { WorkerProcess } from '../src/worker-process.ts';

test('the histogram keeps percentiles within 1/64 and merges across processes', () => {
  const a = new LatencyHistogram();
  const b = new LatencyHistogram();
  for (let us = 1; us <= 10_000; us++) (us % 2 === 0 ? a : b).record(us);
  const merged = LatencyHistogram.from([a.snapshot(), b.snapshot()]);
  assert.equal(merged.count, 10_000);
  assert.equal(merged.max, 10_000);
  for (const [p, exact] of [
    [50, 5_000],
    [99, 9_900],
  ] as const) {
    const value = merged.percentile(p);
    assert.ok(Math.abs(value - exact) / exact <= 1 / 64, `p${p} = ${value}, exact ${exact}`);
  }
});

test('the options name the scenarios and refuse unknown ones', () => {
  const all = parseOptions([]);
  assert.deepEqual(
    [...all.scenarios],
    ['throughput', 'commands', 'sessions', 'liveness', 'reconnect'],
  );
  assert.equal(all.writeMarkdown, true);
  const quick = parseOptions(['sessions', '--quick']);
  assert.deepEqual([...quick.scenarios], ['sessions']);
  assert.equal(quick.writeMarkdown, false);
  assert.throws(() => parseOptions(['nonsense']), /unknown scenario/);
  // The abuse run measures robustness, not speed: only when named.
  const abuse = parseOptions(['abuse', '--phase=7']);
  assert.deepEqual([...abuse.scenarios], ['abuse']);
  assert.equal(abuse.abuse.phaseS, 7);
  assert.throws(() => parseOptions(['--devices=0']), /positive/);
});

test('the profile summary charges library time to the project function that called it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-profile-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'test.cpuprofile');
  const frame = (functionName: string, url: string) => ({
    functionName,
    url,
    lineNumber: 0,
    columnNumber: 0,
    scriptId: '0',
  });
  writeFileSync(
    file,
    JSON.stringify({
      nodes: [
        { id: 1, callFrame: frame('(root)', ''), children: [2, 4] },
        {
          id: 2,
          callFrame: frame('persist', 'file:///x/gateway/src/sessions/device-session.ts'),
          children: [3],
        },
        { id: 3, callFrame: frame('parse', 'file:///x/node_modules/zod/index.js') },
        { id: 4, callFrame: frame('(idle)', '') },
      ],
      // Each sample lasts until the next one: 2 ms in zod under persist, 1 ms in persist, 1 ms idle.
      samples: [3, 3, 2, 4, 4],
      timeDeltas: [0, 1000, 1000, 1000, 1000],
    }),
  );
  const summary = summarizeProfile(file);
  assert.equal(summary.busyMs, 3);
  assert.equal(summary.idleMs, 1);
  assert.match(summary.projectCallers[0]?.name ?? '', /^persist /);
  assert.equal(summary.projectCallers[0]?.percent, 100);
  assert.equal(summary.sources[0]?.name, 'zod');
});

test('a load phase against the raw ws sink acks every frame it sends', async () => {
  const ctx = new BenchContext(parseOptions(['throughput', '--quick']), tmpdir());
  const server = await WorkerProcess.start('raw-ws-server', 'smoke raw ws');
  after(async () => {
    await server.stop();
    await ctx.close();
  });
  const { port } = await server.call<{ port: number }>('listen', { port: await freePort() });
  const result = await runLoadPhase(ctx, {
    name: 'smoke',
    url: `ws://127.0.0.1:${port}/v1/connect`,
    protocol: 'ws',
    devices: 4,
    window: 4,
    clients: 1,
    warmupS: 0.2,
    durationS: 0.5,
    serverCpu: async () => {
      const { cpu } = await server.call<{ cpu: NodeJS.CpuUsage }>('stats');
      return (cpu.user + cpu.system) / 1e6;
    },
  });
  assert.ok(result.frames > 0);
  assert.equal(result.errors, 0);
  assert.equal(result.totals.unacked, 0);
  assert.equal(result.totals.acked, result.totals.sent);
  assert.ok(result.latency.count > 0);
  assert.ok(result.serverCpuUsPerFrame > 0);
});

test('after the raw ws server restarts, every device of the storm comes back', async () => {
  const ctx = new BenchContext(parseOptions(['reconnect', '--quick', '--storm=20']), tmpdir());
  const client = await WorkerProcess.start('storm-client', 'smoke storm');
  after(async () => {
    await client.stop();
    await ctx.close();
  });
  const result = await rawStorm(ctx, [client]);
  assert.equal(result.devices, 20);
  assert.equal(result.complete, true, result.incomplete);
  assert.equal(result.onlineAtEnd, 20);
  // Every device lost its socket when the server's process exited, and came back on its own.
  assert.ok(result.attempts >= 20);
  assert.ok(result.serverCpuS >= 0);
});
