import type { FleetConfig } from './fleet.ts';
import type { DeviceSpec } from './fleet-plan.ts';
import type { StatsSnapshot } from './sim-stats.ts';

/** Environment variable that makes the CLI run as a child of a multi-process run. */
export const WORKER_ENV = 'IOT_SIM_WORKER';

/** Parent → child. */
export type ToWorker =
  | {
      readonly type: 'start';
      readonly devices: readonly DeviceSpec[];
      readonly config: FleetConfig;
      readonly deviceTypesFile: string | undefined;
    }
  | { readonly type: 'stop'; readonly drainMs: number };

/** Child → parent. */
export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'stats'; readonly snapshot: StatsSnapshot }
  | { readonly type: 'done'; readonly snapshot: StatsSnapshot }
  | { readonly type: 'failed'; readonly message: string };

/** How often children report their counters. */
export const WORKER_STATS_INTERVAL_MS = 500;
