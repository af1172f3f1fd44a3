import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BridgeTopics, isTopicLevel } from '../../src/mqtt/topics.ts';

describe('BridgeTopics', () => {
  const topics = new BridgeTopics('acme/iot');

  it('lays out the documented topics under the prefix', () => {
    assert.equal(topics.telemetry('th-1'), 'acme/iot/devices/th-1/telemetry');
    assert.equal(topics.events('th-1'), 'acme/iot/devices/th-1/events');
    assert.equal(topics.status('th-1'), 'acme/iot/devices/th-1/status');
    assert.equal(topics.commands('th-1'), 'acme/iot/devices/th-1/commands');
    assert.equal(topics.commandRejected('th-1'), 'acme/iot/devices/th-1/commands/rejected');
    assert.equal(topics.commandState('th-1', 'c-1'), 'acme/iot/devices/th-1/commands/c-1');
    assert.equal(topics.commandsFilter(), 'acme/iot/devices/+/commands');
    assert.equal(topics.gatewayStatus('iot-gateway-a'), 'acme/iot/gateway/iot-gateway-a/status');
  });

  it('finds the device of a command request topic and nothing else', () => {
    assert.equal(topics.commandTarget('acme/iot/devices/th-1/commands'), 'th-1');
    assert.equal(topics.commandTarget('acme/iot/devices/a:b.c_d-e/commands'), 'a:b.c_d-e');
    assert.equal(topics.commandTarget('acme/iot/devices/th-1/commands/rejected'), undefined);
    assert.equal(topics.commandTarget('acme/iot/devices/th-1/commands/c-1'), undefined);
    assert.equal(topics.commandTarget('acme/iot/devices/a/b/commands'), undefined);
    assert.equal(topics.commandTarget('acme/iot/devices//commands'), undefined);
    assert.equal(topics.commandTarget('other/devices/th-1/commands'), undefined);
  });
});

describe('isTopicLevel', () => {
  it('accepts every device id the API allows and refuses separators and wildcards', () => {
    for (const id of ['th-1', 'A', 'a.b:c_d-e', 'x'.repeat(128)]) assert.ok(isTopicLevel(id), id);
    for (const id of ['', 'a/b', '+', 'a#', '/', 'a\u0000b'])
      assert.ok(!isTopicLevel(id), JSON.stringify(id));
  });
});
