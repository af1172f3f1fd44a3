import type { TypeWeight } from './cli-options.ts';

/** One device the simulator runs. */
export interface DeviceSpec {
  readonly id: string;
  readonly type: string;
  readonly token: string;
}

/** A device to create: id and type, before it has a token. */
export interface PlannedDevice {
  readonly id: string;
  readonly type: string;
}

/**
 * Ids and types of the fleet: `PREFIX-00001`... with types spread by weight, interleaved (not
 * in blocks) so any slice of the fleet, such as one child process's, has the same mix.
 */
export function planFleet(
  prefix: string,
  count: number,
  types: readonly TypeWeight[],
): PlannedDevice[] {
  const total = types.reduce((sum, t) => sum + t.weight, 0);
  const width = Math.max(5, String(count).length);
  const given = new Map<string, number>(types.map((t) => [t.type, 0]));
  const plan: PlannedDevice[] = [];
  for (let i = 0; i < count; i++) {
    // Pick the type furthest behind its share: a deterministic, evenly interleaved mix.
    let best = types[0]!;
    let bestDeficit = Number.NEGATIVE_INFINITY;
    for (const t of types) {
      const deficit = ((i + 1) * t.weight) / total - given.get(t.type)!;
      if (deficit > bestDeficit) {
        bestDeficit = deficit;
        best = t;
      }
    }
    given.set(best.type, given.get(best.type)! + 1);
    plan.push({ id: `${prefix}-${String(i + 1).padStart(width, '0')}`, type: best.type });
  }
  return plan;
}

/** Splits the fleet into `parts` nearly equal slices. */
export function splitFleet<T>(devices: readonly T[], parts: number): T[][] {
  const slices: T[][] = [];
  const size = Math.ceil(devices.length / parts);
  for (let i = 0; i < devices.length; i += size) slices.push(devices.slice(i, i + size));
  return slices;
}
