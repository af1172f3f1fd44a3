import { z } from 'zod';
import { registerJsonSchemaAlias } from './json-schema.ts';
import { RESERVED_KEYS } from './limits.ts';

/** Options of {@link guardedRecord}. */
export interface GuardedRecordOptions {
  /** Schema every key must satisfy. */
  readonly key: z.ZodString;
  /** Fewest entries accepted. @defaultValue 0 */
  readonly minKeys?: number;
  /** Most entries accepted. */
  readonly maxKeys: number;
  /** What an entry is, for messages: "metric", "parameter". */
  readonly noun: string;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * A record (string keys to `value`) that rejects reserved keys and too many or too few entries.
 *
 * zod's own record silently drops an own `__proto__` key (what `JSON.parse` produces), and its
 * checks only see that cleaned output; the guard runs on the raw input first so the device is told
 * instead. Counting keys before the values are parsed also keeps a 10 000-key object cheap to
 * reject.
 */
export function guardedRecord<V extends z.ZodType>(value: V, options: GuardedRecordOptions) {
  const { key, minKeys = 0, maxKeys, noun } = options;
  const record = z
    .record(key, value)
    .meta(
      minKeys > 0 ? { minProperties: minKeys, maxProperties: maxKeys } : { maxProperties: maxKeys },
    );
  const guard = z.custom<z.input<typeof record>>().check((ctx) => {
    const input = ctx.value;
    if (!isPlainObject(input)) return; // the record reports the wrong type
    const keys = Object.keys(input);
    for (const name of keys) {
      if (RESERVED_KEYS.has(name)) {
        ctx.issues.push({
          code: 'invalid_key',
          origin: 'record',
          issues: [],
          input: name,
          path: [name],
          message: `The key "${name}" is reserved and not allowed`,
        });
      }
    }
    if (keys.length > maxKeys) {
      ctx.issues.push({
        code: 'too_big',
        origin: 'object',
        maximum: maxKeys,
        inclusive: true,
        input,
        message: `Too many ${noun}s: ${keys.length}, at most ${maxKeys} allowed`,
      });
    } else if (keys.length < minKeys) {
      ctx.issues.push({
        code: 'too_small',
        origin: 'object',
        minimum: minKeys,
        inclusive: true,
        input,
        message:
          minKeys === 1
            ? `At least one ${noun} is required`
            : `At least ${minKeys} ${noun}s are required`,
      });
    }
  });
  registerJsonSchemaAlias(guard, record);
  return guard.pipe(record);
}
