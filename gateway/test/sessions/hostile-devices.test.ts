import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { InfluxDBServer } from '@iot-gateway/testing';
import { freePort, startInfluxDB, waitUntil } from '@iot-gateway/testing';
import type { StatusChange } from '../../src/events/device-bus.ts';
import { encodeErrorFrame, MAX_ERROR_FRAME_BYTES } from '../../src/sessions/device-session.ts';
import { GatedSink } from '../support/gated-sink.ts';
import { GatewayProcess } from '../support/gateway-process.ts';
import {
  RawDevice,
  repeated,
  textFrame,
  upgradeRequest,
  wrongTypesBatch,
} from '../support/raw-device.ts';
import { type Frame, type RefusedError, TestDevice } from '../support/test-device.ts';
import type { TestGateway } from '../support/test-gateway.ts';
import { ADMIN_TOKEN, startTestGateway } from '../support/test-gateway.ts';

/** One reading with 64 metrics of the wrong type: about 1 KB in, an error frame of 4 KB out. */
const WRONG_TYPES_WIDE = JSON.stringify({
  type: 'telemetry',
  seq: 1,
  metrics: Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`m${i}`, null])),
});

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
  return Number(kb) * 1024;
}

describe('error frames are bounded', () => {
  it('keeps at most 100 issues and 4 KiB, and says how many were left out', () => {
    const issues = Array.from({ length: 1500 }, (_, i) => ({
      path: `readings.${i}.metrics.a`,
      message: 'x'.repeat(5000),
    }));
    const text = encodeErrorFrame(7, 'invalid_frame', 'the frame does not match', issues);
    const frame = JSON.parse(text);
    assert.ok(Buffer.byteLength(text) <= MAX_ERROR_FRAME_BYTES, `${Buffer.byteLength(text)} B`);
    assert.ok(frame.issues.length >= 1 && frame.issues.length <= 100);
    assert.match(frame.message, new RegExp(`first ${frame.issues.length} of 1500 issues`));
    assert.equal(frame.seq, 7);
    assert.ok(frame.issues[0].message.length <= 200);
  });

  it('leaves a small error frame as it is', () => {
    const issues = [{ path: 'seq', message: 'must be greater than 3' }];
    const frame = JSON.parse(
      encodeErrorFrame(3, 'seq_not_increasing', 'seq must exceed 3', issues),
    );
    assert.deepEqual(frame, {
      type: 'error',
      seq: 3,
      code: 'seq_not_increasing',
      message: 'seq must exceed 3',
      issues,
    });
  });
});

