import { loadRegistry } from './device-registry.ts';
import { Fleet } from './fleet.ts';
import type { FromWorker, ToWorker } from './worker-protocol.ts';
import { WORKER_STATS_INTERVAL_MS } from './worker-protocol.ts';

function send(message: FromWorker): void {
  process.send?.(message);
}

/**
 * A child process of a multi-process run: holds its slice of the fleet, reports counters to the
 * parent, and stops when the parent says so (or disappears). Ctrl-C reaches every process of
 * the terminal's group; the parent coordinates the stop, so the child ignores it.
 */
export function runWorker(): void {
  let fleet: Fleet | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  let stopping = false;
  const stop = async (drainMs: number) => {
    if (stopping) return;
    stopping = true;
    clearInterval(timer);
    const snapshot = fleet ? await fleet.stop(drainMs) : undefined;
    if (snapshot) send({ type: 'done', snapshot });
    process.disconnect?.();
  };
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  process.on('disconnect', () => void stop(0).finally(() => process.exit(0)));
  process.on('message', (message: ToWorker) => {
    if (message.type === 'start') {
      try {
        const registry = loadRegistry(message.deviceTypesFile);
        fleet = new Fleet(message.devices, registry, message.config);
      } catch (error) {
        send({ type: 'failed', message: (error as Error).message });
        process.disconnect?.();
        return;
      }
      const started = fleet;
      void started.start().then(() => send({ type: 'ready' }));
      timer = setInterval(
        () => send({ type: 'stats', snapshot: started.snapshot() }),
        WORKER_STATS_INTERVAL_MS,
      );
    } else if (message.type === 'stop') {
      void stop(message.drainMs);
    }
  });
}
