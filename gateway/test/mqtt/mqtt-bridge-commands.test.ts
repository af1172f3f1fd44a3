import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MosquittoServer } from '@iot-gateway/testing';
import { startMosquitto, waitUntil } from '@iot-gateway/testing';
import type { MqttClient } from 'mqtt';
import { connectAsync } from 'mqtt';
import type { CommandIngress, CommandRequest } from '../../src/mqtt/command-ingress.ts';
import { createTestBridge, Recorder, type TestBridge, uniquePrefix } from './mqtt-test-kit.ts';

/** The command service seam, faked: records submissions and accepts them all. */
class FakeIngress implements CommandIngress {
  readonly calls: Array<{ deviceId: string; request: CommandRequest; source: string }> = [];

  async submit(deviceId: string, request: CommandRequest, source: 'mqtt') {
    this.calls.push({ deviceId, request, source });
    return { id: request.id ?? `c-${this.calls.length}`, state: 'queued' };
  }
}

let broker: MosquittoServer;
let backend: MqttClient;
const cleanups: Array<() => Promise<unknown>> = [];

before(async () => {
  broker = await startMosquitto();
  backend = await connectAsync(broker.url, { clientId: 'backend' });
});
after(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await backend.endAsync();
  await broker.stop();
});

async function startBridge(
  ingress: CommandIngress | undefined,
  options: Parameters<typeof createTestBridge>[1] = {},
): Promise<TestBridge> {
  const t = createTestBridge(broker.url, options, ingress ? { commands: ingress } : {});
  cleanups.push(() => t.bridge.stop());
  t.bridge.start();
  await waitUntil(() => t.bridge.state().connected);
  // The subscription is made right after connecting; one round trip through the broker proves
  // it is active.
  const probe = await Recorder.connect(broker.url, `${t.prefix}/devices/probe/commands/rejected`);
  await waitUntil(
    async () => {
      await backend.publishAsync(`${t.prefix}/devices/probe/commands`, 'x', { qos: 1 });
      return probe.messages.length > 0;
    },
    { intervalMs: 50, message: 'the command subscription' },
  );
  await probe.close();
  return t;
}

async function recorder(filter: string): Promise<Recorder> {
  const r = await Recorder.connect(broker.url, filter);
  cleanups.push(() => r.close());
  return r;
}

