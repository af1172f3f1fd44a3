import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { z } from 'zod';
import { BUILT_IN_DEVICE_TYPES } from './device-types/built-in.ts';
import { compileDeviceType } from './device-types/compile.ts';
import { deviceTypeDefinitionsSchema } from './device-types/definition.ts';
import { deviceTypeToJsonSchema } from './device-types/json-schema.ts';
import { ackFrameSchema } from './frames/ack.ts';
import { commandFrameSchema } from './frames/command.ts';
import { commandResultFrameSchema } from './frames/command-result.ts';
import { deviceFrameSchema } from './frames/device-frame.ts';
import { errorFrameSchema } from './frames/error.ts';
import { eventFrameSchema } from './frames/event.ts';
import { gatewayFrameSchema } from './frames/gateway-frame.ts';
import { helloFrameSchema } from './frames/hello.ts';
import { pingFrameSchema, pongFrameSchema } from './frames/liveness.ts';
import { telemetryFrameSchema } from './frames/telemetry.ts';
import { type JsonSchema, toJsonSchema } from './json-schema.ts';

// This module reads the file system, so the package index (also used by devices) leaves it out;
// the export script and the up-to-date test import it directly.

const FRAMES: ReadonlyArray<readonly [string, string, z.core.$ZodType]> = [
  ['telemetry', 'telemetry frame (device → gateway): one reading or a batch', telemetryFrameSchema],
  ['event', 'event frame (device → gateway)', eventFrameSchema],
  ['command-result', 'command_result frame (device → gateway)', commandResultFrameSchema],
  ['ping', 'ping frame (either direction)', pingFrameSchema],
  ['pong', 'pong frame (either direction)', pongFrameSchema],
  ['hello', 'hello frame (gateway → device), first of every session', helloFrameSchema],
  ['ack', 'ack frame (gateway → device)', ackFrameSchema],
  ['error', 'error frame (gateway → device)', errorFrameSchema],
  ['command', 'command frame (gateway → device)', commandFrameSchema],
  ['device-frame', 'any frame a device sends', deviceFrameSchema],
  ['gateway-frame', 'any frame the gateway sends', gatewayFrameSchema],
];

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort())
    sorted[key] = sortKeys((value as Record<string, unknown>)[key]);
  return sorted;
}

/** Deterministic text: keys sorted at every level, 2-space indent, trailing newline. */
export function stringifyJsonSchema(schema: JsonSchema): string {
  return `${JSON.stringify(sortKeys(schema), null, 2)}\n`;
}

function titled(title: string, schema: JsonSchema): JsonSchema {
  return { ...schema, title: `Protocol v1 ${title}` };
}

/**
 * Every JSON Schema file of `schemas/json/`, by path relative to it (with `/` separators):
 * `frames/<frame>.schema.json`, `device-types/<type>.schema.json`, and
 * `device-type-definitions.schema.json` for editors of a `DEVICE_TYPES_FILE`.
 */
export function renderJsonSchemaFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const [name, title, schema] of FRAMES) {
    files.set(
      `frames/${name}.schema.json`,
      stringifyJsonSchema(titled(title, toJsonSchema(schema))),
    );
  }
  for (const definition of BUILT_IN_DEVICE_TYPES) {
    const type = compileDeviceType(definition);
    files.set(
      `device-types/${type.name}.schema.json`,
      stringifyJsonSchema(deviceTypeToJsonSchema(type)),
    );
  }
  files.set(
    'device-type-definitions.schema.json',
    stringifyJsonSchema({
      ...toJsonSchema(deviceTypeDefinitionsSchema),
      title: 'Device type definitions (DEVICE_TYPES_FILE)',
    }),
  );
  return files;
}

/** How the files on disk differ from {@link renderJsonSchemaFiles}. */
export interface JsonSchemaDrift {
  /** Present but different. */
  stale: string[];
  /** Expected but absent. */
  missing: string[];
  /** Present `.json` files that nothing generates any more. */
  extra: string[];
}

async function listJsonFiles(root: string, dir = root): Promise<string[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await listJsonFiles(root, path)));
    else if (entry.name.endsWith('.json')) found.push(relative(root, path).split(sep).join('/'));
  }
  return found;
}

/** Compares `dir` (the `schemas/json/` directory) with what the schemas generate now. */
export async function findJsonSchemaDrift(
  dir: string,
  expected: ReadonlyMap<string, string> = renderJsonSchemaFiles(),
): Promise<JsonSchemaDrift> {
  const drift: JsonSchemaDrift = { stale: [], missing: [], extra: [] };
  for (const [path, text] of expected) {
    let current: string;
    try {
      current = await readFile(join(dir, path), 'utf8');
    } catch {
      drift.missing.push(path);
      continue;
    }
    if (current !== text) drift.stale.push(path);
  }
  drift.extra = (await listJsonFiles(dir)).filter((path) => !expected.has(path)).sort();
  return drift;
}
