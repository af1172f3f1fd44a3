import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { InfluxDBServer } from '@iot-gateway/testing';
import { startInfluxDB, waitUntil } from '@iot-gateway/testing';
import type { TestGateway } from '../../../gateway/test/support/test-gateway.ts';
import { ADMIN_TOKEN, startTestGateway } from '../../../gateway/test/support/test-gateway.ts';
import type { Summary } from '../../src/sim/status-report.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

interface Run {
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  readonly exit: Promise<number | null>;
}

/** Starts the simulator CLI as its own process, as a user would. */
function sim(args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, ADMIN_TOKEN, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: Run = {
    child,
    stdout: '',
    stderr: '',
    exit: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
  };
  child.stdout!.on('data', (d: Buffer) => {
    run.stdout += d;
  });
  child.stderr!.on('data', (d: Buffer) => {
    run.stderr += d;
  });
  return run;
}

/** Points stored in a database's telemetry, summed over devices (every reading has all metrics). */
async function storedReadings(influx: InfluxDBServer, db: string): Promise<number> {
  const rows = await influx.query('SELECT COUNT(*) FROM telemetry GROUP BY device_id', db);
  let total = 0;
  for (const row of rows) {
    let most = 0;
    for (const [column, value] of Object.entries(row)) {
      if (column.startsWith('count_') && typeof value === 'number') most = Math.max(most, value);
    }
    total += most;
  }
  return total;
}

