import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { createDefaultRegistry } from '@iot-gateway/schemas';
import { commandRequestSchema } from '../../src/mqtt/command-ingress.ts';
import { BridgeTopics } from '../../src/mqtt/topics.ts';

const docs = readFileSync(new URL('../../../docs/mqtt.md', import.meta.url), 'utf8');
const types = createDefaultRegistry();

/** Every ```json block of the document, parsed. */
const examples = [...docs.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1] ?? ''));

describe('docs/mqtt.md and the bridge', () => {
  it('lists exactly the topics the bridge uses', () => {
    const topics = new BridgeTopics('{prefix}');
    const used = [
      topics.telemetry('{id}'),
      topics.events('{id}'),
      topics.status('{id}'),
      topics.gatewayStatus('{clientId}'),
      topics.commands('{id}'),
      topics.commandRejected('{id}'),
      topics.commandState('{id}', '{commandId}'),
      topics.instanceInbox('{instanceId}'),
    ];
    const table = docs.slice(docs.indexOf('## Topics'), docs.indexOf('### Telemetry'));
    const documented = [...table.matchAll(/^\| `([^`]+)` +\|/gm)].map((m) => m[1]);
    assert.deepEqual(documented.sort(), used.sort());
    assert.equal(topics.commandsFilter(), '{prefix}/devices/+/commands');
  });

  it('shows metrics of the built-in type each telemetry example names', () => {
    const telemetry = examples.filter((e) => e.type !== undefined && e.metrics !== undefined);
    assert.ok(telemetry.length > 0, 'a telemetry example');
    for (const example of telemetry) {
      const type = types.get(example.type);
      assert.ok(type, `the example's type ${example.type} is built in`);
      for (const reading of [example, ...(example.readings ?? [])]) {
        const parsed = type.metricsSchema.safeParse(reading.metrics);
        assert.ok(parsed.success, `${JSON.stringify(reading.metrics)} fits ${type.name}`);
      }
    }
  });

  it('shows command requests a thermostat accepts', () => {
    const requests = examples.filter((e) => e.params !== undefined && e.state === undefined);
    assert.ok(requests.length > 0, 'a command request example');
    const thermostat = types.get('thermostat');
    for (const request of requests) {
      assert.ok(commandRequestSchema.safeParse(request).success, JSON.stringify(request));
      const command = thermostat?.commands[request.name];
      assert.ok(command, `thermostat has the command ${request.name}`);
      assert.ok(command.paramsSchema.safeParse(request.params).success);
    }
    for (const state of examples.filter((e) => e.state !== undefined && e.name !== undefined)) {
      assert.ok(thermostat?.commands[state.name], `thermostat has the command ${state.name}`);
    }
  });
});
