// The short soak (`npm run soak -- --short`): one minute, 200 devices, one fault of each kind,
// every check of the full run. Ack latency and memory growth are left to the ten-minute run
// (BENCHMARKS.md): a one-minute run on a machine that runs the rest of the suite beside it
// measures the neighbours, and tests do not judge speed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SOAK = fileURLToPath(new URL('../soak.ts', import.meta.url));

test('the short soak: acked readings stored once, commands once, statuses right after every fault', {
  timeout: 240_000,
}, async () => {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      SOAK,
      '--short',
      '--json',
      '--steady-p99-ms',
      '600000',
      '--fault-p99-ms',
      '600000',
      '--rss-tolerance',
      '10',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk).slice(-20_000);
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.ok(stdout.trim().startsWith('{'), `no result; the soak said:\n${stderr}`);
  const result = JSON.parse(stdout) as {
    ok: boolean;
    checks: { name: string; ok: boolean; detail: string; examples?: string[] }[];
    figures: { readings: { acked: number }; commands: { delivered: number } };
    plan: { steps: { kind: string }[] };
  };
  const failed = result.checks.filter((c) => !c.ok);
  assert.deepEqual(failed, [], stderr);
  assert.equal(code, 0);
  // One fault of each kind happened, and the run did real work through them.
  const kinds = result.plan.steps.map((s) => s.kind).sort();
  assert.deepEqual(kinds, [
    'gateway_kill',
    'influx_kill',
    'influx_restart',
    'mosquitto_restart',
    'rss_baseline',
  ]);
  assert.ok(result.figures.readings.acked > 1000, JSON.stringify(result.figures));
  assert.ok(result.figures.commands.delivered > 10, JSON.stringify(result.figures));
  assert.equal(result.checks.length, 10);
});