describe('simulator CLI (child process, real gateway, real InfluxDB)', () => {
  let influx: InfluxDBServer;
  const gateways: TestGateway[] = [];
  before(async () => {
    influx = await startInfluxDB();
  });
  after(async () => {
    for (const gw of gateways) await gw.stop();
    await influx.stop();
  });

  it('runs 200 mixed devices, shows progress, and its acked count matches InfluxDB', async () => {
    const gw = await startTestGateway({ INFLUX_URL: `${influx.url}/sim` });
    gateways.push(gw);
    const run = sim([
      '--gateway',
      gw.url,
      '--devices',
      '200',
      '--types',
      'thermostat,gps-tracker,power-meter',
      '--rate',
      '2',
      '--duration',
      '5',
      '--provision',
      '--firmware-ms',
      '200',
      '--status-interval',
      '1',
      '--json',
    ]);
    // While it runs, the built-in handlers answer operators' commands.
    await waitUntil(() => run.stderr.includes('connected 200/200'), {
      timeoutMs: 20_000,
      message: 'every device connected',
    });
    const send = (id: string, name: string, params: object) =>
      gw.api('POST', `/v1/devices/${id}/commands?wait=20000`, { name, params });
    const [setpoint, firmware, reboot, interval] = await Promise.all([
      send('sim-00001', 'set_setpoint', { setpoint: 23.5 }),
      send('sim-00002', 'firmware_update', { version: '2.1.0' }),
      send('sim-00003', 'reboot', { delayMs: 10 }),
      send('sim-00004', 'set_interval', { intervalMs: 250 }),
    ]);
    assert.equal(setpoint.body.state, 'succeeded', JSON.stringify(setpoint.body));
    assert.deepEqual(setpoint.body.result.setpoint, 23.5);
    assert.equal(firmware.body.state, 'succeeded', JSON.stringify(firmware.body));
    assert.deepEqual(firmware.body.result, { version: '2.1.0', previous: '1.0.0' });
    assert.equal(reboot.body.state, 'succeeded');
    assert.equal(interval.body.state, 'succeeded');

    assert.equal(await run.exit, 0, run.stderr);
    const summary = JSON.parse(run.stdout) as Summary;
    assert.equal(summary.devices, 200);
    assert.ok(summary.acked >= 1000, `acked ${summary.acked}`);
    assert.equal(summary.acked, summary.sent);
    assert.equal(summary.unacked, 0);
    assert.deepEqual(summary.rejected, {});
    assert.equal(summary.commands.succeeded, 4);
    assert.ok(summary.ackLatencyMs.p50 !== null && summary.ackLatencyMs.p99 !== null);
    const statusLines = run.stderr.split('\n').filter((l) => /^\[\d+s\] connected/.test(l));
    assert.ok(statusLines.length >= 3, `periodic status lines on stderr:\n${run.stderr}`);
    assert.match(run.stderr, /p50 [\d.]+ ms p99 [\d.]+ ms/);

    // The reboot made one device reconnect and resend; InfluxDB still holds each reading once.
    let stored = 0;
    await waitUntil(
      async () => {
        stored = await storedReadings(influx, 'sim');
        return stored >= summary.acked;
      },
      { timeoutMs: 15_000, message: 'acked readings in InfluxDB' },
    ).catch(() => undefined);
    assert.equal(stored, summary.acked);
    const events = await influx.query(
      `SELECT COUNT(data) FROM events WHERE device_id = 'sim-00002' AND "name" = 'firmware.progress'`,
      'sim',
    );
    assert.equal(events[0]?.count, 5, 'firmware progress 0, 25, 50, 75, 100 %');
  });

  it('under chaos, acked still matches InfluxDB and every fault is counted', async () => {
    const gw = await startTestGateway({
      INFLUX_URL: `${influx.url}/chaos`,
      HEARTBEAT_INTERVAL_MS: '200',
      HEARTBEAT_TIMEOUT_MS: '600',
    });
    gateways.push(gw);
    const run = sim([
      '--gateway',
      gw.url,
      '--devices',
      '40',
      '--types',
      'thermostat,power-meter',
      '--rate',
      '10',
      '--duration',
      '4',
      '--provision',
      '--id-prefix',
      'chaos',
      '--invalid',
      '0.1',
      '--disconnects',
      '300',
      '--zombies',
      '0.1',
      '--churn',
      '120',
      '--churn-offline',
      '0.5',
      '--json',
    ]);
    // Rejected readings were sent on purpose: the exit code stays 0.
    assert.equal(await run.exit, 0, `${run.stderr}\n${run.stdout}`);
    const s = JSON.parse(run.stdout) as Summary;
    assert.ok(s.chaos.invalidReadings > 0 && s.chaos.malformedFrames > 0);
    assert.deepEqual(Object.keys(s.rejected), ['invalid_telemetry']);
    assert.equal(s.rejected.invalid_telemetry, s.chaos.invalidReadings);
    assert.ok((s.frameErrors.invalid_json ?? 0) + (s.frameErrors.invalid_frame ?? 0) > 0);
    assert.ok(
      s.chaos.disconnects > 0 && s.chaos.churned > 0 && s.chaos.zombies > 0,
      JSON.stringify(s.chaos),
    );
    assert.ok(
      (s.disconnects.heartbeat_timeout ?? 0) > 0,
      `zombies dropped: ${JSON.stringify(s.disconnects)}`,
    );
    assert.equal(s.unacked, 0);
    assert.equal(s.acked + s.rejected.invalid_telemetry!, s.sent);
    let stored = 0;
    await waitUntil(
      async () => {
        stored = await storedReadings(influx, 'chaos');
        return stored >= s.acked;
      },
      { timeoutMs: 15_000, message: 'acked readings in InfluxDB' },
    ).catch(() => undefined);
    assert.equal(stored, s.acked, 'resent readings are stored once');
  });

  it('spreads devices over child processes, and stops cleanly on SIGTERM with a summary', async () => {
    const gw = await startTestGateway({ INFLUX_URL: `${influx.url}/multi` });
    gateways.push(gw);
    const run = sim([
      '--gateway',
      gw.url,
      '--devices',
      '60',
      '--processes',
      '2',
      '--rate',
      '5',
      '--provision',
      '--id-prefix',
      'multi',
      '--status-interval',
      '0.5',
      '--json',
    ]);
    // No --duration: it runs until told to stop.
    await waitUntil(() => /connected 60\/60 \| sent [1-9]/.test(run.stderr), {
      timeoutMs: 30_000,
      message: 'both children connected and sending',
    });
    run.child.kill('SIGTERM');
    assert.equal(await run.exit, 0, run.stderr);
    const s = JSON.parse(run.stdout) as Summary;
    assert.equal(s.processes, 2);
    assert.equal(s.devices, 60);
    assert.equal(s.sessions, 60);
    assert.ok(s.acked > 0 && s.acked === s.sent);
    let stored = 0;
    await waitUntil(
      async () => {
        stored = await storedReadings(influx, 'multi');
        return stored >= s.acked;
      },
      { timeoutMs: 15_000, message: 'acked readings in InfluxDB' },
    ).catch(() => undefined);
    assert.equal(stored, s.acked);
  });

  it('devices whose sessions the gateway ended for good show as stopped, not as sending', async () => {
    const gw = await startTestGateway({ INFLUX_URL: `${influx.url}/revoked` });
    gateways.push(gw);
    const first = sim([
      '--gateway',
      gw.url,
      '--devices',
      '10',
      '--rate',
      '5',
      '--provision',
      '--id-prefix',
      'rotated',
      '--status-interval',
      '0.2',
      '--json',
    ]);
    await waitUntil(() => /connected 10\/10 \| sent [1-9]/.test(first.stderr), {
      timeoutMs: 30_000,
      message: 'the run connected and sending',
    });
    // An operator rotates every device's token: each session is closed with 4001, for good.
    for (let i = 1; i <= 10; i++) {
      const res = await gw.api(
        'POST',
        `/v1/devices/rotated-${String(i).padStart(5, '0')}/credentials`,
      );
      assert.equal(res.status, 200);
    }
    const code = await Promise.race([
      first.exit,
      waitUntil(() => false, { timeoutMs: 30_000, message: 'the run ends by itself' }),
    ]);
    assert.equal(code, 1, first.stderr);
    // Every status line once all had stopped shows them stopped and sending nothing (the line
    // itself is checked in status-report.test.ts; the run may end before the next one).
    const lines = first.stderr.split('\n').filter((l) => /^\[\d+s\] connected/.test(l));
    for (const line of lines.filter((l) => l.includes('stopped 10'))) {
      assert.match(line, /connected 0\/10 \| stopped 10 \(device_revoked=10\)/);
    }
    assert.match(first.stderr, /every device stopped \(device_revoked=10\); the run ends/);
    assert.doesNotMatch(first.stderr, /errors [^\n]*device_revoked/);
    const s = JSON.parse(first.stdout) as Summary;
    assert.deepEqual(s.gaveUp, { device_revoked: 10 });
    assert.equal(s.rejected.device_revoked, undefined, 'a revoked session is no rejection');
    assert.equal(s.frameErrors.device_revoked, undefined);
    assert.equal(s.acked + s.unacked, s.sent);
  });

  it('`npm run sim -- --help` documents every flag; bad flags are all reported at once', async () => {
    const help = spawn('npm', ['run', '--silent', 'sim', '--', '--help'], { cwd: ROOT });
    let text = '';
    help.stdout.on('data', (d: Buffer) => {
      text += d;
    });
    const code = await new Promise((resolve) => help.on('exit', resolve));
    assert.equal(code, 0);
    for (const flag of [
      '--gateway',
      '--devices',
      '--provision',
      '--tokens',
      '--rate',
      '--invalid',
      '--zombies',
      '--churn',
      '--json',
    ]) {
      assert.ok(text.includes(flag), `--help mentions ${flag}`);
    }
    const bad = sim(['--devices', '-3', '--rate', 'fast', '--nope'], { ADMIN_TOKEN: '' });
    assert.equal(await bad.exit, 2);
    assert.match(bad.stderr, /Invalid options \(4 problems\)/);
    assert.match(bad.stderr, /--nope: unknown flag/);
    assert.match(bad.stderr, /--devices/);
    assert.match(bad.stderr, /--rate/);
    assert.match(bad.stderr, /give --provision \(with ADMIN_TOKEN set\) or --tokens FILE/);
  });
});
