import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { waitUntil } from '@iot-gateway/testing';
import type { StatusChange } from '../../src/events/device-bus.ts';
import { GatedSink } from '../support/gated-sink.ts';
import { TestDevice } from '../support/test-device.ts';
import type { TestGateway } from '../support/test-gateway.ts';
import { startTestGateway } from '../support/test-gateway.ts';

const INTERVAL = 200;
const TIMEOUT = 600;

describe('liveness, replacement and limits', () => {
  let gw: TestGateway;
  let sink: GatedSink;
  const statuses: StatusChange[] = [];

  before(async () => {
    sink = new GatedSink();
    sink.open();
    gw = await startTestGateway(
      {
        HEARTBEAT_INTERVAL_MS: String(INTERVAL),
        HEARTBEAT_TIMEOUT_MS: String(TIMEOUT),
        FIRST_FRAME_TIMEOUT_MS: String(TIMEOUT),
        HANDSHAKE_TIMEOUT_MS: '500',
        MAX_FRAME_BYTES: '2048',
        RATE_LIMIT_PER_SEC: '10',
        RATE_LIMIT_BURST: '5',
        FLOOD_CLOSE_AFTER: '20',
      },
      { sink },
    );
    gw.bus.on('status', (s) => statuses.push(s));
  });
  after(() => gw.stop());

  const of = (id: string) =>
    statuses
      .filter((s) => s.deviceId === id)
      .map((s) => `${s.online ? 'online' : 'offline'}:${s.reason}`);

  it('keeps a device that answers pings online across several timeouts', async () => {
    const token = await gw.provision('pong-ok');
    const device = await TestDevice.connect(gw.url, token);
    await new Promise((r) => setTimeout(r, TIMEOUT * 3));
    assert.equal(device.closed, undefined);
    assert.ok(gw.sessions.get('pong-ok'));
    device.close();
  });

  it('declares a device that stops answering pings offline within timeout + 1 s', async () => {
    const token = await gw.provision('zombie');
    const device = await TestDevice.connect(gw.url, token, { autoPong: false });
    // Its only sign of life is the frame below; then it goes silent.
    device.send({ type: 'ping' });
    const lastLife = Date.now();
    const closed = await device.waitClosed(TIMEOUT + 3000);
    const offlineAt = statuses.find((s) => s.deviceId === 'zombie' && !s.online)?.ts ?? 0;
    assert.ok(offlineAt - lastLife <= TIMEOUT + 1000, `offline after ${offlineAt - lastLife} ms`);
    assert.ok(offlineAt - lastLife >= TIMEOUT - 50, 'not before the timeout');
    assert.equal(closed.code, 4002);
    assert.deepEqual(of('zombie'), ['online:connected', 'offline:heartbeat_timeout']);
  });

  it('replaces the first session of a device with a second one, in order', async () => {
    const token = await gw.provision('twice');
    const first = await TestDevice.connect(gw.url, token);
    const second = await TestDevice.connect(gw.url, token);
    const closed = await first.waitClosed();
    assert.equal(closed.code, 4000);
    assert.equal(closed.reason, 'session_replaced');
    assert.deepEqual(of('twice'), ['online:connected', 'offline:replaced', 'online:connected']);
    const sessionIds = statuses.filter((s) => s.deviceId === 'twice').map((s) => s.sessionId);
    assert.equal(sessionIds[0], sessionIds[1]);
    assert.notEqual(sessionIds[1], sessionIds[2]);
    second.send({ type: 'telemetry', seq: 1, metrics: { temperature: 20 } });
    await second.ackFor(1);
    second.close();
  });

  it('closes a session with 1009 when a frame exceeds the size limit', async () => {
    const token = await gw.provision('big');
    const device = await TestDevice.connect(gw.url, token);
    device.send({
      type: 'event',
      seq: 1,
      name: 'x',
      severity: 'info',
      data: { blob: 'x'.repeat(4096) },
    });
    const closed = await device.waitClosed();
    assert.equal(closed.code, 1009);
    assert.deepEqual(of('big'), ['online:connected', 'offline:too_large']);
  });

  it('answers a flood with rate_limited errors, then closes it with 1008', async () => {
    const token = await gw.provision('flood');
    const device = await TestDevice.connect(gw.url, token);
    for (let seq = 1; seq <= 6; seq++)
      device.send({ type: 'telemetry', seq, metrics: { temperature: 20 } });
    const limited = await device.errorFor(6);
    assert.equal(limited.code, 'rate_limited');
    for (let seq = 7; seq <= 60; seq++)
      device.send({ type: 'telemetry', seq, metrics: { temperature: 20 } });
    const closed = await device.waitClosed();
    assert.equal(closed.code, 1008);
    assert.equal(closed.reason, 'flood');
    const metrics = await gw.api('GET', '/metrics');
    assert.match(metrics.body, /iot_gateway_rejects_total\{code="rate_limited"\} \d+/);
  });

  it('lets other devices carry on while one floods', async () => {
    const calm = await TestDevice.connect(gw.url, await gw.provision('calm'));
    const noisy = await TestDevice.connect(gw.url, await gw.provision('noisy'));
    for (let seq = 1; seq <= 40; seq++)
      noisy.send({ type: 'telemetry', seq, metrics: { temperature: 20 } });
    calm.send({ type: 'telemetry', seq: 1, metrics: { temperature: 21 } });
    await calm.ackFor(1);
    calm.close();
    noisy.close();
  });

  it('drops a client that never completes the handshake', async () => {
    const started = Date.now();
    const socket = connect(Number(new URL(gw.url).port), '127.0.0.1');
    socket.on('error', () => {});
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk;
    });
    await new Promise<void>((r) => socket.once('connect', () => r()));
    // Headers that never end: the classic slow handshake.
    socket.write('GET /v1/connect HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n');
    await new Promise<void>((r) => socket.once('close', () => r()));
    assert.match(answer, /^HTTP\/1.1 408/);
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 5000, `dropped after ${elapsed} ms`);
  });

  it('closes a session that shows no life after hello', async () => {
    const token = await gw.provision('mute');
    const device = await TestDevice.connect(gw.url, token, { autoPong: false });
    const closed = await device.waitClosed(TIMEOUT + 3000);
    assert.equal(closed.code, 4003);
    assert.deepEqual(of('mute'), ['online:connected', 'offline:first_frame_timeout']);
  });

  it('closes the live session at once when the device is deleted', async () => {
    const token = await gw.provision('doomed');
    const device = await TestDevice.connect(gw.url, token);
    assert.equal((await gw.api('DELETE', '/v1/devices/doomed')).status, 204);
    const closed = await device.waitClosed();
    assert.equal(closed.code, 4001);
    assert.deepEqual(of('doomed'), ['online:connected', 'offline:revoked']);
  });
});

