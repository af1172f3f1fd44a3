import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StatementBatcher } from '../../src/store/statement-batcher.ts';

/** A statement the test finishes by hand, so that what arrives while it runs can be seen. */
function controlledRun() {
  const batches: { items: readonly number[]; finish: (err?: Error) => void }[] = [];
  const run = (items: readonly number[]) =>
    new Promise<readonly string[]>((resolve, reject) => {
      batches.push({
        items,
        finish: (err) => (err ? reject(err) : resolve(items.map((n) => `r${n}`))),
      });
    });
  return { batches, run };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('StatementBatcher', () => {
  it('sends an item at once when nothing is under way', async () => {
    const { batches, run } = controlledRun();
    const batcher = new StatementBatcher(run);
    const answer = batcher.submit(1);
    await turn();
    assert.deepEqual(
      batches.map((b) => b.items),
      [[1]],
    );
    batches[0]!.finish();
    assert.equal(await answer, 'r1');
  });

  it('sends what arrived while a batch ran as one batch, each caller with its own result', async () => {
    const { batches, run } = controlledRun();
    const batcher = new StatementBatcher(run);
    const first = batcher.submit(1);
    await turn();
    const rest = [2, 3, 4].map((n) => batcher.submit(n));
    await turn();
    assert.equal(batches.length, 1, 'the others wait for the batch under way');
    batches[0]!.finish();
    assert.equal(await first, 'r1');
    await turn();
    assert.deepEqual(
      batches.map((b) => b.items),
      [[1], [2, 3, 4]],
    );
    batches[1]!.finish();
    assert.deepEqual(await Promise.all(rest), ['r2', 'r3', 'r4']);
  });

  it('keeps batches within maxBatch and maxInFlight', async () => {
    const { batches, run } = controlledRun();
    const batcher = new StatementBatcher(run, { maxInFlight: 2, maxBatch: 3 });
    const answers = [1, 2, 3, 4, 5, 6, 7].map((n) => batcher.submit(n));
    await turn();
    assert.deepEqual(
      batches.map((b) => b.items),
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
    );
    batches[0]!.finish();
    await turn();
    assert.deepEqual(batches[2]?.items, [7]);
    batches[1]!.finish();
    batches[2]!.finish();
    assert.deepEqual(await Promise.all(answers), ['r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7']);
  });

  it('fails every item of a failed batch, and goes on with the next', async () => {
    const { batches, run } = controlledRun();
    const batcher = new StatementBatcher(run);
    const failed = [1, 2].map((n) => batcher.submit(n));
    await turn();
    const later = batcher.submit(3);
    batches[0]!.finish(new Error('connection lost'));
    for (const answer of failed) await assert.rejects(answer, /connection lost/);
    await turn();
    batches[1]!.finish();
    assert.equal(await later, 'r3');
  });

  it('fails the batch when the statement answers a different number of results', async () => {
    const batcher = new StatementBatcher<number, string>(async () => ['only one']);
    const answers = [batcher.submit(1), batcher.submit(2)];
    for (const answer of answers) await assert.rejects(answer, /a batch of 2 answered 1 results/);
  });
});
