import { setTimeout as sleep } from 'node:timers/promises';
import { HarnessError } from './errors.ts';

/** Options of {@link waitUntil}. */
export interface WaitUntilOptions {
  /**
   * How long to keep polling before failing.
   * @defaultValue 5000
   */
  timeoutMs?: number;
  /**
   * Pause between the end of one attempt and the start of the next.
   * @defaultValue 20
   */
  intervalMs?: number;
  /** What was being waited for; leads the timeout error's message. */
  message?: string;
}

/** Defaults of {@link WaitUntilOptions}. */
export const DEFAULT_WAIT_UNTIL_OPTIONS = Object.freeze({
  timeoutMs: 5_000,
  intervalMs: 20,
  message: 'condition',
});

/**
 * Polls `predicate` until it returns a truthy value and resolves with that value.
 *
 * A predicate that throws counts as "not yet", so it can query a server that is still
 * restarting; the last error becomes the `cause` of the timeout error.
 *
 * @throws {@link HarnessError} `TESTING_ERR_WAIT_TIMEOUT` when `timeoutMs` passes first.
 *
 * @example
 * ```ts
 * await waitUntil(async () => (await influx.count('telemetry', 'gw')) === 3, {
 *   message: '3 telemetry points in InfluxDB',
 * });
 * ```
 */
export async function waitUntil<T>(
  predicate: () => T | Promise<T>,
  options: WaitUntilOptions = {},
): Promise<Exclude<T, false | 0 | '' | null | undefined>> {
  const { timeoutMs, intervalMs, message } = { ...DEFAULT_WAIT_UNTIL_OPTIONS, ...options };
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  let attempts = 0;
  for (;;) {
    attempts += 1;
    try {
      const value = await predicate();
      if (value) return value as Exclude<T, false | 0 | '' | null | undefined>;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (performance.now() + intervalMs > deadline) break;
    await sleep(intervalMs);
  }
  const reason =
    lastError === undefined
      ? ''
      : `; last attempt threw: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
  throw new HarnessError(
    'TESTING_ERR_WAIT_TIMEOUT',
    `timed out after ${timeoutMs} ms (${attempts} attempts) waiting for ${message}${reason}`,
    lastError === undefined ? undefined : { cause: lastError },
  );
}
