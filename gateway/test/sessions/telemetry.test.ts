import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitUntil } from '@iot-gateway/testing';
import { GatedSink } from '../support/gated-sink.ts';
import { TestDevice } from '../support/test-device.ts';
import type { TestGateway } from '../support/test-gateway.ts';
import { startTestGateway } from '../support/test-gateway.ts';

describe('telemetry in a device session', () => {
  let gw: TestGateway;
  let sink: GatedSink;
  let token: string;

  before(async () => {
    sink = new GatedSink();
    gw = await startTestGateway({}, { sink });
    token = await gw.provision('thermo-1', 'thermostat', { site: 'lab' });
  });
  after(() => gw.stop());

  it('sends hello with the device id, a session id, heartbeat and limits', async () => {
    const device = await TestDevice.connect(gw.url, token);
    const hello = device.hello;
    assert.equal(hello?.deviceId, 'thermo-1');
    assert.match(String(hello?.sessionId), /^[0-9a-f-]{36}$/);
    assert.deepEqual(hello?.heartbeat, { intervalMs: 15_000, timeoutMs: 45_000 });
    assert.equal(hello?.limits.maxFrameBytes, 65_536);
    assert.equal(hello?.limits.maxBatch, 500);
    device.close();
  });

  it('acks a reading only after the sink made it durable', async () => {
    sink.shut();
    const device = await TestDevice.connect(gw.url, token);
    device.send({
      type: 'telemetry',
      seq: 1,
      ts: Date.now(),
      metrics: { temperature: 21.5, humidity: 40 },
    });
    await waitUntil(() => sink.pendingWrites === 1, { message: 'the frame reached the sink' });
    // A round trip as the barrier: the gateway handled the frame and answered the ping after it,
    // and any ack it was going to send without durability would have come first.
    device.send({ type: 'ping' });
    await device.next((f) => f.type === 'pong');
    assert.equal(
      device.frames.filter((f) => f.type === 'ack').length,
      0,
      'no ack before durability',
    );
    sink.release();
    const ack = await device.ackFor(1);
    assert.equal(ack.seq, 1);
    assert.match(
      sink.lines.at(-1) ?? '',
      /^telemetry,device_id=thermo-1,device_type=thermostat humidity=40,temperature=21.5 \d+$|^telemetry,device_id=thermo-1,device_type=thermostat temperature=21.5,humidity=40 \d+$/,
    );
    device.close();
  });

  it('acks a batch as one frame and writes every reading with its own time', async () => {
    sink.open();
    const device = await TestDevice.connect(gw.url, token);
    const t0 = Date.now() - 10_000;
    device.send({
      type: 'telemetry',
      seq: 7,
      readings: [
        { ts: t0, metrics: { temperature: 20 } },
        { ts: new Date(t0 + 1000).toISOString(), metrics: { temperature: 20.25, battery: 99 } },
      ],
    });
    await device.ackFor(7);
    const lines = sink.lines.slice(-2);
    assert.ok(lines[0]?.endsWith(` ${t0}`));
    assert.ok(lines[1]?.endsWith(` ${t0 + 1000}`));
    assert.match(lines[1] ?? '', /battery=99i?[ ,]/);
    device.close();
  });

  it('rejects invalid frames with a code and path, then acks the next valid frame', async () => {
    sink.open();
    const device = await TestDevice.connect(gw.url, token);
    device.send('{not json');
    const badJson = await device.next((f) => f.type === 'error' && f.code === 'invalid_json');
    assert.equal(badJson.seq, undefined);

    device.send({ type: 'telemetry', seq: 1, metrics: { temperature: 500 } });
    const range = await device.errorFor(1);
    assert.equal(range.code, 'invalid_telemetry');
    assert.deepEqual(
      range.issues.map((i: { path: string }) => i.path),
      ['metrics.temperature'],
    );

    device.send({ type: 'telemetry', seq: 2, metrics: { pressure: 1 } });
    const unknown = await device.errorFor(2);
    assert.equal(unknown.code, 'invalid_telemetry');
    assert.ok(unknown.issues.some((i: { path: string }) => i.path.startsWith('metrics')));

    device.send({
      type: 'telemetry',
      seq: 3,
      ts: Date.now() + 3_600_000,
      metrics: { temperature: 20 },
    });
    const future = await device.errorFor(3);
    assert.equal(future.code, 'invalid_timestamp');
    assert.deepEqual(
      future.issues.map((i: { path: string }) => i.path),
      ['ts'],
    );

    device.send({
      type: 'telemetry',
      seq: 4,
      readings: [{ metrics: { temperature: 20 } }, { metrics: { humidity: 101 } }],
    });
    const batch = await device.errorFor(4);
    assert.deepEqual(
      batch.issues.map((i: { path: string }) => i.path),
      ['readings.1.metrics.humidity'],
    );

    device.send({ type: 'telemetry', seq: 5, metrics: { temperature: 19 } });
    const ack = await device.ackFor(5);
    assert.equal(ack.seq, 5);

    device.send({ type: 'telemetry', seq: 5, metrics: { temperature: 19 } });
    const dup = await device.errorFor(5);
    assert.equal(dup.code, 'seq_not_increasing');

    device.send({ type: 'nonsense', seq: 9 });
    const unknownType = await device.errorFor(9);
    assert.equal(unknownType.code, 'invalid_frame');
    device.close();
  });

  it('rejects prototype-pollution keys and leaves Object.prototype alone', async () => {
    sink.open();
    const device = await TestDevice.connect(gw.url, token);
    device.send(
      '{"type":"telemetry","seq":1,"metrics":{"__proto__":{"polluted":1},"temperature":20}}',
    );
    const err = await device.errorFor(1);
    assert.ok(['invalid_frame', 'invalid_telemetry'].includes(err.code));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    device.send(
      '{"type":"event","seq":2,"name":"door","severity":"info","data":{"a":{"constructor":{"prototype":{"x":1}}}}}',
    );
    const eventErr = await device.errorFor(2);
    assert.equal(eventErr.code, 'invalid_event');
    device.send({ type: 'telemetry', seq: 3, metrics: { temperature: 20 } });
    await device.ackFor(3);
    device.close();
  });

  it('answers an app-level ping with pong', async () => {
    const device = await TestDevice.connect(gw.url, token);
    device.send({ type: 'ping' });
    await device.next((f) => f.type === 'pong');
    device.close();
  });

  it('accepts events and acks them', async () => {
    sink.open();
    const device = await TestDevice.connect(gw.url, token);
    device.send({
      type: 'event',
      seq: 1,
      ts: Date.now(),
      name: 'door_open',
      severity: 'warning',
      data: { door: 'front' },
    });
    await device.ackFor(1);
    // The severity is a tag (a handful of values); the name is a field (devices choose names).
    assert.match(sink.lines.at(-1) ?? '', /^events,[^ ]*severity=warning [^ ]*name="door_open"/);
    device.close();
  });

  it('counts durable frames and readings in /metrics', async () => {
    sink.open();
    const scrape = async () => {
      const { body } = await gw.api('GET', '/metrics');
      const value = (pattern: RegExp) => Number(pattern.exec(body)?.[1] ?? 0);
      return {
        telemetry: value(/iot_gateway_frames_total\{type="telemetry",outcome="accepted"\} (\d+)/),
        events: value(/iot_gateway_frames_total\{type="event",outcome="accepted"\} (\d+)/),
        readings: value(/iot_gateway_readings_total (\d+)/),
      };
    };
    const before = await scrape();
    const device = await TestDevice.connect(gw.url, token);
    const ts = Date.now();
    device.send({ type: 'telemetry', seq: 1, ts, metrics: { temperature: 21 } });
    device.send({
      type: 'telemetry',
      seq: 2,
      readings: [
        { ts, metrics: { temperature: 21.5 } },
        { ts: ts + 1, metrics: { temperature: 22 } },
      ],
    });
    device.send({ type: 'event', seq: 3, ts, name: 'door_open', severity: 'info' });
    await device.ackFor(3);
    const after = await scrape();
    assert.deepEqual(
      {
        telemetry: after.telemetry - before.telemetry,
        events: after.events - before.events,
        readings: after.readings - before.readings,
      },
      { telemetry: 2, events: 1, readings: 3 },
    );
    device.close();
  });

  it('answers an event frame that breaks the protocol with invalid_event', async () => {
    sink.open();
    const device = await TestDevice.connect(gw.url, token);
    device.send({ type: 'event', seq: 1, name: 'door_open', severity: 'loud' });
    const error = await device.errorFor(1);
    assert.equal(error.code, 'invalid_event');
    assert.equal(error.issues[0]?.path, 'severity');
    const metrics = await gw.api('GET', '/metrics');
    assert.match(metrics.body, /iot_gateway_rejects_total\{code="invalid_event"\} [1-9]/);
    assert.doesNotMatch(metrics.body, /iot_gateway_frames_total\{type="frame"/);
    device.close();
  });

  it('coalesces acks: one ack can cover many frames', async () => {
    sink.shut();
    const device = await TestDevice.connect(gw.url, token);
    for (let seq = 1; seq <= 50; seq++)
      device.send({ type: 'telemetry', seq, metrics: { temperature: 20 + seq / 100 } });
    await waitUntil(() => sink.pendingWrites === 50);
    sink.release();
    const ack = await device.ackFor(50);
    assert.equal(ack.seq, 50);
    const acks = device.frames.filter((f) => f.type === 'ack').length;
    assert.ok(acks <= 1, `expected the acks to be coalesced, got ${acks + 1}`);
    sink.open();
    device.close();
  });
});