describe('hostile devices against one gateway', () => {
  let gw: TestGateway;
  const statuses: StatusChange[] = [];
  const logs: string[] = [];

  before(async () => {
    const sink = new GatedSink();
    sink.open();
    gw = await startTestGateway(
      {
        RATE_LIMIT_PER_SEC: '50',
        RATE_LIMIT_BURST: '100',
        // High, so that the error budget is what closes a device here.
        FLOOD_CLOSE_AFTER: '100000',
        ERROR_RATE_PER_SEC: '1',
        ERROR_BURST: '20',
        LOG_LEVEL: 'debug',
      },
      { sink, logs },
    );
    gw.bus.on('status', (s) => statuses.push(s));
  });
  after(() => gw.stop());

  const offlineReason = (id: string) =>
    statuses.find((s) => s.deviceId === id && !s.online)?.reason;

  it('answers a batch full of wrong types with one capped invalid_frame error', async () => {
    const device = await TestDevice.connect(gw.url, await gw.provision('wrong-types'));
    device.send(wrongTypesBatch(1));
    const error = await device.errorFor(1);
    assert.equal(error.code, 'invalid_frame');
    assert.ok(error.issues.length <= 100, `${error.issues.length} issues`);
    assert.ok(Buffer.byteLength(JSON.stringify(error)) <= MAX_ERROR_FRAME_BYTES);
    assert.match(error.message, /first \d+ of \d{4,} issues/);
    device.send({ type: 'telemetry', seq: 2, metrics: { temperature: 20 } });
    await device.ackFor(2);
    device.close();
  });

  const FREE_FRAMES: Array<[string, (i: number) => unknown]> = [
    ['malformed JSON', () => '{"type":'],
    ['an unknown type', (i) => ({ type: 'nonsense', seq: i })],
    ['a stale seq', () => ({ type: 'telemetry', seq: 0, metrics: { temperature: 20 } })],
    ['unknown command results', () => ({ type: 'command_result', id: 'nope', status: 'failed' })],
    ['binary frames', () => Buffer.from([1, 2, 3])],
  ];
  for (const [what, make] of FREE_FRAMES) {
    it(`gives a device that sends ${what} a bounded number of errors, then closes it with 4004`, async () => {
      const id = `garbage-${what.replace(/\W+/g, '-')}`;
      const device = await TestDevice.connect(gw.url, await gw.provision(id));
      if (what === 'a stale seq') {
        device.send({ type: 'telemetry', seq: 1, metrics: { temperature: 20 } });
        await device.ackFor(1);
      }
      for (let i = 1; i <= 90; i++) {
        const frame = make(i);
        device.ws.send(
          Buffer.isBuffer(frame)
            ? frame
            : typeof frame === 'string'
              ? frame
              : JSON.stringify(frame),
        );
      }
      const closed = await device.waitClosed();
      assert.equal(closed.code, 4004);
      assert.equal(closed.reason, 'too_many_errors');
      const errors = device.frames.filter((f: Frame) => f.type === 'error').length;
      // ERROR_BURST, plus what one token a second refilled meanwhile.
      assert.ok(errors >= 18 && errors <= 23, `${errors} error frames`);
      assert.equal(offlineReason(id), 'too_many_errors');
    });
  }

  it('refuses a device closed for misbehaving with 429 and Retry-After for a while', async () => {
    const token = await gw.provision('repeat-offender');
    const device = await TestDevice.connect(gw.url, token);
    for (let i = 0; i < 40; i++) device.send('garbage');
    assert.equal((await device.waitClosed()).code, 4004);
    const refused = await TestDevice.connect(gw.url, token).then(
      () => assert.fail('the device was let straight back in'),
      (err: RefusedError) => err,
    );
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error, 'device_throttled');
    const retryAfter = Number(refused.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 10, `Retry-After: ${retryAfter}`);
    // Others are not affected.
    const bystander = await TestDevice.connect(gw.url, await gw.provision('bystander'));
    bystander.close();
  });

  it('counts pings against the rate limit and closes a ping flood with 1008', async () => {
    const device = await TestDevice.connect(gw.url, await gw.provision('ping-flood'));
    for (let i = 0; i < 400; i++) device.send({ type: 'ping' });
    const closed = await device.waitClosed();
    assert.equal(closed.code, 1008);
    assert.equal(closed.reason, 'flood');
    const pongs = device.frames.filter((f) => f.type === 'pong').length;
    // The burst of 100 (less the WebSocket ping TestDevice.connect sends as its barrier) and what
    // 50 a second refilled during the flood, never all 400.
    assert.ok(pongs >= 99 && pongs < 150, `${pongs} pongs`);
    assert.equal(offlineReason('ping-flood'), 'flood');
  });

  it('counts WebSocket ping frames too', async () => {
    const device = await TestDevice.connect(gw.url, await gw.provision('control-pings'));
    for (let i = 0; i < 400; i++) device.ws.ping();
    const closed = await device.waitClosed();
    assert.equal(closed.code, 1008);
  });

  it('keeps acking a healthy device while another floods, and closes only the flooder', async () => {
    const calm = await TestDevice.connect(gw.url, await gw.provision('calm'));
    const flooder = await RawDevice.open(gw.url, await gw.provision('flooder'));
    const flood = repeated(textFrame('{"type":"ping"}'), 20_000);
    const flooding = flooder.write(flood);
    for (let seq = 1; seq <= 20; seq++) {
      calm.send({ type: 'telemetry', seq, metrics: { temperature: 20 + seq / 10 } });
      await calm.ackFor(seq);
    }
    await flooding;
    await waitUntil(() => offlineReason('flooder') !== undefined, { message: 'flooder closed' });
    assert.equal(offlineReason('flooder'), 'flood');
    assert.equal(calm.closed, undefined);
    assert.equal(offlineReason('calm'), undefined);
    assert.equal(calm.frames.filter((f) => f.type === 'error').length, 0);
    calm.close();
  });

  it('closes refused sockets itself, even when the client never does', async () => {
    const other = await startTestGateway();
    const connections = () =>
      new Promise<number>((resolve, reject) =>
        other.app.server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
      );
    const port = Number(new URL(other.url).port);
    const host = `127.0.0.1:${port}`;
    const requests = [
      { request: upgradeRequest(host, undefined), status: 401 },
      { request: upgradeRequest(host, 'not-a-token'), status: 401 },
      { request: upgradeRequest(host, 'x').replace('/v1/connect', '/elsewhere'), status: 404 },
    ];
    const sockets: Socket[] = [];
    try {
      const answers = await Promise.all(
        requests.map(
          ({ request }) =>
            new Promise<string>((resolve, reject) => {
              // allowHalfOpen: the client reads the answer and never closes its side.
              const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
              sockets.push(socket);
              let answer = '';
              socket.on('data', (c) => {
                answer += c;
              });
              socket.on('end', () => resolve(answer));
              socket.on('error', reject);
              socket.once('connect', () => socket.write(request));
            }),
        ),
      );
      answers.forEach((answer, i) => {
        assert.match(answer, new RegExp(`^HTTP/1.1 ${requests[i]?.status} `));
      });
      // Only the gateway can have closed these: every client still holds its side open.
      await waitUntil(async () => (await connections()) === 0, {
        message: 'the gateway closed every refused socket',
      });
      assert.ok(sockets.every((socket) => !socket.destroyed));
    } finally {
      for (const socket of sockets) socket.destroy();
      await other.stop();
    }
  });

  it('logs refused handshakes and rejected frames as summaries, not a line each', async () => {
    const before = logs.length;
    for (let i = 0; i < 50; i++) {
      await TestDevice.connect(gw.url, `dt_wrong_${i}`).catch(() => undefined);
    }
    const device = await TestDevice.connect(gw.url, await gw.provision('chatty'));
    for (let i = 0; i < 15; i++) device.send('nope');
    await waitUntil(() => device.frames.filter((f) => f.type === 'error').length === 15, {
      message: '15 error frames',
    });
    device.close();
    const lines = logs.slice(before).map((l) => JSON.parse(l) as { msg: string });
    const refused = lines.filter((l) => l.msg.startsWith('device refused')).length;
    const rejected = lines.filter((l) => l.msg.startsWith('frames rejected')).length;
    assert.ok(refused <= 2, `${refused} lines for 50 refused handshakes`);
    assert.ok(rejected <= 2, `${rejected} lines for 15 rejected frames`);
    const metrics = await gw.api('GET', '/metrics');
    assert.match(
      metrics.body,
      /iot_gateway_handshake_rejects_total\{reason="[a-z_]+"\} (5\d|\d{3,})/,
    );
  });
});

