import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HarnessError, waitUntil } from '../src/index.ts';

describe('waitUntil', () => {
  test('resolves with the first truthy value the predicate returns', async () => {
    let calls = 0;
    const value = await waitUntil(() => (++calls >= 3 ? { calls } : undefined), { intervalMs: 1 });
    assert.deepEqual(value, { calls: 3 });
  });

  test('treats a throwing predicate as not yet and keeps polling', async () => {
    let calls = 0;
    const value = await waitUntil(
      async () => {
        calls += 1;
        if (calls < 3) throw new Error('server restarting');
        return 'ready';
      },
      { intervalMs: 1 },
    );
    assert.equal(value, 'ready');
  });

  test('fails with TESTING_ERR_WAIT_TIMEOUT naming what it waited for and the last error', async () => {
    const started = performance.now();
    await assert.rejects(
      waitUntil(
        () => {
          throw new Error('connection refused');
        },
        { timeoutMs: 100, intervalMs: 10, message: 'the gateway to connect' },
      ),
      (error: unknown) => {
        assert.ok(error instanceof HarnessError);
        assert.equal(error.code, 'TESTING_ERR_WAIT_TIMEOUT');
        assert.match(error.message, /timed out after 100 ms .* waiting for the gateway to connect/);
        assert.match(error.message, /last attempt threw: connection refused/);
        assert.ok(error.cause instanceof Error);
        return true;
      },
    );
    assert.ok(performance.now() - started < 1_000);
  });
});
