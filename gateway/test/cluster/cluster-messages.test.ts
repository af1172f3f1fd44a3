import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MAX_CLUSTER_MESSAGE_BYTES,
  parseClusterMessage,
} from '../../src/cluster/cluster-messages.ts';

const settledCommand = {
  seq: 12,
  id: 'c-0001',
  deviceId: 'dev-1',
  name: 'reboot',
  params: { delay: 5 },
  state: 'succeeded',
  source: 'api',
  acceptedBy: 'gw-a',
  sentBy: 'gw-b',
  createdAt: 1_796_000_000_000,
  updatedAt: 1_796_000_000_040,
  expiresAt: 1_796_000_300_000,
  timeoutMs: 30_000,
  sentAt: 1_796_000_000_010,
  finishedAt: 1_796_000_000_040,
  result: { uptime: 0 },
};

const parse = (message: unknown) => parseClusterMessage(Buffer.from(JSON.stringify(message)));

describe('cluster inbox messages', () => {
  it('takes a settled nudge with or without the command', () => {
    assert.deepEqual(parse({ type: 'settled', commandId: 'c-0001' }), {
      type: 'settled',
      commandId: 'c-0001',
    });
    const withCommand = parse({ type: 'settled', commandId: 'c-0001', command: settledCommand });
    assert.deepEqual(withCommand, {
      type: 'settled',
      commandId: 'c-0001',
      command: settledCommand,
    });
  });

  it('ignores a settled nudge whose command is not final, or not a stored command', () => {
    for (const command of [
      { ...settledCommand, state: 'sent' },
      { ...settledCommand, createdAt: 'yesterday' },
      { ...settledCommand, params: 'none' },
      { ...settledCommand, extra: true },
    ]) {
      assert.equal(parse({ type: 'settled', commandId: 'c-0001', command }), undefined);
    }
  });

  it('ignores anything that is not a cluster message, and anything too big', () => {
    assert.equal(parseClusterMessage(Buffer.from('not json')), undefined);
    assert.equal(parse({ type: 'deliver' }), undefined);
    assert.equal(parse({ type: 'shutdown', deviceId: 'dev-1' }), undefined);
    const big = { ...settledCommand, result: { text: 'x'.repeat(MAX_CLUSTER_MESSAGE_BYTES) } };
    assert.equal(parse({ type: 'settled', commandId: 'c-0001', command: big }), undefined);
  });
});
