import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { waitUntil } from '@iot-gateway/testing';
import { TestDevice } from '../support/test-device.ts';
import { startTestGateway } from '../support/test-gateway.ts';
import { autoAnswer } from './command-kit.ts';

describe('schedules', () => {
  it('fires a schedule every 2 seconds at least twice in 5 seconds, and again after a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'iot-gateway-schedule-'));
    try {
      let gw = await startTestGateway({}, { dataDir });
      const token = await gw.provision('sched-1', 'thermostat', { floor: '2' });
      let device = await TestDevice.connect(gw.url, token);
      let received = autoAnswer(device);
      const created = await gw.api('POST', '/v1/schedules', {
        name: 'nudge',
        cron: '*/2 * * * * *',
        timezone: 'Europe/Berlin',
        selector: { labels: { floor: '2' } },
        command: { name: 'set_interval', params: { intervalMs: 10_000 } },
      });
      assert.equal(created.status, 201);
      assert.equal(created.body.timezone, 'Europe/Berlin');
      assert.ok(created.body.nextRunAt);
      const id = created.body.id as string;

      await waitUntil(() => received.length >= 2, {
        timeoutMs: 5_000,
        message: 'two scheduled commands',
      });
      assert.ok(received.every((f) => f.name === 'set_interval' && f.params.intervalMs === 10_000));
      let runs: any[] = [];
      await waitUntil(async () => {
        runs = (await gw.api('GET', `/v1/schedules/${id}/runs`)).body.runs;
        return runs.length >= 2;
      });
      assert.ok(runs.every((r) => r.outcome === 'ok' && r.targeted === 1 && r.fleetId));
      const fleet = await gw.api('GET', `/v1/fleet-commands/${runs[0].fleetId}`);
      assert.equal(fleet.body.source, 'schedule');
      assert.equal(fleet.body.scheduleId, id);
      const metrics = await gw.api('GET', '/metrics');
      assert.match(metrics.body, /iot_gateway_schedule_runs_total\{outcome="ok"\} [2-9]/);

      await gw.stop({ keepData: true });
      device.close();

      gw = await startTestGateway({}, { dataDir });
      try {
        const listed = await gw.api('GET', '/v1/schedules');
        assert.deepEqual(
          listed.body.schedules.map((s: { id: string }) => s.id),
          [id],
        );
        const before = (await gw.api('GET', `/v1/schedules/${id}/runs?limit=1000`)).body.runs
          .length;
        device = await TestDevice.connect(gw.url, token);
        received = autoAnswer(device);
        await waitUntil(() => received.length >= 2, {
          timeoutMs: 5_000,
          message: 'two scheduled commands after the restart',
        });
        const after = (await gw.api('GET', `/v1/schedules/${id}/runs?limit=1000`)).body.runs;
        assert.ok(after.length >= before + 2);

        const deleted = await gw.api('DELETE', `/v1/schedules/${id}`);
        assert.equal(deleted.status, 204);
        assert.equal((await gw.api('GET', `/v1/schedules/${id}`)).status, 404);
        assert.equal((await gw.api('GET', `/v1/schedules/${id}/runs`)).status, 404);
        assert.deepEqual((await gw.api('GET', '/v1/schedules')).body.schedules, []);
        device.close();
      } finally {
        await gw.stop({ keepData: true });
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('records an empty run when nothing matches and skips devices without the command', async () => {
    const gw = await startTestGateway();
    try {
      await gw.provision('sched-tracker', 'gps-tracker', { zone: 'a' });
      await gw.provision('sched-thermo', 'thermostat', { zone: 'a' });
      const created = await gw.api('POST', '/v1/schedules', {
        cron: '0 0 1 1 *',
        selector: { labels: { zone: 'a' } },
        command: { name: 'set_setpoint', params: { setpoint: 18 } },
      });
      assert.equal(created.status, 201);
      assert.equal(created.body.name, 'set_setpoint');
      assert.equal(created.body.timezone, 'UTC');
      const schedule = {
        id: created.body.id,
        name: 'x',
        cron: '0 0 1 1 *',
        timezone: 'UTC',
        selector: { labels: { zone: 'a' } },
        command: { name: 'set_setpoint', params: { setpoint: 18 } },
        createdAt: Date.now(),
      };
      const run = await gw.scheduler.run(schedule);
      assert.equal(run.outcome, 'ok');
      assert.equal(run.targeted, 1);
      assert.equal(run.skipped, 1);
      const empty = await gw.scheduler.run({ ...schedule, selector: { labels: { zone: 'b' } } });
      assert.equal(empty.outcome, 'empty');
    } finally {
      await gw.stop();
    }
  });
});
