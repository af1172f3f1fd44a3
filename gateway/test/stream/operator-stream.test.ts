import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import { waitUntil } from '@iot-gateway/testing';
import WebSocket from 'ws';
import { createKey } from '../api/api-kit.ts';
import { TestDevice } from '../support/test-device.ts';
import type { TestGateway } from '../support/test-gateway.ts';
import { ADMIN_TOKEN, startTestGateway } from '../support/test-gateway.ts';

interface Message {
  type: string;
  [key: string]: any;
}

/** A stream client that records every message and lets a test wait for the one it expects. */
class StreamPeer {
  readonly messages: Message[] = [];
  closed: { code: number } | undefined;
  readonly #waiters: Array<() => void> = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.messages.push(JSON.parse(String(data)) as Message);
      for (const w of this.#waiters.splice(0)) w();
    });
    ws.on('close', (code) => {
      this.closed = { code };
    });
    ws.on('error', () => {});
  }

  static open(
    gw: TestGateway,
    key: string | undefined,
    options: { via?: 'header' | 'subprotocol'; origin?: string } = {},
  ): Promise<StreamPeer> {
    const url = `${gw.url.replace(/^http/, 'ws')}/v1/stream`;
    const headers: Record<string, string> = {};
    if (options.origin) headers.origin = options.origin;
    const protocols = ['iot-gateway.stream.v1'];
    if (key !== undefined) {
      if (options.via === 'subprotocol') protocols.push(`bearer.${key}`);
      else headers.authorization = `Bearer ${key}`;
    }
    const ws = new WebSocket(url, protocols, { headers });
    return new Promise((resolve, reject) => {
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c;
        });
        res.on('end', () => reject(Object.assign(new Error(body), { status: res.statusCode })));
      });
      ws.once('open', () => resolve(new StreamPeer(ws)));
      ws.once('error', reject);
    });
  }

  send(message: unknown): void {
    this.ws.send(JSON.stringify(message));
  }

  /** The first message (received or coming) that matches; removed from `messages`. */
  async next(match: (m: Message) => boolean, timeoutMs = 5000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.messages.findIndex(match);
      if (i >= 0) return this.messages.splice(i, 1)[0] as Message;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching message; got ${JSON.stringify(this.messages)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

describe('the operator stream', () => {
  let gw: TestGateway;
  let viewer: string;

  before(async () => {
    gw = await startTestGateway({ MAX_OUTBOUND_BYTES: '65536' });
    viewer = await createKey(gw, 'viewer');
  });
  after(() => gw.stop());

  it('refuses a missing or unknown key, a foreign origin and another subprotocol', async () => {
    await assert.rejects(StreamPeer.open(gw, undefined), { status: 401 });
    await assert.rejects(StreamPeer.open(gw, 'gwk_nope'), { status: 401 });
    await assert.rejects(StreamPeer.open(gw, viewer, { origin: 'https://evil.example' }), {
      status: 403,
    });
    const ws = new WebSocket(`${gw.url.replace(/^http/, 'ws')}/v1/stream`, ['iot-gateway.v1'], {
      headers: { authorization: `Bearer ${viewer}` },
    });
    const status = await new Promise<number | undefined>((resolve) => {
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode));
      ws.once('open', () => resolve(undefined));
      ws.on('error', () => {});
    });
    assert.equal(status, 400);
  });

  it('answers a plain GET with 426 upgrade_required and lists the route in OpenAPI', async () => {
    const res = await gw.api('GET', '/v1/stream', undefined, viewer);
    assert.equal(res.status, 426);
    assert.equal(res.body.error, 'upgrade_required');
    const doc = await gw.api('GET', '/openapi.json');
    assert.ok(doc.body.paths['/v1/stream']?.get, 'the stream is in the OpenAPI document');
  });

  it("tells a key its role, over the stream's hello and GET /v1/api-keys/self", async () => {
    const peer = await StreamPeer.open(gw, viewer, { via: 'subprotocol' });
    const hello = await peer.next((m) => m.type === 'hello');
    assert.equal(hello.key.role, 'viewer');
    assert.equal(peer.ws.protocol, 'iot-gateway.stream.v1');
    peer.ws.close();
    const self = await gw.api('GET', '/v1/api-keys/self', undefined, viewer);
    assert.equal(self.status, 200);
    assert.equal(self.body.role, 'viewer');
    const admin = await gw.api('GET', '/v1/api-keys/self', undefined, ADMIN_TOKEN);
    assert.equal(admin.body.role, 'admin');
  });

  it('carries status changes, telemetry of subscribed devices only, events and command states', async () => {
    const peer = await StreamPeer.open(gw, viewer);
    await peer.next((m) => m.type === 'hello');
    const followed = await TestDevice.connect(gw.url, await gw.provision('followed'));
    const other = await TestDevice.connect(gw.url, await gw.provision('other'));
    const online = await peer.next((m) => m.type === 'status' && m.deviceId === 'followed');
    assert.equal(online.online, true);
    assert.equal(online.deviceType, 'thermostat');

    peer.send({ type: 'subscribe', devices: ['followed'] });
    assert.deepEqual((await peer.next((m) => m.type === 'subscribed')).devices, ['followed']);
    other.send({ type: 'telemetry', seq: 1, metrics: { temperature: 30 } });
    await other.ackFor(1);
    followed.send({ type: 'telemetry', seq: 1, metrics: { temperature: 21.5 } });
    await followed.ackFor(1);
    const reading = await peer.next((m) => m.type === 'telemetry');
    assert.equal(reading.deviceId, 'followed');
    assert.equal(reading.readings[0].metrics.temperature, 21.5);
    // `other`'s reading was acked first, so it would have arrived first had it been sent.
    assert.ok(!peer.messages.some((m) => m.type === 'telemetry'));

    other.send({ type: 'event', seq: 2, name: 'battery.low', severity: 'warning', data: { b: 9 } });
    const event = await peer.next((m) => m.type === 'event');
    assert.deepEqual(
      [event.deviceId, event.name, event.severity],
      ['other', 'battery.low', 'warning'],
    );

    const sent = await gw.api('POST', '/v1/devices/followed/commands', {
      name: 'reboot',
      params: {},
    });
    const command = await followed.next((f) => f.type === 'command');
    followed.send({ type: 'command_result', id: command.id, status: 'succeeded' });
    const done = await peer.next((m) => m.type === 'command' && m.command.state === 'succeeded');
    assert.equal(done.command.id, sent.body.id);

    other.close();
    const offline = await peer.next(
      (m) => m.type === 'status' && m.deviceId === 'other' && !m.online,
    );
    assert.equal(offline.reason, 'closed');
    followed.close();
    peer.ws.close();
  });

  it('answers invalid messages with invalid_stream_message and caps subscriptions', async () => {
    const peer = await StreamPeer.open(gw, viewer);
    await peer.next((m) => m.type === 'hello');
    peer.ws.send('not json');
    assert.equal((await peer.next((m) => m.type === 'error')).code, 'invalid_stream_message');
    peer.send({ type: 'subscribe', devices: ['ok', '__proto__'], extra: 1 });
    const invalid = await peer.next((m) => m.type === 'error');
    assert.equal(invalid.code, 'invalid_stream_message');
    assert.ok(invalid.issues.length > 0);
    const ids = (from: number) => Array.from({ length: 150 }, (_, i) => `d-${from + i}`);
    peer.send({ type: 'subscribe', devices: ids(0) });
    await peer.next((m) => m.type === 'subscribed');
    peer.send({ type: 'subscribe', devices: ids(150) });
    assert.equal((await peer.next((m) => m.type === 'error')).code, 'too_many_subscriptions');
    peer.send({ type: 'ping' });
    await peer.next((m) => m.type === 'pong');
    peer.ws.close();
    const metrics = (await gw.api('GET', '/metrics')).body as string;
    assert.match(metrics, /iot_gateway_stream_errors_total\{code="invalid_stream_message"\} 2/);
    assert.match(metrics, /iot_gateway_stream_errors_total\{code="too_many_subscriptions"\} 1/);
  });

  it('ends the streams of a key once it is revoked, with 4011 api_key_revoked', async () => {
    const doomed = await createKey(gw, 'viewer', 'doomed');
    const peer = await StreamPeer.open(gw, doomed);
    const hello = await peer.next((m) => m.type === 'hello');
    const other = await StreamPeer.open(gw, viewer);
    await other.next((m) => m.type === 'hello');
    assert.equal((await gw.api('DELETE', `/v1/api-keys/${hello.key.id}`)).status, 204);
    await gw.stream.checkKeys();
    await waitUntil(() => peer.closed, { message: 'the revoked key stream closed' });
    assert.equal(peer.closed?.code, 4011);
    // Others carry on: the ping was answered.
    other.send({ type: 'ping' });
    await other.next((m) => m.type === 'pong');
    other.ws.close();
  });

  it('drops a client that does not read, and only that one', async () => {
    const reader = await StreamPeer.open(gw, viewer);
    const stuck = await StreamPeer.open(gw, viewer);
    await reader.next((m) => m.type === 'hello');
    await stuck.next((m) => m.type === 'hello');
    const before = gw.stream.size;
    // Stop reading: the kernel's buffers fill, then the gateway's (MAX_OUTBOUND_BYTES, 64 KiB).
    (stuck.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const labels = { note: 'x'.repeat(8192) };
    let sent = 0;
    // Bounded: a few MB fill the kernel's buffers; the gateway must give up long before this.
    while (sent < 10_000 && gw.stream.size === before) {
      gw.bus.emit('status', {
        deviceId: `flood-${sent++}`,
        deviceType: 'thermostat',
        labels,
        sessionId: 's',
        online: true,
        reason: 'connected',
        ts: Date.now(),
      });
      // One message per turn: a client that reads keeps up.
      await turn();
    }
    assert.equal(gw.stream.size, before - 1, 'the client that does not read was dropped');
    assert.equal(reader.closed, undefined, 'the client that reads is still served');
    const last = `flood-${sent - 1}`;
    await reader.next((m) => m.type === 'status' && m.deviceId === last);
    reader.ws.close();
    const metrics = (await gw.api('GET', '/metrics')).body as string;
    assert.match(metrics, /iot_gateway_stream_errors_total\{code="stream_too_slow"\} 1/);
  });
});
