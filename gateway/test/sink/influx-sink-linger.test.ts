import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/logger.ts';
import { GatewayMetrics } from '../../src/metrics.ts';
import { InfluxSink } from '../../src/sink/influx-sink.ts';
import { InfluxWriter, type WriteOutcome } from '../../src/sink/influx-writer.ts';
import type { DurabilityListener } from '../../src/sink/telemetry-sink.ts';
import { Spool } from '../../src/spool/spool.ts';

/** A writer whose requests stay open until the test answers them. */
class HeldWriter extends InfluxWriter {
  readonly bodies: string[] = [];
  readonly #answers: Array<(outcome: WriteOutcome) => void> = [];

  constructor() {
    super('http://127.0.0.1:9/unused', { timeoutMs: 60_000, maxSockets: 1 });
  }

  override writeText(text: string): Promise<WriteOutcome> {
    this.bodies.push(text);
    return new Promise((resolve) => this.#answers.push(resolve));
  }

  override async ensureDatabase(): Promise<WriteOutcome> {
    return { kind: 'ok' };
  }

  answerAll(): void {
    for (const answer of this.#answers.splice(0)) answer({ kind: 'ok' });
  }
}

/** A sink (flushMs 5, four writes in flight) over a {@link HeldWriter}, started. */
async function heldSink(t: TestContext, batchSize: number) {
  const dir = mkdtempSync(join(tmpdir(), 'iot-gateway-linger-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const spool = new Spool({ dir, maxBytes: 1e8, fsync: 'none' });
  await spool.open();
  const writer = new HeldWriter();
  const sink = new InfluxSink(
    writer,
    spool,
    { metrics: new GatewayMetrics({ defaultMetrics: false }), log: createLogger('silent') },
    { batchSize, flushMs: 5, maxInFlight: 4, deadLetterFile: join(dir, 'dead') },
  );
  await sink.start();
  return { writer, sink };
}

describe('InfluxSink batching', () => {
  it('writes at once when idle, and lingers flushMs for more lines while a write is under way', async (t) => {
    const { writer, sink } = await heldSink(t, 1000);
    const durable: number[] = [];
    const listener: DurabilityListener = {
      durable: (ticket) => durable.push(ticket),
      failed: (_ticket, err) => assert.fail(err),
    };
    t.mock.timers.enable({ apis: ['setTimeout', 'setImmediate'] });

    sink.append('a 1', 1, listener, 1);
    t.mock.timers.tick(0);
    assert.deepEqual(writer.bodies, ['a 1'], 'an idle sink writes at the end of the turn');

    sink.append('b 2', 1, listener, 2);
    sink.append('c 3', 1, listener, 3);
    t.mock.timers.tick(4);
    assert.deepEqual(writer.bodies, ['a 1'], 'busy: the batch waits for more lines');
    sink.append('d 4', 1, listener, 4);
    t.mock.timers.tick(1);
    assert.deepEqual(writer.bodies, ['a 1', 'b 2\nc 3\nd 4'], 'and goes after flushMs');

    t.mock.timers.reset();
    writer.answerAll();
    await sink.flush();
    assert.deepEqual(
      durable.sort((x, y) => x - y),
      [1, 2, 3, 4],
    );
    await sink.close();
  });

  it('lingers up to three times flushMs while many sessions have a frame or two each in it', async (t) => {
    const { writer, sink } = await heldSink(t, 100_000);
    const listener = (): DurabilityListener => ({
      durable: () => {},
      failed: (_ticket, err) => assert.fail(err),
    });
    t.mock.timers.enable({ apis: ['setTimeout', 'setImmediate'] });
    sink.append('first 1', 1, listener(), 1);
    t.mock.timers.tick(0);
    assert.equal(writer.bodies.length, 1, 'a write under way');

    // 40 sessions, one frame each: few enough to go after flushMs, as always.
    for (let i = 0; i < 40; i++) sink.append(`few ${i}`, 1, listener(), 1);
    t.mock.timers.tick(5);
    assert.equal(writer.bodies.length, 2);

    // 200 sessions with one frame each: the acks would outnumber nothing, so it waits...
    const many = Array.from({ length: 200 }, listener);
    for (const l of many) sink.append('many 1', 1, l, 1);
    t.mock.timers.tick(5);
    assert.equal(writer.bodies.length, 2, 'thin: lingers on');
    for (const l of many) sink.append('many 2', 1, l, 2);
    t.mock.timers.tick(5);
    assert.equal(writer.bodies.length, 2, 'still under four frames a session');
    // ...but never past three times flushMs.
    t.mock.timers.tick(5);
    assert.equal(writer.bodies.length, 3);
    assert.equal(writer.bodies[2]?.split('\n').length, 400);

    // 100 sessions with four frames each go after flushMs.
    const full = Array.from({ length: 100 }, listener);
    for (let n = 0; n < 4; n++) for (const l of full) sink.append('full 1', 1, l, n);
    t.mock.timers.tick(5);
    assert.equal(writer.bodies.length, 4);

    t.mock.timers.reset();
    writer.answerAll();
    await sink.flush();
    await sink.close();
  });
});
