import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestGateway } from '../support/test-gateway.ts';
import { startTestGateway } from '../support/test-gateway.ts';
import { issuePaths } from './api-kit.ts';

describe('schema routes', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway();
  });
  after(() => gw.stop());

  it('lists the device types with their metrics and commands', async () => {
    const res = await gw.api('GET', '/v1/schemas');
    assert.equal(res.status, 200);
    const thermostat = res.body.types.find((t: { name: string }) => t.name === 'thermostat');
    assert.ok(thermostat.metrics.includes('temperature'));
    assert.ok(thermostat.commands.includes('set_setpoint'));
    assert.equal(thermostat.schema, '/v1/schemas/thermostat');
  });

  it("serves a type's JSON Schema with metrics and each command's params", async () => {
    const res = await gw.api('GET', '/v1/schemas/thermostat');
    assert.equal(res.status, 200);
    assert.equal(res.body.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.equal(res.body.title, 'thermostat');
    assert.ok(res.body.$defs.metrics.properties.temperature);
    assert.deepEqual(res.body.$defs['command.set_setpoint'].required, ['setpoint']);
  });

  it('answers 404 for an unknown type and 400 for an invalid name', async () => {
    const missing = await gw.api('GET', '/v1/schemas/toaster');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error, 'device_type_not_found');
    const invalid = await gw.api('GET', '/v1/schemas/Not%20A%20Type');
    assert.equal(invalid.status, 400);
    assert.deepEqual(issuePaths(invalid.body), ['params.type']);
  });
});
