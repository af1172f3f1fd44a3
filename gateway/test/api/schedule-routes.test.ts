import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestGateway } from '../support/test-gateway.ts';
import { startTestGateway } from '../support/test-gateway.ts';
import { issuePaths } from './api-kit.ts';

const valid = {
  cron: '0 30 6 * * 1-5',
  timezone: 'America/New_York',
  selector: { type: 'thermostat' },
  command: { name: 'set_setpoint', params: { setpoint: 19 } },
};

describe('schedule routes', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway();
  });
  after(() => gw.stop());

  it('creates, lists, reads and deletes a schedule', async () => {
    const created = await gw.api('POST', '/v1/schedules', { ...valid, name: 'morning' });
    assert.equal(created.status, 201);
    assert.equal(created.body.name, 'morning');
    const next = Date.parse(created.body.nextRunAt);
    assert.ok(next > Date.now());
    const id = created.body.id;
    assert.deepEqual((await gw.api('GET', `/v1/schedules/${id}`)).body, created.body);
    const list = await gw.api('GET', '/v1/schedules');
    assert.deepEqual(
      list.body.schedules.map((s: { id: string }) => s.id),
      [id],
    );
    const runs = await gw.api('GET', `/v1/schedules/${id}/runs`);
    assert.deepEqual(runs.body, { runs: [] });
    assert.equal((await gw.api('DELETE', `/v1/schedules/${id}`)).status, 204);
    const gone = await gw.api('DELETE', `/v1/schedules/${id}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error, 'schedule_not_found');
  });

  it('names the invalid fields: cron, timezone, selector, command', async () => {
    const shape = await gw.api('POST', '/v1/schedules', {
      ...valid,
      selector: {},
      command: { params: {} },
    });
    assert.equal(shape.status, 400);
    assert.deepEqual(issuePaths(shape.body).sort(), ['body.command.name', 'body.selector']);

    const cron = await gw.api('POST', '/v1/schedules', {
      ...valid,
      cron: '61 * * * * *',
      timezone: 'Mars/Olympus',
    });
    assert.equal(cron.status, 400);
    assert.deepEqual(issuePaths(cron.body).sort(), ['body.cron', 'body.timezone']);

    const unknown = await gw.api('POST', '/v1/schedules', {
      ...valid,
      command: { name: 'levitate' },
    });
    assert.equal(unknown.body.error, 'command_not_supported');
    assert.deepEqual(issuePaths(unknown.body), ['body.command.name']);

    const params = await gw.api('POST', '/v1/schedules', {
      ...valid,
      command: { name: 'set_setpoint', params: { setpoint: 'warm' } },
    });
    assert.equal(params.body.error, 'validation_failed');
    assert.deepEqual(issuePaths(params.body), ['body.command.params.setpoint']);

    const untyped = await gw.api('POST', '/v1/schedules', {
      ...valid,
      selector: { labels: { site: 'x' } },
      command: { name: 'reboot', params: { delayMs: -1 } },
    });
    assert.equal(untyped.body.error, 'validation_failed');
    assert.ok(issuePaths(untyped.body).every((p) => p === 'body.command.params.delayMs'));

    const type = await gw.api('POST', '/v1/schedules', { ...valid, selector: { type: 'toaster' } });
    assert.equal(type.body.error, 'unknown_device_type');
    assert.deepEqual(issuePaths(type.body), ['body.selector.type']);
    assert.deepEqual((await gw.api('GET', '/v1/schedules')).body.schedules, []);

    const badId = await gw.api('GET', '/v1/schedules/not_an_id!');
    assert.equal(badId.status, 400);
    assert.deepEqual(issuePaths(badId.body), ['params.id']);
    const badPage = await gw.api('GET', '/v1/schedules/abc/runs?limit=0');
    assert.deepEqual(issuePaths(badPage.body), ['querystring.limit']);
  });
});
