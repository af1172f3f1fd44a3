import { z } from 'zod';
import { registerJsonSchema } from './json-schema.ts';
import { JSON_VALUE_LIMITS, RESERVED_KEYS } from './limits.ts';

/** A JSON primitive. */
export type JsonPrimitive = string | number | boolean | null;
/** Any JSON value. */
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
/** A JSON object. */
export type JsonObject = { [key: string]: JsonValue };

type Issue = z.core.$ZodRawIssue;
type Path = (string | number)[];

interface Walk {
  readonly issues: Issue[];
  entries: number;
  stopped: boolean;
}

const { maxDepth, maxEntries, maxStringLength, maxKeyLength } = JSON_VALUE_LIMITS;

function describe(value: unknown): string {
  if (typeof value === 'number') return String(value); // NaN, Infinity, -Infinity
  if (typeof value === 'object' && value !== null) {
    return value.constructor?.name
      ? `an instance of ${value.constructor.name}`
      : 'an exotic object';
  }
  return typeof value;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function notJson(walk: Walk, value: unknown, path: Path): void {
  walk.issues.push({
    code: 'invalid_type',
    expected: 'json',
    input: value,
    path,
    message: `Expected a JSON value (string, finite number, boolean, null, array or plain object), received ${describe(value)}`,
  });
}

function countEntry(walk: Walk, root: unknown): boolean {
  walk.entries += 1;
  if (walk.entries <= maxEntries) return true;
  walk.stopped = true;
  walk.issues.push({
    code: 'too_big',
    origin: 'json_entries',
    maximum: maxEntries,
    inclusive: true,
    input: root,
    path: [],
    message: `Too large: more than ${maxEntries} array items and object properties in total`,
  });
  return false;
}

// Recursion is bounded by maxDepth, so cyclic objects from JavaScript callers terminate too.
function visit(walk: Walk, root: unknown, value: unknown, path: Path, depth: number): void {
  switch (typeof value) {
    case 'boolean':
      return;
    case 'string':
      if (value.length > maxStringLength) {
        walk.issues.push({
          code: 'too_big',
          origin: 'string',
          maximum: maxStringLength,
          inclusive: true,
          input: value,
          path,
          message: `Too big: expected string to have <=${maxStringLength} characters`,
        });
      }
      return;
    case 'number':
      if (!Number.isFinite(value)) notJson(walk, value, path);
      return;
    case 'object':
      break;
    default:
      notJson(walk, value, path);
      return;
  }
  if (value === null) return;
  if (depth >= maxDepth) {
    walk.issues.push({
      code: 'too_big',
      origin: 'json_depth',
      maximum: maxDepth,
      inclusive: true,
      input: value,
      path,
      message: `Too deep: arrays and objects may nest at most ${maxDepth} levels`,
    });
    return;
  }
  if (Array.isArray(value)) {
    // an index loop, not forEach/for-of, so holes in sparse arrays are seen and rejected
    for (let index = 0; index < value.length && !walk.stopped; index++) {
      if (!countEntry(walk, root)) return;
      visit(walk, root, value[index], [...path, index], depth + 1);
    }
    return;
  }
  if (!isPlainObject(value)) {
    notJson(walk, value, path);
    return;
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (walk.stopped || !countEntry(walk, root)) return;
    if (RESERVED_KEYS.has(key)) {
      walk.issues.push({
        code: 'invalid_key',
        origin: 'record',
        issues: [],
        input: key,
        path: [...path, key],
        message: `The key "${key}" is reserved and not allowed`,
      });
      continue;
    }
    if (key.length > maxKeyLength) {
      walk.issues.push({
        code: 'invalid_key',
        origin: 'record',
        issues: [],
        input: key,
        path: [...path, key],
        message: `Keys may be at most ${maxKeyLength} characters long`,
      });
      continue;
    }
    visit(walk, root, record[key], [...path, key], depth + 1);
  }
}

function checkJson(ctx: z.core.ParsePayload<unknown>, requireObject: boolean): void {
  const value = ctx.value;
  if (requireObject && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    ctx.issues.push({
      code: 'invalid_type',
      expected: 'object',
      input: value,
      message: `Invalid input: expected a JSON object, received ${Array.isArray(value) ? 'array' : describe(value)}`,
    });
    return;
  }
  const walk: Walk = { issues: [], entries: 0, stopped: false };
  visit(walk, value, value, [], 0);
  ctx.issues.push(...walk.issues);
}

const JSON_DESCRIPTION = `Any JSON value. Nesting at most ${maxDepth} levels, at most ${maxEntries} items and properties in total, strings at most ${maxStringLength} characters, keys at most ${maxKeyLength}; the keys __proto__, constructor and prototype are rejected.`;

/**
 * Free-form JSON with the {@link JSON_VALUE_LIMITS} bounds. Unlike `z.json()` it reports the exact
 * path of the offending value and rejects reserved keys instead of silently dropping them. The
 * parsed value is the input itself, not a copy.
 */
export const jsonValueSchema = z.custom<JsonValue>().check((ctx) => checkJson(ctx, false));
registerJsonSchema(jsonValueSchema, { description: JSON_DESCRIPTION });

/** Like {@link jsonValueSchema}, but the top level must be an object. */
export const jsonObjectSchema = z.custom<JsonObject>().check((ctx) => checkJson(ctx, true));
registerJsonSchema(jsonObjectSchema, {
  type: 'object',
  description: JSON_DESCRIPTION.replace('Any JSON value', 'A JSON object'),
});