describe('a device that does not read', () => {
  it('is cut off with slow_consumer once MAX_OUTBOUND_BYTES wait for it', async () => {
    const sink = new GatedSink();
    sink.open();
    const gw = await startTestGateway(
      {
        RATE_LIMIT_PER_SEC: '1000000',
        RATE_LIMIT_BURST: '1000000',
        ERROR_RATE_PER_SEC: '1000000',
        ERROR_BURST: '1000000',
        MAX_OUTBOUND_BYTES: '16384',
      },
      { sink },
    );
    const statuses: StatusChange[] = [];
    gw.bus.on('status', (s) => statuses.push(s));
    try {
      const device = await RawDevice.open(gw.url, await gw.provision('stuck'));
      device.stopReading();
      const chunk = repeated(textFrame(WRONG_TYPES_WIDE), 200);
      // Bounded: the kernel's buffers take a few MB; the gateway must give up long before this.
      for (let i = 0; i < 1_000 && !device.closed; i++) await device.write(chunk);
      await waitUntil(() => device.closed, { message: 'the gateway cut the socket' });
      const offline = statuses.find((s) => s.deviceId === 'stuck' && !s.online);
      assert.equal(offline?.reason, 'slow_consumer');
      const metrics = await gw.api('GET', '/metrics');
      assert.match(metrics.body, /iot_gateway_session_closes_total\{reason="slow_consumer"\} 1/);
    } finally {
      await gw.stop();
    }
  });

  it('sending invalid batches is closed, and the gateway stays within +64 MiB', async () => {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'iot-gateway-hog-'));
    const gateway = await GatewayProcess.start(
      {
        DATA_DIR: dataDir,
        ADMIN_TOKEN,
        LOG_LEVEL: 'warn',
        SPOOL_FSYNC: 'none',
        // Off, so the device can come straight back: the harshest case for memory.
        MISBEHAVIOR_COOLDOWN_MS: '0',
      },
      port,
    );
    try {
      const response = await fetch(`${gateway.url}/v1/devices`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'hog', type: 'thermostat' }),
      });
      const { token } = (await response.json()) as { token: string };
      const pid = gateway.child.pid ?? 0;
      // "Where it started" is a gateway at work: its heap grows to its working size under any
      // load (V8's young generation alone grows by tens of MiB), so 20,000 valid readings in
      // batches of the same size come first, and the attack is measured against that.
      const warm = await TestDevice.connect(gateway.url, token);
      for (let seq = 1; seq <= 40; seq++) {
        const ts = Date.now() - 100_000 + seq * 1000;
        warm.send({
          type: 'telemetry',
          seq,
          readings: Array.from({ length: 500 }, (_, i) => ({
            ts: ts + i,
            metrics: { temperature: 20 + i / 100 },
          })),
        });
      }
      await warm.ackFor(40, 20_000);
      warm.close();
      await warm.waitClosed();
      const start = rssOf(pid);
      let peak = start;
      const chunk = repeated(textFrame(wrongTypesBatch(1)), 25);
      let written = 0;
      let sessions = 0;
      // 3,000 frames as in the report, over as many sessions as the gateway makes it open.
      while (written < 3_000 && sessions < 100) {
        const device = await RawDevice.open(gateway.url, token);
        sessions++;
        device.stopReading();
        let taken = true;
        while (written < 3_000 && taken) {
          taken = await device.write(chunk);
          if (taken) written += 25;
          peak = Math.max(peak, rssOf(pid));
        }
        if (taken) {
          // The last frames are written: this session may end as it likes.
          device.destroy();
          break;
        }
        // The gateway stopped taking frames: it ended the session (reading again shows it).
        device.socket.resume();
        await waitUntil(() => device.closed, { timeoutMs: 10_000, message: 'session cut' });
        peak = Math.max(peak, rssOf(pid));
      }
      const metrics = await (
        await fetch(`${gateway.url}/metrics`, {
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        })
      ).text();
      assert.match(metrics, /iot_gateway_session_closes_total\{reason="too_many_errors"\} [1-9]/);
      const grown = (peak - start) / 2 ** 20;
      assert.ok(grown <= 64, `RSS grew by ${grown.toFixed(1)} MiB`);
      assert.equal(gateway.child.exitCode, null, 'the gateway is still running');
    } finally {
      await gateway.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('event names and InfluxDB series', () => {
  let influx: InfluxDBServer;
  let gw: TestGateway;
  before(async () => {
    influx = await startInfluxDB();
    gw = await startTestGateway({ INFLUX_URL: `${influx.url}/iot`, RATE_LIMIT_BURST: '1000' });
  });
  after(async () => {
    await gw.stop();
    await influx.stop();
  });

  it('stores 300 events with unique names in one series per severity, none lost', async () => {
    const device = await TestDevice.connect(gw.url, await gw.provision('namer'));
    for (let seq = 1; seq <= 300; seq++) {
      device.send({ type: 'event', seq, name: `alarm_${seq}`, severity: 'warning' });
    }
    await device.ackFor(300, 15_000);
    const series = await influx.query('SHOW SERIES FROM "events"', 'iot');
    assert.equal(series.length, 1, JSON.stringify(series));
    const rows = await waitUntil(
      async () => {
        const found = await influx.query('SELECT "name", "seq" FROM "events"', 'iot');
        return found.length === 300 ? found : undefined;
      },
      { timeoutMs: 10_000, message: '300 events stored' },
    );
    assert.equal(new Set(rows.map((r) => r.name)).size, 300);
  });
});
