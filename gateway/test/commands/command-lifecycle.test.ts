import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitUntil } from '@iot-gateway/testing';
import Database from 'better-sqlite3';
import { issuePaths } from '../api/api-kit.ts';
import { TestDevice } from '../support/test-device.ts';
import type { TestGateway } from '../support/test-gateway.ts';
import { startTestGateway } from '../support/test-gateway.ts';
import { autoAnswer, commandFrames, roundTrip } from './command-kit.ts';

async function stateOf(gw: TestGateway, id: string): Promise<string> {
  return (await gw.api('GET', `/v1/commands/${id}`)).body.state;
}

async function waitForState(gw: TestGateway, id: string, state: string) {
  await waitUntil(async () => (await stateOf(gw, id)) === state, {
    message: `command ${id} to be ${state}`,
  });
  return (await gw.api('GET', `/v1/commands/${id}`)).body;
}

describe('command lifecycle with a real device', () => {
  let gw: TestGateway;
  const devices: TestDevice[] = [];
  const connect = async (token: string) => {
    const device = await TestDevice.connect(gw.url, token);
    devices.push(device);
    return device;
  };

  before(async () => {
    gw = await startTestGateway({ COMMAND_MAX_PENDING: '5', COMMAND_MAX_IN_FLIGHT: '2' });
  });
  after(async () => {
    for (const d of devices) d.close();
    await gw.stop();
  });

  it('delivers a command to an online device and records its result', async () => {
    const device = await connect(await gw.provision('life-1'));
    const res = await gw.api('POST', '/v1/devices/life-1/commands', {
      name: 'set_setpoint',
      params: { setpoint: 21.5 },
    });
    assert.equal(res.status, 202);
    assert.equal(res.body.state, 'sent');
    assert.equal(res.body.source, 'api');
    const frame = await device.next((f) => f.type === 'command');
    assert.deepEqual(frame, {
      type: 'command',
      id: res.body.id,
      name: 'set_setpoint',
      params: { setpoint: 21.5 },
      expiresAt: Date.parse(res.body.expiresAt),
    });
    device.send({ type: 'command_result', id: frame.id, status: 'succeeded', result: { ok: 1 } });
    const done = await waitForState(gw, res.body.id, 'succeeded');
    assert.deepEqual(done.result, { ok: 1 });
    assert.ok(done.sentAt && done.finishedAt);
    assert.equal(done.deadlineAt, undefined);

    const failed = await gw.api('POST', '/v1/devices/life-1/commands', { name: 'reboot' });
    const second = await device.next((f) => f.type === 'command' && f.id === failed.body.id);
    device.send({
      type: 'command_result',
      id: second.id,
      status: 'failed',
      error: { code: 'busy', message: 'firmware update running' },
    });
    const failedBody = await waitForState(gw, failed.body.id, 'failed');
    assert.deepEqual(failedBody.error, { code: 'busy', message: 'firmware update running' });
  });

  it('?wait answers with the final state once the device answers', async () => {
    const device = await connect(await gw.provision('life-wait'));
    autoAnswer(device);
    const res = await gw.api('POST', '/v1/devices/life-wait/commands?wait=5000', {
      name: 'set_interval',
      params: { intervalMs: 5000 },
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.state, 'succeeded');
    assert.deepEqual(res.body.result, { ran: 'set_interval' });

    // A wait that ends first answers with the state reached so far.
    const offline = await gw.provision('life-wait-off');
    assert.ok(offline);
    const queued = await gw.api('POST', '/v1/devices/life-wait-off/commands?wait=50', {
      name: 'reboot',
    });
    assert.equal(queued.status, 202);
    assert.equal(queued.body.state, 'queued');
    const read = await gw.api('GET', `/v1/commands/${queued.body.id}?wait=20`);
    assert.equal(read.status, 200);
    assert.equal(read.body.state, 'queued');
  });

  it('queues commands for an offline device and delivers them in order on reconnect', async () => {
    const token = await gw.provision('life-2');
    const ids: string[] = [];
    for (const intervalMs of [1000, 2000, 3000, 4000]) {
      const res = await gw.api('POST', '/v1/devices/life-2/commands', {
        name: 'set_interval',
        params: { intervalMs },
      });
      assert.equal(res.status, 202);
      assert.equal(res.body.state, 'queued');
      ids.push(res.body.id);
    }
    const listed = await gw.api('GET', '/v1/devices/life-2/commands?state=queued');
    assert.deepEqual(
      listed.body.commands.map((c: { id: string }) => c.id),
      [...ids].reverse(),
    );

    const device = await connect(token);
    // COMMAND_MAX_IN_FLIGHT is 2: two go out, the next follows each answer, in order.
    await waitUntil(() => commandFrames(device).length === 2);
    await roundTrip(device);
    assert.deepEqual(
      commandFrames(device).map((f) => f.id),
      ids.slice(0, 2),
    );
    const received = autoAnswer(device);
    await waitUntil(() => received.length === 4, { message: 'all four commands' });
    assert.deepEqual(
      received.map((f) => f.id),
      ids,
    );
    assert.deepEqual(
      received.map((f) => f.params.intervalMs),
      [1000, 2000, 3000, 4000],
    );
    for (const id of ids) await waitForState(gw, id, 'succeeded');
  });

  it('sends queued commands only once the session shows life, so an abandoned one takes none', async () => {
    const token = await gw.provision('life-silent');
    const first = await gw.api('POST', '/v1/devices/life-silent/commands', { name: 'reboot' });
    assert.equal(first.body.state, 'queued');
    // A connection the device gave up on: it got `hello` but never answers (nor pongs).
    const abandoned = await TestDevice.connect(gw.url, token, { autoPong: false });
    devices.push(abandoned);
    const online = await gw.api('GET', '/v1/devices/life-silent');
    assert.equal(online.body.device.online, true);
    // Delivery runs on the device's lane in order, so this answer comes after any delivery the
    // connect started: neither command went out on the silent session.
    const second = await gw.api('POST', '/v1/devices/life-silent/commands', { name: 'reboot' });
    assert.equal(second.body.state, 'queued');
    assert.equal(await stateOf(gw, first.body.id), 'queued');
    abandoned.close();
    await waitUntil(
      async () => !(await gw.api('GET', '/v1/devices/life-silent')).body.device.online,
      { message: 'the abandoned session to end' },
    );
    assert.deepEqual(commandFrames(abandoned), []);

    // The next session is silent too at first; its first frame is its first sign of life.
    const device = await TestDevice.connect(gw.url, token, { autoPong: false });
    devices.push(device);
    device.send({ type: 'ping' });
    await waitUntil(() => commandFrames(device).length === 2, { message: 'both commands' });
    assert.deepEqual(
      commandFrames(device).map((f) => f.id),
      [first.body.id, second.body.id],
    );
    assert.equal(await stateOf(gw, first.body.id), 'sent');
  });

  it('ends a sent command the device never answers as timed_out', async () => {
    const device = await connect(await gw.provision('life-3'));
    const res = await gw.api('POST', '/v1/devices/life-3/commands', {
      name: 'reboot',
      timeoutMs: 200,
    });
    assert.equal(res.body.state, 'sent');
    await device.next((f) => f.type === 'command');
    const done = await waitForState(gw, res.body.id, 'timed_out');
    assert.ok(done.finishedAt);
    // A result after the deadline is refused with the documented code.
    device.send({ type: 'command_result', id: res.body.id, status: 'succeeded' });
    const error = await device.next((f) => f.type === 'error');
    assert.equal(error.code, 'unknown_command');
    assert.equal(await stateOf(gw, res.body.id), 'timed_out');
  });

  it('expires a command whose ttl passes while the device is offline', async () => {
    const token = await gw.provision('life-4');
    const res = await gw.api('POST', '/v1/devices/life-4/commands', {
      name: 'reboot',
      ttlMs: 200,
    });
    assert.equal(res.body.state, 'queued');
    await waitForState(gw, res.body.id, 'expired');
    const device = await connect(token);
    await roundTrip(device);
    assert.deepEqual(commandFrames(device), []);
  });

  it('cancels a queued command (never delivered) and a sent one (result refused)', async () => {
    const token = await gw.provision('life-5');
    const queued = await gw.api('POST', '/v1/devices/life-5/commands', { name: 'reboot' });
    const cancelled = await gw.api('POST', `/v1/commands/${queued.body.id}/cancel`);
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.body.state, 'cancelled');
    const again = await gw.api('POST', `/v1/commands/${queued.body.id}/cancel`);
    assert.equal(again.status, 409);
    assert.equal(again.body.error, 'command_not_cancellable');

    const device = await connect(token);
    await roundTrip(device);
    assert.deepEqual(commandFrames(device), []);

    const sent = await gw.api('POST', '/v1/devices/life-5/commands', { name: 'reboot' });
    assert.equal(sent.body.state, 'sent');
    await device.next((f) => f.type === 'command');
    const c2 = await gw.api('POST', `/v1/commands/${sent.body.id}/cancel`);
    assert.equal(c2.body.state, 'cancelled');
    device.send({ type: 'command_result', id: sent.body.id, status: 'succeeded' });
    assert.equal((await device.next((f) => f.type === 'error')).code, 'unknown_command');
    assert.equal(await stateOf(gw, sent.body.id), 'cancelled');

    const missing = await gw.api('POST', '/v1/commands/no-such-command/cancel');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error, 'command_not_found');
  });

  it('refuses an unknown command or bad params with 400 before anything is queued', async () => {
    const token = await gw.provision('life-6');
    const unknown = await gw.api('POST', '/v1/devices/life-6/commands', { name: 'self_destruct' });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.error, 'command_not_supported');
    assert.deepEqual(issuePaths(unknown.body), ['body.name']);

    const bad = await gw.api('POST', '/v1/devices/life-6/commands', {
      name: 'set_setpoint',
      params: { setpoint: 99, extra: true },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, 'validation_failed');
    assert.deepEqual(issuePaths(bad.body).sort(), ['body.params', 'body.params.setpoint']);

    const missing = await gw.api('POST', '/v1/devices/life-6/commands', { name: 'set_interval' });
    assert.deepEqual(issuePaths(missing.body), ['body.params.intervalMs']);

    const shape = await gw.api('POST', '/v1/devices/life-6/commands', {
      name: 'reboot',
      ttlMs: -1,
      colour: 'red',
    });
    assert.equal(shape.status, 400);
    assert.deepEqual(issuePaths(shape.body).sort(), ['body', 'body.ttlMs']);

    const nobody = await gw.api('POST', '/v1/devices/nobody/commands', { name: 'reboot' });
    assert.equal(nobody.status, 404);
    assert.equal(nobody.body.error, 'device_not_found');

    const listed = await gw.api('GET', '/v1/devices/life-6/commands');
    assert.deepEqual(listed.body.commands, []);
    const device = await connect(token);
    await roundTrip(device);
    assert.deepEqual(commandFrames(device), []);
  });

  it('refuses a request reusing an id with other params with 409 command_exists and the differences', async () => {
    await gw.provision('life-8');
    const first = await gw.api('POST', '/v1/devices/life-8/commands', {
      name: 'set_setpoint',
      id: 'req-params',
      params: { setpoint: 22 },
    });
    assert.equal(first.status, 202);
    // The same request with its keys in another order is the same request.
    const retry = await gw.api('POST', '/v1/devices/life-8/commands', {
      params: { setpoint: 22 },
      id: 'req-params',
      name: 'set_setpoint',
    });
    assert.equal(retry.status, 202);
    assert.equal(retry.body.createdAt, first.body.createdAt);
    const changed = await gw.api('POST', '/v1/devices/life-8/commands', {
      name: 'set_setpoint',
      id: 'req-params',
      params: { setpoint: 23 },
      timeoutMs: 5_000,
    });
    assert.equal(changed.status, 409);
    assert.equal(changed.body.error, 'command_exists');
    assert.deepEqual(
      changed.body.issues.map((i: { path: string }) => i.path),
      ['body.params', 'body.timeoutMs'],
    );
    assert.match(changed.body.issues[0].message, /"setpoint":22/);
    const kept = await gw.api('GET', '/v1/commands/req-params');
    assert.deepEqual(kept.body.params, { setpoint: 22 });
  });

  it('treats a resent request id as the same command and refuses a full queue with 429', async () => {
    await gw.provision('life-7');
    const first = await gw.api('POST', '/v1/devices/life-7/commands', {
      name: 'reboot',
      id: 'req-1',
    });
    const again = await gw.api('POST', '/v1/devices/life-7/commands', {
      name: 'reboot',
      id: 'req-1',
    });
    assert.equal(first.body.id, 'req-1');
    assert.equal(again.status, 202);
    assert.equal(again.body.id, 'req-1');
    assert.equal(again.body.createdAt, first.body.createdAt);
    const other = await gw.api('POST', '/v1/devices/life-7/commands', {
      name: 'set_setpoint',
      id: 'req-1',
      params: { setpoint: 20 },
    });
    assert.equal(other.status, 409);
    assert.equal(other.body.error, 'command_exists');

    // COMMAND_MAX_PENDING is 5.
    for (let i = 0; i < 4; i++) {
      assert.equal(
        (await gw.api('POST', '/v1/devices/life-7/commands', { name: 'reboot' })).status,
        202,
      );
    }
    const full = await gw.api('POST', '/v1/devices/life-7/commands', { name: 'reboot' });
    assert.equal(full.status, 429);
    assert.equal(full.body.error, 'command_queue_full');
  });

  it('lists and pages commands, and counts them by state in /metrics', async () => {
    const all = await gw.api('GET', '/v1/commands?limit=2');
    assert.equal(all.status, 200);
    assert.equal(all.body.commands.length, 2);
    assert.ok(all.body.next);
    const nextPage = await gw.api('GET', `/v1/commands?limit=2&before=${all.body.next}`);
    assert.equal(nextPage.body.commands.length, 2);
    assert.notEqual(nextPage.body.commands[0].id, all.body.commands[1].id);
    const succeeded = await gw.api('GET', '/v1/commands?state=succeeded&state=failed');
    assert.ok(
      succeeded.body.commands.every((c: { state: string }) =>
        ['succeeded', 'failed'].includes(c.state),
      ),
    );
    const metrics = await gw.api('GET', '/metrics');
    assert.match(metrics.body, /iot_gateway_commands_total\{state="succeeded"\} \d+/);
    assert.match(metrics.body, /iot_gateway_commands_stored\{state="expired"\} [1-9]/);
  });
});