describe('MqttBridge command ingress', () => {
  it('hands a published command to the command service', async () => {
    const ingress = new FakeIngress();
    const t = await startBridge(ingress);
    await backend.publishAsync(
      `${t.prefix}/devices/th-1/commands`,
      JSON.stringify({ name: 'setTarget', params: { celsius: 21.5 }, ttlMs: 60_000, id: 'req-1' }),
      { qos: 1 },
    );
    await waitUntil(() => ingress.calls.length === 1);
    assert.deepEqual(ingress.calls[0], {
      deviceId: 'th-1',
      request: { name: 'setTarget', params: { celsius: 21.5 }, ttlMs: 60_000, id: 'req-1' },
      source: 'mqtt',
    });
  });

  it('replies on commands/rejected to invalid JSON and invalid requests, with issue paths', async () => {
    const ingress = new FakeIngress();
    const t = await startBridge(ingress);
    const replies = await recorder(`${t.prefix}/devices/+/commands/rejected`);
    await backend.publishAsync(`${t.prefix}/devices/d1/commands`, '{not json', { qos: 1 });
    await backend.publishAsync(
      `${t.prefix}/devices/d2/commands`,
      JSON.stringify({ name: 42, ttlMs: 'soon', id: 'req-9' }),
      { qos: 1 },
    );
    const ours = () => replies.matching((m) => !m.topic.includes('/probe/'));
    await waitUntil(() => ours().length === 2);
    const [first, second] = ours();
    assert.equal(first?.topic, `${t.prefix}/devices/d1/commands/rejected`);
    assert.equal(first?.retain, false);
    assert.equal(first?.body.error, 'validation_failed');
    assert.deepEqual(
      first?.body.issues.map((i: { path: string }) => i.path),
      [''],
    );
    assert.equal(second?.topic, `${t.prefix}/devices/d2/commands/rejected`);
    assert.equal(second?.body.error, 'validation_failed');
    assert.equal(second?.body.id, 'req-9');
    assert.deepEqual(second?.body.issues.map((i: { path: string }) => i.path).sort(), [
      'name',
      'ttlMs',
    ]);
    assert.equal(ingress.calls.length, 0);
  });

  it('replies commands_unavailable when no command service is installed', async () => {
    const t = await startBridge(undefined);
    const replies = await recorder(`${t.prefix}/devices/d1/commands/rejected`);
    await backend.publishAsync(
      `${t.prefix}/devices/d1/commands`,
      JSON.stringify({ name: 'reboot' }),
      {
        qos: 1,
      },
    );
    await waitUntil(() => replies.messages.length === 1);
    assert.equal(replies.messages[0]?.body.error, 'commands_unavailable');

    // Installing a service later takes effect for the next request.
    const ingress = new FakeIngress();
    t.bridge.setCommandIngress(ingress);
    await backend.publishAsync(
      `${t.prefix}/devices/d1/commands`,
      JSON.stringify({ name: 'reboot' }),
      {
        qos: 1,
      },
    );
    await waitUntil(() => ingress.calls.length === 1);
    assert.equal(replies.messages.length, 1);
  });

  it('ignores a retained command replayed at subscription, but takes live ones', async () => {
    const prefix = uniquePrefix();
    // Published retained before the gateway subscribes: the broker replays it to every new
    // subscriber, which must not make the command run again at each reconnect.
    await backend.publishAsync(
      `${prefix}/devices/d1/commands`,
      JSON.stringify({ name: 'reboot', id: 'stale' }),
      { qos: 1, retain: true },
    );
    const ingress = new FakeIngress();
    const t = await startBridge(ingress, { topicPrefix: prefix });
    await backend.publishAsync(
      `${prefix}/devices/d1/commands`,
      JSON.stringify({ name: 'reboot', id: 'live' }),
      { qos: 1 },
    );
    await waitUntil(() => ingress.calls.length >= 1);
    assert.deepEqual(
      ingress.calls.map((c) => c.request.id),
      ['live'],
    );
    // Clearing the retained message delivers an empty payload, which is no request either.
    await backend.publishAsync(`${prefix}/devices/d1/commands`, '', { qos: 1, retain: true });
    await backend.publishAsync(
      `${prefix}/devices/d1/commands`,
      JSON.stringify({ name: 'reboot', id: 'after' }),
      { qos: 1 },
    );
    await waitUntil(() => ingress.calls.length >= 2);
    assert.deepEqual(
      ingress.calls.map((c) => c.request.id),
      ['live', 'after'],
    );
    assert.equal(t.bridge.state().dropped, 0);
  });

  it('publishes command states to commands/{commandId}, not retained', async () => {
    const t = await startBridge(new FakeIngress());
    const states = await recorder(`${t.prefix}/devices/d1/commands/+`);
    assert.equal(
      t.bridge.publishCommandState('d1', 'c-7', { state: 'sent', name: 'reboot' }),
      true,
    );
    assert.equal(
      t.bridge.publishCommandState('d1', 'c-7', {
        id: 'spoofed',
        state: 'succeeded',
        result: { ok: true },
      }),
      true,
    );
    await waitUntil(() => states.messages.length === 2);
    assert.deepEqual(
      states.messages.map((m) => [m.topic, m.retain, m.body]),
      [
        [
          `${t.prefix}/devices/d1/commands/c-7`,
          false,
          { id: 'c-7', deviceId: 'd1', state: 'sent', name: 'reboot' },
        ],
        [
          `${t.prefix}/devices/d1/commands/c-7`,
          false,
          { id: 'c-7', deviceId: 'd1', state: 'succeeded', result: { ok: true } },
        ],
      ],
    );
  });

  it('with a share group, gateways on one broker split the requests instead of each taking all', async () => {
    const prefix = uniquePrefix();
    const a = new FakeIngress();
    const b = new FakeIngress();
    await startBridge(a, { topicPrefix: prefix, clientId: `${prefix}-a`, shareGroup: 'gateways' });
    await startBridge(b, { topicPrefix: prefix, clientId: `${prefix}-b`, shareGroup: 'gateways' });
    // Both subscriptions are active once each gateway has taken a probe request.
    let probe = 0;
    await waitUntil(
      async () => {
        probe += 1;
        await backend.publishAsync(
          `${prefix}/devices/probe/commands`,
          JSON.stringify({ name: 'ping', id: `p${probe}` }),
          { qos: 1 },
        );
        return a.calls.length > 0 && b.calls.length > 0;
      },
      { intervalMs: 50, message: 'both gateways subscribed' },
    );
    for (let i = 1; i <= 20; i++) {
      await backend.publishAsync(
        `${prefix}/devices/d${i}/commands`,
        JSON.stringify({ name: 'reboot', id: `r${i}` }),
        { qos: 1 },
      );
    }
    const requests = (ingress: FakeIngress) =>
      ingress.calls.map((c) => c.request.id ?? '').filter((id) => id.startsWith('r'));
    await waitUntil(() => requests(a).length + requests(b).length >= 20);
    const ids = [...requests(a), ...requests(b)];
    assert.equal(ids.length, 20, 'no request reached both gateways');
    assert.equal(new Set(ids).size, 20, 'every request reached one gateway');
  });
});
