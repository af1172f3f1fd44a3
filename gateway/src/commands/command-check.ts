import type { DeviceType, JsonObject } from '@iot-gateway/schemas';
import { formatIssues } from '@iot-gateway/schemas';
import type { CommandRecord, NewCommand } from './command-store.ts';

export type Issue = { path: string; message: string };

/** A request checked against a device type: its params as parsed, or why it does not fit. */
export type Check =
  | { ok: true; params: JsonObject }
  | { ok: false; code: 'command_not_supported' | 'validation_failed'; issues: Issue[] };

/** Checks a command against a device type. Issue paths are relative to the request. */
export function checkCommand(
  type: DeviceType,
  name: string,
  params: JsonObject | undefined,
): Check {
  const command = type.commands[name];
  if (!command) {
    const known = Object.keys(type.commands);
    return {
      ok: false,
      code: 'command_not_supported',
      issues: [
        {
          path: 'name',
          message: `device type ${type.name} has no command ${name}; it has: ${known.join(', ') || 'none'}`,
        },
      ],
    };
  }
  const parsed = command.paramsSchema.safeParse(params ?? {});
  if (!parsed.success) {
    return {
      ok: false,
      code: 'validation_failed',
      issues: formatIssues(parsed.error, 100).map((i) => ({
        path: i.path ? `params.${i.path}` : 'params',
        message: i.message,
      })),
    };
  }
  return { ok: true, params: parsed.data as JsonObject };
}

/**
 * How a request resubmitted under a stored command's id differs from that command; none when
 * it is the same request (a retry). `timeoutMs` counts only when the request gives one.
 */
export function requestDifferences(
  existing: CommandRecord,
  wanted: NewCommand,
  timeoutMs: number | undefined,
): Issue[] {
  const differences: Issue[] = [];
  if (existing.deviceId !== wanted.deviceId) {
    differences.push({
      path: 'id',
      message: `belongs to a command of device ${existing.deviceId}`,
    });
  }
  if (existing.name !== wanted.name) {
    differences.push({ path: 'name', message: `the command with this id is ${existing.name}` });
  }
  if (canonicalJson(existing.params) !== canonicalJson(wanted.params)) {
    differences.push({
      path: 'params',
      message: `the command with this id has ${truncate(canonicalJson(existing.params), 200)}`,
    });
  }
  if (timeoutMs !== undefined && timeoutMs !== existing.timeoutMs) {
    differences.push({
      path: 'timeoutMs',
      message: `the command with this id has ${existing.timeoutMs}`,
    });
  }
  return differences;
}

/** JSON with object keys sorted, so that two equal values compare equal as text. */
function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) =>
            a < b ? -1 : a > b ? 1 : 0,
          ),
        )
      : v,
  );
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
