import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { StoredItem } from '../../src/node.ts';
import { DeviceClient, FileOutboxStore } from '../../src/node.ts';
import { FakeGateway, readingsOf } from '../support/fake-gateway.ts';

const dir = mkdtempSync(join(tmpdir(), 'outbox-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const reading = (id: number): StoredItem => ({
  kind: 'telemetry',
  id,
  ts: 1_700_000_000_000 + id,
  metrics: { temperature: id },
});

describe('FileOutboxStore', () => {
  it('keeps what was added and not removed, across instances', async () => {
    const path = join(dir, 'a', 'outbox.jsonl');
    const store = new FileOutboxStore(path);
    assert.deepEqual(await store.load(), []);
    for (let id = 1; id <= 5; id++) store.add(reading(id));
    store.remove([2, 4]);
    await store.close();
    const again = new FileOutboxStore(path);
    assert.deepEqual(
      (await again.load()).map((i) => i.id),
      [1, 3, 5],
    );
    await again.close();
  });

  it('skips a line torn by a crash', async () => {
    const path = join(dir, 'torn.jsonl');
    const store = new FileOutboxStore(path);
    await store.load();
    store.add(reading(1));
    await store.close();
    appendFileSync(path, '{"add":{"kind":"telemetry","id":2,"ts":');
    assert.deepEqual(
      (await new FileOutboxStore(path).load()).map((i) => i.id),
      [1],
    );
  });

  it('rewrites the file once dead lines outnumber live ones', async () => {
    const path = join(dir, 'compact.jsonl');
    const store = new FileOutboxStore(path);
    await store.load();
    for (let id = 1; id <= 3000; id++) {
      store.add(reading(id));
      if (id > 1) store.remove([id - 1]);
      if (id % 500 === 0) await store.flush();
    }
    await store.close();
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    assert.ok(lines.length < 2000, `compacted to ${lines.length} lines`);
    assert.deepEqual(
      (await new FileOutboxStore(path).load()).map((i) => i.id),
      [3000],
    );
  });
});

describe('DeviceClient with a persistent offline buffer', () => {
  it('resends after a restart what a previous run left unacked, with the original timestamps', async () => {
    const gw = await FakeGateway.start();
    try {
      const path = join(dir, 'device.jsonl');
      gw.autoHello = false;
      const first = new DeviceClient({
        url: gw.url,
        credentials: 'dtk_x',
        store: new FileOutboxStore(path),
      });
      const pending = Promise.allSettled(
        [1, 2, 3].map((i) => first.sendTelemetry({ temperature: i }, 1_700_000_000_000 + i)),
      );
      // The device is switched off before the gateway ever said hello.
      await first.close();
      for (const result of await pending) {
        assert.equal(result.status === 'rejected' && result.reason.code, 'client_closed');
      }

      gw.autoHello = {};
      const second = new DeviceClient({
        url: gw.url,
        credentials: 'dtk_x',
        store: new FileOutboxStore(path),
      });
      assert.equal(second.buffered, 0, 'loaded at connect');
      await second.connect();
      const session = gw.sessions.at(-1)!;
      const [frame] = await session.telemetry(1);
      assert.deepEqual(
        readingsOf(frame!).map((r) => r.ts),
        [1_700_000_000_001, 1_700_000_000_002, 1_700_000_000_003],
      );
      session.send({ type: 'ack', seq: frame!.seq });
      const fresh = second.sendTelemetry({ temperature: 4 });
      const [next] = await session.telemetry(1);
      session.send({ type: 'ack', seq: next!.seq });
      await fresh;
      assert.equal(second.buffered, 0);
      await second.close();
      assert.deepEqual(await new FileOutboxStore(path).load(), [], 'acked items leave the file');
    } finally {
      await gw.stop();
    }
  });
});
