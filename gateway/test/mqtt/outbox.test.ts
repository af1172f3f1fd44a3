import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OutboundKind, OutboundMessage } from '../../src/mqtt/outbox.ts';
import { Outbox } from '../../src/mqtt/outbox.ts';

function message(kind: OutboundKind, name: string, key?: string): OutboundMessage {
  return {
    topic: `x/${name}`,
    body: name,
    retain: kind === 'status',
    kind,
    ...(key ? { key } : {}),
  };
}

function drain(outbox: Outbox): string[] {
  const out: string[] = [];
  for (let m = outbox.shift(); m; m = outbox.shift()) out.push(m.body as string);
  return out;
}

describe('Outbox', () => {
  it('hands messages out in the order they came in', () => {
    const outbox = new Outbox(10);
    outbox.push(message('status', 's1', 'd1'));
    outbox.push(message('telemetry', 't1'));
    outbox.push(message('event', 'e1'));
    outbox.push(message('command', 'c1'));
    assert.equal(outbox.size, 4);
    assert.deepEqual(drain(outbox), ['s1', 't1', 'e1', 'c1']);
    assert.equal(outbox.size, 0);
    assert.equal(outbox.shift(), undefined);
  });

  it('drops the oldest telemetry and events first when full', () => {
    const outbox = new Outbox(3);
    assert.equal(outbox.push(message('status', 'd1-online', 'd1')), 0);
    assert.equal(outbox.push(message('telemetry', 't1')), 0);
    assert.equal(outbox.push(message('event', 'e1')), 0);
    assert.equal(outbox.push(message('telemetry', 't2')), 1);
    assert.equal(outbox.push(message('telemetry', 't3')), 1);
    assert.equal(outbox.size, 3);
    assert.deepEqual(drain(outbox), ['d1-online', 't2', 't3']);
  });

  it('keeps the newest status of every device, dropping superseded ones before commands', () => {
    const outbox = new Outbox(4);
    outbox.push(message('status', 'd1-online', 'd1'));
    outbox.push(message('command', 'c1'));
    outbox.push(message('status', 'd1-offline', 'd1'));
    outbox.push(message('status', 'd2-online', 'd2'));
    // Full: the superseded d1-online goes before the command reply.
    assert.equal(outbox.push(message('status', 'd3-online', 'd3')), 1);
    assert.deepEqual(drain(outbox), ['c1', 'd1-offline', 'd2-online', 'd3-online']);
  });

  it('drops command messages only when no telemetry, event or superseded status is left', () => {
    const outbox = new Outbox(2);
    outbox.push(message('command', 'c1'));
    outbox.push(message('status', 'd1', 'd1'));
    assert.equal(outbox.push(message('status', 'd2', 'd2')), 1);
    assert.deepEqual(drain(outbox), ['d1', 'd2']);
  });

  it('grows past max only by the newest status of distinct devices', () => {
    const outbox = new Outbox(2);
    for (let i = 0; i < 5; i++) outbox.push(message('telemetry', `t${i}`));
    for (let d = 0; d < 4; d++) outbox.push(message('status', `d${d}`, `d${d}`));
    assert.equal(outbox.size, 4);
    assert.deepEqual(drain(outbox), ['d0', 'd1', 'd2', 'd3']);
  });

  it('does not supersede a status that already left the outbox', () => {
    const outbox = new Outbox(2);
    outbox.push(message('status', 'd1-online', 'd1'));
    assert.equal(outbox.shift()?.body, 'd1-online');
    outbox.push(message('status', 'd1-offline', 'd1'));
    outbox.push(message('telemetry', 't1'));
    assert.equal(outbox.push(message('telemetry', 't2')), 1);
    assert.deepEqual(drain(outbox), ['d1-offline', 't2']);
  });

  it('stays bounded and ordered through a long outage of mixed traffic', () => {
    const max = 1000;
    const outbox = new Outbox(max);
    let dropped = 0;
    // 2500 rounds over 20 devices; every fifth round each device also reports a status.
    for (let round = 0; round < 2500; round++) {
      for (let d = 0; d < 20; d++) {
        if (round % 5 === 0) dropped += outbox.push(message('status', `d${d}:${round}:s`, `d${d}`));
        dropped += outbox.push(message('telemetry', `d${d}:${round}:t`));
        assert.ok(outbox.size <= max);
      }
    }
    assert.equal(dropped, 2500 * 20 + 500 * 20 - max);
    const left = drain(outbox);
    const rounds = left.map((s) => Number(s.split(':')[1]));
    assert.deepEqual(
      rounds,
      [...rounds].sort((a, b) => a - b),
    );
    for (let d = 0; d < 20; d++) assert.ok(left.includes(`d${d}:2495:s`), `last status of d${d}`);
  });

  it('clear() empties it and reports the count', () => {
    const outbox = new Outbox(5);
    outbox.push(message('telemetry', 't1'));
    outbox.push(message('status', 's1', 'd1'));
    assert.equal(outbox.clear(), 2);
    assert.equal(outbox.size, 0);
    outbox.push(message('status', 's2', 'd1'));
    assert.deepEqual(drain(outbox), ['s2']);
  });

  it('refuses a max that is not a positive integer', () => {
    assert.throws(() => new Outbox(0), RangeError);
    assert.throws(() => new Outbox(1.5), RangeError);
  });
});
