import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayError } from '../../src/errors.ts';
import { createLogger } from '../../src/logger.ts';
import type { CommandIngress, CommandRequest } from '../../src/mqtt/command-ingress.ts';
import type { CommandRejection } from '../../src/mqtt/command-receiver.ts';
import { CommandReceiver } from '../../src/mqtt/command-receiver.ts';
import { BridgeTopics } from '../../src/mqtt/topics.ts';

/** A command service that records what it was given and answers as told. */
class FakeIngress implements CommandIngress {
  readonly calls: Array<{ deviceId: string; request: CommandRequest; source: string }> = [];
  answer: () => Promise<{ id: string; state: string }> = async () => ({
    id: 'c-1',
    state: 'queued',
  });

  submit(deviceId: string, request: CommandRequest, source: 'mqtt') {
    this.calls.push({ deviceId, request, source });
    return this.answer();
  }
}

function setup(ingress: CommandIngress | null = new FakeIngress(), maxCommandBytes = 1024) {
  const replies: Array<{ deviceId: string; rejection: CommandRejection }> = [];
  const receiver = new CommandReceiver({
    topics: new BridgeTopics('iot'),
    maxCommandBytes,
    log: createLogger('silent'),
    ingress: () => ingress ?? undefined,
    reject: (deviceId, rejection) => replies.push({ deviceId, rejection }),
  });
  const send = (body: unknown, topic = 'iot/devices/d1/commands', retained = false) =>
    receiver.receive(
      topic,
      Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
      retained,
    );
  return { receiver, replies, send };
}

describe('CommandReceiver', () => {
  it('hands a valid request to the command service, tagged as coming from MQTT', async () => {
    const ingress = new FakeIngress();
    const { send, replies } = setup(ingress);
    await send({
      name: 'setTarget',
      params: { celsius: 21 },
      ttlMs: 60_000,
      timeoutMs: 5_000,
      id: 'req-1',
    });
    assert.deepEqual(ingress.calls, [
      {
        deviceId: 'd1',
        request: {
          name: 'setTarget',
          params: { celsius: 21 },
          ttlMs: 60_000,
          timeoutMs: 5_000,
          id: 'req-1',
        },
        source: 'mqtt',
      },
    ]);
    assert.deepEqual(replies, []);
  });

  it('answers invalid JSON with validation_failed', async () => {
    const { send, replies } = setup();
    await send('{"name": ');
    assert.equal(replies.length, 1);
    assert.equal(replies[0]?.deviceId, 'd1');
    assert.equal(replies[0]?.rejection.error, 'validation_failed');
    assert.equal(replies[0]?.rejection.issues?.[0]?.path, '');
  });

  it('lists the path of every schema problem, and echoes a valid request id', async () => {
    const { send, replies } = setup();
    await send({
      name: 'bad name',
      params: [1],
      ttlMs: -5,
      timeoutMs: 1.5,
      id: 'req-2',
      param: {},
    });
    const rejection = replies[0]?.rejection;
    assert.equal(rejection?.error, 'validation_failed');
    assert.equal(rejection?.id, 'req-2');
    const paths = rejection?.issues?.map((i) => i.path).sort();
    assert.deepEqual(paths, ['', 'name', 'params', 'timeoutMs', 'ttlMs']);
    assert.match(rejection?.issues?.find((i) => i.path === '')?.message ?? '', /param/);
  });

  it('refuses reserved keys in params', async () => {
    const { send, replies } = setup();
    await send('{"name":"reboot","params":{"__proto__":{"polluted":true}}}');
    assert.equal(replies[0]?.rejection.error, 'validation_failed');
    assert.deepEqual(
      replies[0]?.rejection.issues?.map((i) => i.path),
      ['params.__proto__'],
    );
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('refuses a payload above maxCommandBytes before parsing it', async () => {
    const { send, replies } = setup(new FakeIngress(), 64);
    await send({ name: 'reboot', params: { note: 'x'.repeat(100) } });
    assert.equal(replies[0]?.rejection.error, 'validation_failed');
    assert.match(replies[0]?.rejection.message ?? '', /more than 64/);
  });

  it('answers commands_unavailable while no command service is installed', async () => {
    const { send, replies } = setup(null);
    await send({ name: 'reboot', id: 'req-3' });
    assert.deepEqual(replies[0]?.rejection, {
      error: 'commands_unavailable',
      message: 'this gateway has no command service; send commands later or through the API',
      id: 'req-3',
    });
  });

  it("passes the command service's refusal on with its code and issues", async () => {
    const ingress = new FakeIngress();
    ingress.answer = async () => {
      throw new GatewayError('validation_failed', 'params do not match reboot', [
        { path: 'params.delayS', message: 'Too big' },
      ]);
    };
    const { send, replies } = setup(ingress);
    await send({ name: 'reboot', params: { delayS: 1e6 } });
    assert.deepEqual(replies[0]?.rejection, {
      error: 'validation_failed',
      message: 'params do not match reboot',
      issues: [{ path: 'params.delayS', message: 'Too big' }],
    });
  });

  it('answers internal_error when the command service fails unexpectedly', async () => {
    const ingress = new FakeIngress();
    ingress.answer = async () => {
      throw new Error('database is locked');
    };
    const { send, replies } = setup(ingress);
    await send({ name: 'reboot', id: 'r' });
    assert.deepEqual(replies[0]?.rejection, {
      error: 'internal_error',
      message: 'internal error',
      id: 'r',
    });
  });

  it('ignores its own output topics, retained replays and empty payloads', async () => {
    const ingress = new FakeIngress();
    const { send, replies } = setup(ingress);
    await send({ name: 'reboot' }, 'iot/devices/d1/commands/rejected');
    await send({ name: 'reboot' }, 'iot/devices/d1/commands/c-1');
    await send({ name: 'reboot' }, 'iot/devices/d1/status');
    await send({ name: 'reboot' }, 'iot/devices/d1/commands', true);
    await send('');
    assert.deepEqual(ingress.calls, []);
    assert.deepEqual(replies, []);
  });
});
