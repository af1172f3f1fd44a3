import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { createDefaultRegistry } from '@iot-gateway/schemas';
import { exportSPKI, generateKeyPair, jwtVerify } from 'jose';
import type { BuiltInDevices, DeviceClientOptions, DisconnectedEvent } from '../../src/node.ts';
import { DeviceClient, DeviceError } from '../../src/node.ts';
import { FakeGateway, type FakeSession, readingsOf } from '../support/fake-gateway.ts';

const thermostat = createDefaultRegistry().get('thermostat')!;

/** Waits for the next event of a client. */
function nextEvent<K extends 'connected' | 'disconnected' | 'error' | 'ack' | 'command'>(
  client: DeviceClient<any>,
  event: K,
): Promise<any> {
  return new Promise((resolve) => client.once(event, resolve));
}

describe('DeviceClient against a protocol-speaking test server', () => {
  let gw: FakeGateway;
  const clients: DeviceClient<any>[] = [];
  before(async () => {
    gw = await FakeGateway.start();
  });
  after(() => gw.stop());
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    gw.autoHello = {};
  });

  function client<S extends BuiltInDevices['thermostat'] = BuiltInDevices['thermostat']>(
    options: Partial<DeviceClientOptions> = {},
  ): DeviceClient<S> {
    const c = new DeviceClient<S>({
      url: gw.url,
      credentials: 'dtk_test-token',
      backoff: { initialDelayMs: 10, maxDelayMs: 50, floodDelayMs: 1000 },
      ...options,
    });
    clients.push(c);
    return c;
  }

  async function connected(c: DeviceClient<any>): Promise<FakeSession> {
    const count = gw.sessions.length;
    await c.connect();
    return gw.session(count);
  }

  it('sends the token as a bearer header and resolves connect() with hello', async () => {
    const c = client();
    const hello = await c.connect();
    const session = gw.sessions.at(-1)!;
    assert.equal(session.request.headers.authorization, 'Bearer dtk_test-token');
    assert.equal(session.request.url, '/v1/connect');
    assert.equal(hello.deviceId, 'dev-1');
    assert.equal(c.state, 'open');
  });

  it('takes a hello whose ids break the protocol rules, since only heartbeat and limits matter', async () => {
    gw.autoHello = false;
    const c = client();
    const connecting = c.connect();
    const session = await gw.session(gw.sessions.length);
    session.send({
      type: 'hello',
      deviceId: 'd'.repeat(100),
      sessionId: 's-1',
      heartbeat: { intervalMs: 15_000, timeoutMs: 45_000 },
      limits: {
        maxFrameBytes: 65_536,
        maxInFlight: 256,
        ratePerSec: 100,
        burst: 200,
        maxBatch: 500,
      },
    });
    assert.equal((await connecting).deviceId.length, 100);
  });

  it('numbers frames from 1, stamps each reading, and resolves promises on a cumulative ack', async () => {
    const c = client();
    const session = await connected(c);
    const first = c.sendTelemetry({ temperature: 21 });
    const [f1] = await session.telemetry(1);
    assert.equal(f1!.seq, 1);
    assert.equal(typeof f1!.ts, 'number');
    const second = c.sendTelemetry({ temperature: 22 }, '2030-01-01T00:00:00Z');
    const [f2] = await session.telemetry(1);
    assert.equal(f2!.seq, 2);
    assert.equal(f2!.ts, '2030-01-01T00:00:00Z');
    session.send({ type: 'ack', seq: 2 });
    const [a1, a2] = await Promise.all([first, second]);
    assert.equal(a1.seq, 1);
    assert.equal(a2.seq, 2);
    assert.equal(c.buffered, 0);
  });

  it('packs readings sent in one burst into one batch frame', async () => {
    const c = client();
    const session = await connected(c);
    const sent = [1, 2, 3, 4, 5].map((i) => c.sendTelemetry({ temperature: 20 + i }));
    const [frame] = await session.telemetry(1);
    assert.equal(frame!.readings.length, 5);
    const ts = frame!.readings.map((r: { ts: number }) => r.ts);
    assert.equal(new Set(ts).size, 5, 'readings of one millisecond get distinct timestamps');
    session.send({ type: 'ack', seq: frame!.seq });
    await Promise.all(sent);
  });

  it('rejects a reading the gateway answered with an error, with its code and issues', async () => {
    const c = client();
    const session = await connected(c);
    const errors: DeviceError[] = [];
    c.on('error', (e) => errors.push(e));
    const bad = c.sendTelemetry({ temperature: 999 });
    const [f] = await session.telemetry(1);
    const good = c.sendTelemetry({ temperature: 21 });
    const [g] = await session.telemetry(1);
    session.send({
      type: 'error',
      seq: f!.seq,
      code: 'invalid_telemetry',
      message: 'metrics do not match thermostat',
      issues: [{ path: 'readings.0.metrics.temperature', message: 'Too big' }],
    });
    // An ack passing over the rejected frame must not resolve it.
    session.send({ type: 'ack', seq: g!.seq });
    const error = await bad.then(
      () => assert.fail('resolved'),
      (e: unknown) => e as DeviceError,
    );
    assert.ok(error instanceof DeviceError);
    assert.equal(error.code, 'invalid_telemetry');
    assert.equal(error.issues[0]?.path, 'readings.0.metrics.temperature');
    assert.equal(error.canRetry(), false);
    await good;
    assert.equal(errors[0]?.code, 'invalid_telemetry');
  });

  it('rejects only the reading a batch error names, and resends the rest of the batch', async () => {
    const c = client();
    const session = await connected(c);
    const settled = Promise.allSettled(
      [21, 999, 22].map((t) => c.sendTelemetry({ temperature: t })),
    );
    const [batch] = await session.telemetry(1);
    assert.equal(batch!.readings.length, 3);
    session.send({
      type: 'error',
      seq: batch!.seq,
      code: 'invalid_telemetry',
      message: 'metrics do not match thermostat',
      issues: [{ path: 'readings.1.metrics.temperature', message: 'Too big' }],
    });
    const [again] = await session.telemetry(1);
    assert.deepEqual(readingsOf(again!), [batch!.readings[0], batch!.readings[2]]);
    session.send({ type: 'ack', seq: again!.seq });
    const [first, bad, last] = await settled;
    assert.equal(first!.status, 'fulfilled');
    assert.equal(last!.status, 'fulfilled');
    assert.equal(((bad as PromiseRejectedResult).reason as DeviceError).code, 'invalid_telemetry');
  });

  it('resends a rate-limited reading in a later frame with the same timestamp', async () => {
    const c = client();
    const session = await connected(c);
    const sent = c.sendTelemetry({ temperature: 21 }, 1_700_000_000_000);
    const [f1] = await session.telemetry(1);
    session.send({
      type: 'error',
      seq: f1!.seq,
      code: 'rate_limited',
      message: 'slow down',
      issues: [],
    });
    const [f2] = await session.telemetry(1);
    assert.ok(f2!.seq > f1!.seq);
    assert.equal(f2!.ts, 1_700_000_000_000);
    session.send({ type: 'ack', seq: f2!.seq });
    assert.equal((await sent).seq, f2!.seq);
  });

  it('resends unacked readings after a reconnect: seq renumbered from 1, ts kept', async () => {
    const c = client();
    const s1 = await connected(c);
    const sent = [1, 2, 3].map((i) =>
      c.sendTelemetry({ temperature: 20 + i }, 1_700_000_000_000 + i),
    );
    const [frame] = await s1.telemetry(1);
    s1.send({ type: 'ack', seq: 0 });
    s1.close(1011, 'sink_unavailable');
    const s2 = await gw.session(gw.sessions.indexOf(s1) + 1);
    const [resent] = await s2.telemetry(1);
    assert.equal(resent!.seq, 1);
    assert.deepEqual(readingsOf(resent!), readingsOf(frame!));
    s2.send({ type: 'ack', seq: 1 });
    await Promise.all(sent);
  });

  it('keeps readings taken while offline and sends them once connected', async () => {
    gw.autoHello = false;
    const c = client();
    const connecting = c.connect();
    const session = await gw.session(gw.sessions.length);
    const sent = c.sendTelemetry({ temperature: 19 });
    assert.equal(c.buffered, 1);
    session.hello();
    await connecting;
    const [frame] = await session.telemetry(1);
    session.send({ type: 'ack', seq: frame!.seq });
    await sent;
  });

  it('rejects locally what can never be sent: too large, or invalid for the device type', async () => {
    const loose = client<any>();
    const s1 = await connected(loose);
    const tooLarge = await loose
      .sendTelemetry({ note: 'x'.repeat(70_000) })
      .catch((e: DeviceError) => e);
    assert.equal((tooLarge as DeviceError).code, 'too_large');
    assert.equal(s1.frames.length, 0);
    const c = client({ deviceType: thermostat });
    const session = await connected(c);
    const invalid = await c.sendTelemetry({ temperature: 1000 }).catch((e: DeviceError) => e);
    assert.equal((invalid as DeviceError).code, 'invalid_telemetry');
    assert.equal((invalid as DeviceError).issues[0]?.path, 'metrics.temperature');
    assert.equal(session.frames.length, 0, 'nothing reached the wire');
  });

  it('drops the oldest unsent reading when the buffer is full', async () => {
    gw.autoHello = false;
    const c = client({ maxBuffered: 2 });
    void c.connect().catch(() => {});
    const a = c.sendTelemetry({ temperature: 1 });
    const b = c.sendTelemetry({ temperature: 2 });
    const d = c.sendTelemetry({ temperature: 3 });
    const error = await a.catch((e: DeviceError) => e);
    assert.equal((error as DeviceError).code, 'buffer_overflow');
    assert.equal(c.buffered, 2);
    await c.close();
    await assert.rejects(b, { code: 'client_closed' });
    await assert.rejects(d, { code: 'client_closed' });
  });

  it('answers the gateway app-level ping with pong', async () => {
    const c = client();
    const session = await connected(c);
    session.send({ type: 'ping' });
    await session.next((f) => f.type === 'pong');
  });

  it('pings with {"type":"ping"} where the transport cannot, and reconnects when the gateway goes silent', async () => {
    gw.autoHello = { heartbeat: { intervalMs: 100, timeoutMs: 300 } };
    const { createBrowserTransport } = await import('../../src/index.ts');
    const { WebSocket } = await import('ws');
    const c = client({ transport: createBrowserTransport(WebSocket as never) });
    const session = await connected(c);
    assert.equal(session.ws.protocol, 'iot-gateway.v1');
    assert.equal(session.request.headers.authorization, undefined);
    assert.match(
      String(session.request.headers['sec-websocket-protocol']),
      /bearer\.dtk_test-token/,
    );
    await session.next((f) => f.type === 'ping');
    // No pong: the client gives the connection up and opens a new one.
    const closed = await nextEvent(c, 'disconnected');
    assert.equal(closed.willReconnect, true);
    await nextEvent(c, 'connected');
  });

  it('does not reconnect after 4001 revoked, and rejects what is buffered', async () => {
    const c = client();
    const session = await connected(c);
    const pending = c.sendTelemetry({ temperature: 21 });
    await session.telemetry(1);
    const disconnected = nextEvent(c, 'disconnected');
    session.close(4001, 'device_revoked');
    const event: DisconnectedEvent = await disconnected;
    assert.equal(event.code, 4001);
    assert.equal(event.willReconnect, false);
    await assert.rejects(pending, { code: 'device_revoked' });
    assert.equal(c.state, 'closed');
  });

  it('after 4000 replaced, reconnects once after the flood delay; a second 4000 is final', async () => {
    const c = client({
      backoff: { initialDelayMs: 10, maxDelayMs: 50, floodDelayMs: 200, random: () => 0.5 },
    });
    const session = await connected(c);
    const first = nextEvent(c, 'disconnected');
    const next = gw.sessions.length;
    session.close(4000, 'session_replaced');
    const event: DisconnectedEvent = await first;
    // The session that took over may be a stale attempt of this client itself: one more try.
    assert.equal(event.willReconnect, true);
    assert.equal(event.delayMs, 150, 'the long flood delay, not the normal backoff');
    const again = await gw.session(next);
    again.hello();
    const pending = c.sendTelemetry({ temperature: 21 });
    await again.telemetry(1);
    const second = nextEvent(c, 'disconnected');
    again.close(4000, 'session_replaced');
    assert.equal((await second).willReconnect, false);
    await assert.rejects(pending, { code: 'session_replaced' });
    assert.equal(c.state, 'closed');
  });

  it('backs off for the flood delay after 1008', async () => {
    const c = client({
      backoff: { initialDelayMs: 10, maxDelayMs: 50, floodDelayMs: 400, random: () => 0.5 },
    });
    const session = await connected(c);
    const disconnected = nextEvent(c, 'disconnected');
    session.close(1008, 'flood');
    const event: DisconnectedEvent = await disconnected;
    assert.equal(event.willReconnect, true);
    assert.equal(event.delayMs, 300, 'flood delays are drawn from [floodDelayMs/2, floodDelayMs]');
  });

  it('rejects connect() when the gateway refuses the credentials', async () => {
    gw.refuseNext(401, { error: 'invalid_token', message: 'unknown token' });
    const c = client();
    const error = await c.connect().catch((e: DeviceError) => e);
    assert.equal((error as DeviceError).code, 'connection_refused');
    assert.equal(((error as DeviceError).cause as { code: string }).code, 'invalid_token');
    assert.equal(c.state, 'closed');
  });

  it('waits at least Retry-After when the gateway is busy', async () => {
    gw.refuseNext(503, { error: 'server_busy', message: 'full' }, { 'retry-after': '0.2' });
    const c = client();
    const disconnected = nextEvent(c, 'disconnected');
    const connecting = c.connect();
    const event: DisconnectedEvent = await disconnected;
    assert.equal(event.refusal?.code, 'server_busy');
    assert.ok((event.delayMs ?? 0) >= 200);
    await connecting;
  });

  it('signs its own JWT (sub = device id, exp set) and signs a fresh one before it expires', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const pem = await exportSPKI(publicKey);
    let clock = Date.now();
    const c = client({
      credentials: { deviceId: 'dev-1', alg: 'ES256', privateKey, ttlS: 600, refreshBeforeS: 60 },
      now: () => clock,
    });
    const s1 = await connected(c);
    const jwt1 = String(s1.request.headers.authorization).replace('Bearer ', '');
    const { payload: p1, protectedHeader } = await jwtVerify(jwt1, publicKey);
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(p1.sub, 'dev-1');
    assert.equal((p1.exp as number) - (p1.iat as number), 600);
    assert.ok(pem.includes('BEGIN PUBLIC KEY'));
    // Still fresh: a reconnect presents the same JWT.
    s1.close(1001, 'going_away');
    const s2 = await gw.session(gw.sessions.indexOf(s1) + 1);
    assert.equal(s2.request.headers.authorization, `Bearer ${jwt1}`);
    // Within refreshBeforeS of exp: the next connection gets a new one.
    clock += 550_000;
    s2.close(1001, 'going_away');
    const s3 = await gw.session(gw.sessions.indexOf(s2) + 1);
    const jwt3 = String(s3.request.headers.authorization).replace('Bearer ', '');
    assert.notEqual(jwt3, jwt1);
    const { payload: p3 } = await jwtVerify(jwt3, publicKey, { currentDate: new Date(clock) });
    assert.ok((p3.exp as number) > (p1.exp as number));
  });

  it('signs a fresh JWT and retries when the gateway says token_expired', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    // The gateway's clock runs ahead: it finds the first JWT expired.
    gw.refuseNext(401, { error: 'token_expired', message: 'the JWT has expired' });
    const before = gw.upgrades.length;
    const c = client({
      credentials: { deviceId: 'dev-1', alg: 'ES256', privateKey, ttlS: 600 },
    });
    await c.connect();
    const [refused, accepted] = gw.upgrades.slice(before);
    assert.ok(refused && accepted);
    assert.notEqual(refused.headers.authorization, accepted.headers.authorization);
  });

  it('close() waits for outstanding acks when asked to drain', async () => {
    const c = client();
    const session = await connected(c);
    const sent = c.sendTelemetry({ temperature: 21 });
    const [frame] = await session.telemetry(1);
    const closing = c.close({ drainTimeoutMs: 5000 });
    session.send({ type: 'ack', seq: frame!.seq });
    await closing;
    await sent;
    assert.equal((await session.waitClosed()).code, 1000);
  });
});
