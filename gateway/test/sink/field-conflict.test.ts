import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { InfluxDBServer } from '@iot-gateway/testing';
import { startInfluxDB } from '@iot-gateway/testing';
import { TestDevice } from '../support/test-device.ts';
import type { TestGateway } from '../support/test-gateway.ts';
import { startTestGateway } from '../support/test-gateway.ts';

// A user-defined type that reports `voltage` as text, while power meters report it as a number:
// InfluxDB keeps one type per field, so whichever comes second is refused.
const LEGACY_TYPE = [
  {
    name: 'legacy-meter',
    description: 'An old meter that reports its voltage as text',
    metrics: { voltage: { type: 'string' }, energy: { type: 'number', min: 0 } },
  },
];

describe('a field type conflict in InfluxDB', () => {
  let influx: InfluxDBServer;
  let gw: TestGateway;
  let dir: string;

  before(async () => {
    influx = await startInfluxDB();
    dir = mkdtempSync(join(tmpdir(), 'types-'));
    writeFileSync(join(dir, 'types.json'), JSON.stringify(LEGACY_TYPE));
    gw = await startTestGateway({
      INFLUX_URL: `${influx.url}/iot`,
      DEVICE_TYPES_FILE: join(dir, 'types.json'),
      // One batch for all frames below, so the refused point arrives among good ones.
      INFLUX_FLUSH_MS: '200',
    });
  });
  after(async () => {
    await gw.stop();
    await influx.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('rejects only the offending frame and writes the rest of its batch', async () => {
    const meter = await TestDevice.connect(gw.url, await gw.provision('meter-1', 'power-meter'));
    meter.send({ type: 'telemetry', seq: 1, metrics: { voltage: 230.5, energy: 10 } });
    await meter.ackFor(1);

    const legacy = await TestDevice.connect(gw.url, await gw.provision('legacy-1', 'legacy-meter'));
    const t0 = Date.now() - 10_000;
    meter.send({ type: 'telemetry', seq: 2, ts: t0, metrics: { voltage: 231, energy: 11 } });
    legacy.send({ type: 'telemetry', seq: 1, ts: t0, metrics: { voltage: '230V', energy: 5 } });
    legacy.send({ type: 'telemetry', seq: 2, ts: t0 + 1, metrics: { energy: 6 } });
    meter.send({ type: 'telemetry', seq: 3, ts: t0 + 1, metrics: { voltage: 229.5, energy: 12 } });

    const refused = await legacy.errorFor(1);
    assert.equal(refused.code, 'write_rejected');
    assert.match(refused.message, /conflict/);
    const ack = await legacy.ackFor(2);
    assert.equal(ack.seq, 2, 'the next frame of the same device is acked');
    assert.equal((await meter.ackFor(3)).seq, 3, 'other devices in the batch are acked');

    const meterRows = await influx.query(
      `SELECT voltage FROM telemetry WHERE device_id = 'meter-1'`,
      'iot',
    );
    assert.equal(meterRows.length, 3);
    const legacyRows = await influx.query(
      `SELECT energy FROM telemetry WHERE device_id = 'legacy-1'`,
      'iot',
    );
    assert.deepEqual(
      legacyRows.map((r) => r.energy),
      [6],
      'only the refused reading is missing',
    );
    meter.close();
    legacy.close();
  });
});