describe('commands across a gateway restart', () => {
  it('delivers a command queued before the restart, and ends overdue ones at start', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'iot-gateway-restart-'));
    try {
      let gw = await startTestGateway({}, { dataDir });
      const token = await gw.provision('restart-1');
      const queued = await gw.api('POST', '/v1/devices/restart-1/commands', {
        name: 'set_setpoint',
        params: { setpoint: 19 },
      });
      const doomed = await gw.api('POST', '/v1/devices/restart-1/commands', {
        name: 'reboot',
        ttlMs: 1000,
      });
      // A sent command whose device stays silent across the restart.
      const silentToken = await gw.provision('restart-2');
      const silent = await TestDevice.connect(gw.url, silentToken);
      const sent = await gw.api('POST', '/v1/devices/restart-2/commands', {
        name: 'reboot',
        timeoutMs: 1000,
      });
      assert.equal(sent.body.state, 'sent');
      await gw.stop({ keepData: true });
      silent.close();
      // Past both deadlines while the gateway is down.
      await waitUntil(
        () =>
          Date.now() > Date.parse(doomed.body.expiresAt) + 50 &&
          Date.now() > Date.parse(sent.body.sentAt) + 1050,
        { timeoutMs: 3000 },
      );

      gw = await startTestGateway({}, { dataDir });
      try {
        assert.equal(await stateOf(gw, doomed.body.id), 'expired');
        assert.equal(await stateOf(gw, sent.body.id), 'timed_out');
        assert.equal(await stateOf(gw, queued.body.id), 'queued');
        const device = await TestDevice.connect(gw.url, token);
        const frame = await device.next((f) => f.type === 'command');
        assert.equal(frame.id, queued.body.id);
        assert.deepEqual(frame.params, { setpoint: 19 });
        device.send({ type: 'command_result', id: frame.id, status: 'succeeded' });
        await waitForState(gw, queued.body.id, 'succeeded');
        await roundTrip(device);
        assert.deepEqual(commandFrames(device), []);
        device.close();
      } finally {
        await gw.stop({ keepData: true });
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('accepts the answer to a command sent before the restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'iot-gateway-restart-'));
    try {
      let gw = await startTestGateway({}, { dataDir });
      const token = await gw.provision('restart-3');
      let device = await TestDevice.connect(gw.url, token);
      const sent = await gw.api('POST', '/v1/devices/restart-3/commands', { name: 'reboot' });
      const frame = await device.next((f) => f.type === 'command');
      await gw.stop({ keepData: true });
      device.close();
      gw = await startTestGateway({}, { dataDir });
      try {
        device = await TestDevice.connect(gw.url, token);
        device.send({ type: 'command_result', id: frame.id, status: 'succeeded' });
        await waitForState(gw, sent.body.id, 'succeeded');
        device.close();
      } finally {
        await gw.stop({ keepData: true });
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('command delivery when the store fails', () => {
  it('tries a failed delivery again at the next sweep, once', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'iot-gateway-busy-'));
    const logs: string[] = [];
    const gw = await startTestGateway({ LOG_LEVEL: 'warn' }, { dataDir, logs });
    const locker = new Database(join(dataDir, 'gateway.db'));
    try {
      const token = await gw.provision('busy-1');
      const queued = await gw.api('POST', '/v1/devices/busy-1/commands', { name: 'reboot' });
      assert.equal(queued.body.state, 'queued');
      // Another writer holds the database: the claim at the session's first sign of life waits
      // out the busy timeout and fails.
      locker.exec('BEGIN IMMEDIATE');
      const device = await TestDevice.connect(gw.url, token);
      await waitUntil(() => logs.some((line) => line.includes('command delivery failed')), {
        timeoutMs: 15_000,
        message: 'the failed delivery',
      });
      assert.equal(await stateOf(gw, queued.body.id), 'queued');
      locker.exec('ROLLBACK');
      const frame = await device.next((f) => f.type === 'command', 5_000);
      assert.equal(frame.id, queued.body.id);
      assert.equal(await stateOf(gw, queued.body.id), 'sent');
      await roundTrip(device);
      assert.deepEqual(commandFrames(device), []);
      device.close();
    } finally {
      locker.close();
      await gw.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('command housekeeping', () => {
  it('removes finished commands older than COMMAND_RETENTION_MS and keeps pending ones', async () => {
    const gw = await startTestGateway({ COMMAND_RETENTION_MS: '60000' });
    try {
      await gw.provision('house-1');
      const done = await gw.api('POST', '/v1/devices/house-1/commands', { name: 'reboot' });
      await gw.api('POST', `/v1/commands/${done.body.id}/cancel`);
      const pending = await gw.api('POST', '/v1/devices/house-1/commands', { name: 'reboot' });
      assert.equal(await gw.commands.housekeep(Date.now()), 0);
      assert.equal(await gw.commands.housekeep(Date.now() + 61_000), 1);
      const gone = await gw.api('GET', `/v1/commands/${done.body.id}`);
      assert.equal(gone.status, 404);
      assert.equal(gone.body.error, 'command_not_found');
      assert.equal(await stateOf(gw, pending.body.id), 'queued');
    } finally {
      await gw.stop();
    }
  });
});
