import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitUntil } from '@iot-gateway/testing';
import { issuePaths } from '../api/api-kit.ts';
import type { Frame } from '../support/test-device.ts';
import { TestDevice } from '../support/test-device.ts';
import type { TestGateway } from '../support/test-gateway.ts';
import { startTestGateway } from '../support/test-gateway.ts';
import { autoAnswer } from './command-kit.ts';

const FLEET = 200;

describe('fleet commands', () => {
  let gw: TestGateway;
  const devices: TestDevice[] = [];
  const received = new Map<string, Frame[]>();

  before(async () => {
    gw = await startTestGateway({ COMMAND_MAX_PENDING: '2' });
    const ids = Array.from({ length: FLEET }, (_, i) => `fleet-${String(i).padStart(3, '0')}`);
    const tokens = await Promise.all(
      ids.map((id, i) => gw.provision(id, 'thermostat', { site: 'north', row: String(i % 2) })),
    );
    for (const [i, token] of tokens.entries()) {
      const device = await TestDevice.connect(gw.url, token);
      devices.push(device);
      received.set(ids[i] as string, autoAnswer(device));
    }
    await gw.provision('tracker-1', 'gps-tracker', { site: 'north' });
  });
  after(async () => {
    for (const d of devices) d.close();
    await gw.stop();
  });

  it(`reaches all ${FLEET} connected devices and the summary says so`, async () => {
    const res = await gw.api('POST', '/v1/fleet-commands', {
      selector: { type: 'thermostat', labels: { site: 'north' } },
      name: 'set_setpoint',
      params: { setpoint: 20 },
    });
    assert.equal(res.status, 202);
    assert.equal(res.body.targeted, FLEET);
    assert.equal(res.body.skipped.count, 0);
    const id = res.body.id as string;
    let summary: any;
    await waitUntil(
      async () => {
        summary = (await gw.api('GET', `/v1/fleet-commands/${id}`)).body;
        return summary.done;
      },
      { timeoutMs: 15_000, message: 'every fleet command to finish' },
    );
    assert.equal(summary.states.succeeded, FLEET);
    assert.equal(summary.targeted, FLEET);
    for (const [deviceId, frames] of received) {
      const ours = frames.filter((f) => f.name === 'set_setpoint');
      assert.equal(ours.length, 1, `${deviceId} got the command once`);
      assert.deepEqual(ours[0]?.params, { setpoint: 20 });
    }
    const listed = await gw.api('GET', `/v1/commands?fleetId=${id}&limit=1000`);
    assert.equal(listed.body.commands.length, FLEET);
    assert.ok(listed.body.commands.every((c: { source: string }) => c.source === 'fleet'));
  });

  it('refuses a command that does not fit every matched type, before anything is queued', async () => {
    const res = await gw.api('POST', '/v1/fleet-commands', {
      selector: { labels: { site: 'north' } },
      name: 'set_setpoint',
      params: { setpoint: 20 },
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.error, 'command_not_supported');
    assert.deepEqual(issuePaths(res.body), ['body.name']);
    assert.match(res.body.issues[0].message, /gps-tracker/);
    const tracker = await gw.api('GET', '/v1/devices/tracker-1/commands');
    assert.deepEqual(tracker.body.commands, []);

    const bad = await gw.api('POST', '/v1/fleet-commands', {
      selector: {},
      name: 'reboot',
      params: { delayMs: -5 },
    });
    assert.equal(bad.status, 400);
    assert.deepEqual(issuePaths(bad.body), ['body.selector']);
    const params = await gw.api('POST', '/v1/fleet-commands', {
      selector: { ids: ['fleet-000'] },
      name: 'reboot',
      params: { delayMs: -5 },
    });
    assert.equal(params.body.error, 'validation_failed');
    assert.deepEqual(issuePaths(params.body), ['body.params.delayMs']);
    const type = await gw.api('POST', '/v1/fleet-commands', {
      selector: { type: 'toaster' },
      name: 'reboot',
    });
    assert.equal(type.body.error, 'unknown_device_type');
    assert.deepEqual(issuePaths(type.body), ['body.selector.type']);
  });

  it('skips devices whose queue is full and lists them', async () => {
    await gw.provision('full-1', 'thermostat', { site: 'south' });
    await gw.provision('full-2', 'thermostat', { site: 'south' });
    // COMMAND_MAX_PENDING is 2 and the devices are offline.
    for (let i = 0; i < 2; i++) {
      await gw.api('POST', '/v1/devices/full-1/commands', { name: 'reboot' });
    }
    const res = await gw.api('POST', '/v1/fleet-commands', {
      selector: { labels: { site: 'south' } },
      name: 'reboot',
    });
    assert.equal(res.body.targeted, 1);
    assert.deepEqual(res.body.skipped, {
      count: 1,
      devices: [{ deviceId: 'full-1', reason: 'command_queue_full' }],
    });
    assert.equal(res.body.states.queued, 1);
    assert.equal(res.body.done, false);
    const missing = await gw.api('GET', '/v1/fleet-commands/nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error, 'fleet_command_not_found');
  });
});