describe('session capacity and shutdown', () => {
  it('refuses sessions past MAX_SESSIONS with 503 and Retry-After', async () => {
    const gw = await startTestGateway({ MAX_SESSIONS: '2' });
    try {
      const a = await TestDevice.connect(gw.url, await gw.provision('cap-a'));
      const b = await TestDevice.connect(gw.url, await gw.provision('cap-b'));
      const refused = await TestDevice.connect(gw.url, await gw.provision('cap-c')).then(
        () => assert.fail('a third session was accepted'),
        (err: { status: number; body: { error: string } }) => err,
      );
      assert.equal(refused.status, 503);
      assert.equal(refused.body.error, 'server_busy');
      a.close();
      b.close();
    } finally {
      await gw.stop();
    }
  });

  it('on shutdown acks what is in flight, closes sessions with 1001 and reports shutdown', async () => {
    const sink = new GatedSink();
    const gw = await startTestGateway({}, { sink });
    const changes: StatusChange[] = [];
    gw.bus.on('status', (s) => changes.push(s));
    const device = await TestDevice.connect(gw.url, await gw.provision('stopping'));
    device.send({ type: 'telemetry', seq: 1, metrics: { temperature: 20 } });
    await waitUntil(() => sink.pendingWrites === 1, { message: 'the frame reached the sink' });
    const stopped = gw.stop();
    // The write is still pending: the gateway must wait for it, ack it, and only then close.
    const ack = await device.ackFor(1);
    assert.equal(ack.seq, 1);
    const closed = await device.waitClosed();
    assert.equal(closed.code, 1001);
    await stopped;
    assert.deepEqual(
      changes.map((c) => `${c.online}:${c.reason}`),
      ['true:connected', 'false:shutdown'],
    );
  });
});

describe('a session that never shows life', () => {
  it('goes offline after HEARTBEAT_TIMEOUT_MS when that is shorter than FIRST_FRAME_TIMEOUT_MS', async () => {
    const gw = await startTestGateway({
      HEARTBEAT_INTERVAL_MS: '200',
      HEARTBEAT_TIMEOUT_MS: '600',
      FIRST_FRAME_TIMEOUT_MS: '60000',
    });
    try {
      const device = await TestDevice.connect(gw.url, await gw.provision('dies-at-once'), {
        autoPong: false,
      });
      const opened = Date.now();
      // Well before the 60 s first-frame timeout: the 600 ms heartbeat timeout governs.
      const closed = await device.waitClosed(5_000);
      assert.equal(closed.code, 4003);
      assert.ok(Date.now() - opened < 5_000);
    } finally {
      await gw.stop();
    }
  });
});
