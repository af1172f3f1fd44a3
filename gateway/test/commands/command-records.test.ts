import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { InfluxDBServer } from '@iot-gateway/testing';
import { startInfluxDB, waitUntil } from '@iot-gateway/testing';
import type { TestGateway } from '../support/test-gateway.ts';
import { startTestGateway } from '../support/test-gateway.ts';

describe('command records', () => {
  let influx: InfluxDBServer;
  let gw: TestGateway;
  before(async () => {
    influx = await startInfluxDB();
    gw = await startTestGateway({ INFLUX_URL: `${influx.url}/iot` });
  });
  after(async () => {
    await gw.stop();
    await influx.stop();
  });

  it('cancels a deleted device’s pending commands, so a device provisioned again never gets them', async () => {
    await gw.provision('gone-1');
    const queued = await gw.api('POST', '/v1/devices/gone-1/commands', {
      name: 'reboot',
      params: {},
    });
    assert.equal(queued.status, 202);
    assert.equal(queued.body.state, 'queued');
    assert.equal((await gw.api('DELETE', '/v1/devices/gone-1')).status, 204);
    const after = await gw.api('GET', `/v1/commands/${queued.body.id}`);
    assert.equal(after.body.state, 'cancelled');
  });

  it('writes every state change to the commands measurement for the dashboards', async () => {
    await gw.provision('rec-1', 'power-meter');
    const sent = await gw.api('POST', '/v1/devices/rec-1/commands', { name: 'reboot', params: {} });
    await gw.api('POST', `/v1/commands/${sent.body.id}/cancel`);
    const rows = await waitUntil(
      async () => {
        const r = await influx.query(`SELECT * FROM commands WHERE device_id = 'rec-1'`, 'iot');
        return r.length >= 2 ? r : undefined;
      },
      { message: 'two command points' },
    );
    assert.deepEqual(rows.map((r) => r.state).sort(), ['cancelled', 'queued']);
    for (const r of rows) {
      assert.equal(r.device_type, 'power-meter');
      assert.equal(r.name, 'reboot');
      assert.equal(r.source, 'api');
      assert.equal(r.id, sent.body.id);
    }
    assert.equal(typeof rows.find((r) => r.state === 'cancelled')?.latency_ms, 'number');
  });
});
