import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serializerCompiler as zodSerializerCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { commandSchema, fleetSchema } from '../../src/api/command-routes.ts';
import { responseSerializerCompiler } from '../../src/api/response-serializer.ts';

const compile = (schema: z.ZodType) =>
  responseSerializerCompiler({ schema, method: 'GET', url: '/x', httpStatus: '200' });
const zodCompile = (schema: z.ZodType) =>
  zodSerializerCompiler({ schema, method: 'GET', url: '/x', httpStatus: '200' } as never);

const command = {
  id: 'c-1',
  deviceId: 'dev-1',
  name: 'reboot',
  params: { delay: 5, nested: { list: [1, 'two', null, { three: true }] } },
  state: 'failed',
  source: 'api',
  createdAt: '2026-12-02T04:00:00.000Z',
  updatedAt: '2026-12-02T04:00:01.000Z',
  expiresAt: '2026-12-02T05:00:00.000Z',
  timeoutMs: 30_000,
  sentAt: '2026-12-02T04:00:00.500Z',
  finishedAt: '2026-12-02T04:00:01.000Z',
  result: { text: 'quote " and \\ and \u2028 line separator' },
  error: { code: 'busy', message: 'try later' },
};

describe('response serializer', () => {
  it('writes what the zod serializer writes, properties the schema does not name left out', () => {
    const data = { ...command, internalSeq: 17, acceptedBy: 'instance-a' };
    const fast = compile(commandSchema)(data);
    assert.deepEqual(JSON.parse(fast), JSON.parse(zodCompile(commandSchema)(data)));
    assert.equal('internalSeq' in JSON.parse(fast), false);
  });

  it('writes either form of a union and any JSON of an unknown', () => {
    const serialize = compile(commandSchema);
    for (const variant of [
      { error: 'plain message', result: 42 },
      { error: { message: 'no code' }, result: [1, 2] },
      { error: undefined, result: undefined },
    ]) {
      const data = { ...command, ...variant };
      assert.deepEqual(JSON.parse(serialize(data)), JSON.parse(zodCompile(commandSchema)(data)));
    }
  });

  it('handles nested schemas with ids (a fleet command)', () => {
    const fleet = {
      id: 'f-1',
      name: 'reboot',
      params: {},
      selector: { type: 'thermostat', labels: { site: 'north' } },
      source: 'api',
      createdAt: '2026-12-02T04:00:00.000Z',
      targeted: 2,
      skipped: { count: 1, devices: [{ deviceId: 'dev-9', reason: 'command_queue_full' }] },
      states: {
        queued: 1,
        sent: 1,
        succeeded: 0,
        failed: 0,
        timed_out: 0,
        expired: 0,
        cancelled: 0,
      },
      done: false,
    };
    const out = compile(fleetSchema)(fleet);
    assert.deepEqual(JSON.parse(out), JSON.parse(zodCompile(fleetSchema)(fleet)));
  });

  it('refuses a body without a required property instead of writing a partial one', () => {
    const { state: _state, ...partial } = command;
    assert.throws(() => compile(commandSchema)(partial), /state/);
  });

  it('keeps the zod serializer for a schema JSON Schema cannot express', () => {
    const schema = z.object({ at: z.date() });
    assert.equal(compile(schema)({ at: new Date(0) }), '{"at":"1970-01-01T00:00:00.000Z"}');
  });
});
