import { parseArgs } from 'node:util';
import { z } from 'zod';

/** One type of the fleet and its share (`thermostat:3`). */
export interface TypeWeight {
  readonly type: string;
  readonly weight: number;
}

const ID_PREFIX = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,39}$/;
const TYPE_NAME = /^[a-z][a-z0-9_-]{0,63}$/;

const num = (min: number, max: number) =>
  z.coerce
    .number({ error: 'expected a number' })
    .min(min, `expected at least ${min}`)
    .max(max, `expected at most ${max}`);
const int = (min: number, max: number) => num(min, max).int({ error: 'expected a whole number' });
const share = num(0, 1);

const typesSchema = z.string().transform((text, ctx) => {
  const entries: TypeWeight[] = [];
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (parts.length === 0) ctx.addIssue({ code: 'custom', message: 'name at least one type' });
  for (const part of parts) {
    const [type = '', weightText] = part.split(':');
    const weight = weightText === undefined ? 1 : Number(weightText);
    if (!TYPE_NAME.test(type) || !Number.isFinite(weight) || weight <= 0) {
      ctx.addIssue({
        code: 'custom',
        message: `"${part}" is not name or name:weight (weight > 0)`,
      });
      continue;
    }
    entries.push({ type, weight });
  }
  return entries;
});

/**
 * Every flag of the simulator. The CLI parses argv into strings and booleans; this schema
 * coerces and checks them all at once, so one run reports every problem.
 */
export const simOptionsSchema = z.strictObject({
  gateway: z
    .url({ protocol: /^https?$/, error: 'expected an http(s) base URL like http://127.0.0.1:8080' })
    .default('http://127.0.0.1:8080'),
  /** Default 10 with --provision; with --tokens, every device of the file. */
  devices: int(1, 1_000_000).optional(),
  types: typesSchema.default([{ type: 'thermostat', weight: 1 }]),
  deviceTypes: z.string().min(1).optional(),
  idPrefix: z.string().regex(ID_PREFIX, 'letters, digits, _ . : - (at most 40)').default('sim'),
  provision: z.boolean().default(false),
  tokens: z.string().min(1).optional(),
  saveTokens: z.string().min(1).optional(),
  rate: z
    .union([z.literal('max'), num(0.001, 10_000)], {
      error: 'expected readings per second per device (0.001 .. 10000) or "max"',
    })
    .default(1),
  window: int(1, 10_000).default(16),
  buffer: int(1, 1_000_000).default(1000),
  batch: int(1, 500).default(100),
  batchDelay: int(0, 60_000).default(0),
  duration: num(0, 31 * 86_400).default(0),
  ramp: num(0, 3600).optional(),
  drain: num(0, 3600).default(10),
  invalid: share.default(0),
  disconnects: num(0, 1_000_000).default(0),
  zombies: share.default(0),
  churn: num(0, 1_000_000).default(0),
  churnOffline: num(0, 3600).default(10),
  firmwareMs: int(0, 600_000).default(5000),
  processes: int(0, 256).default(0),
  perProcess: int(1, 60_000).default(15_000),
  json: z.boolean().default(false),
  ledger: z.string().min(1).optional(),
  statusInterval: num(0.2, 3600).default(5),
  seed: int(0, 2 ** 32 - 1).optional(),
});

/** Validated, frozen simulator options. */
export type SimOptions = Readonly<z.output<typeof simOptionsSchema>>;

/** The flags, as `parseArgs` takes them; kebab-case on the command line, camelCase in code. */
const FLAGS = {
  gateway: { type: 'string' },
  devices: { type: 'string', short: 'n' },
  types: { type: 'string', short: 't' },
  'device-types': { type: 'string' },
  'id-prefix': { type: 'string' },
  provision: { type: 'boolean' },
  tokens: { type: 'string' },
  'save-tokens': { type: 'string' },
  rate: { type: 'string', short: 'r' },
  window: { type: 'string' },
  buffer: { type: 'string' },
  batch: { type: 'string' },
  'batch-delay': { type: 'string' },
  duration: { type: 'string', short: 'd' },
  ramp: { type: 'string' },
  drain: { type: 'string' },
  invalid: { type: 'string' },
  disconnects: { type: 'string' },
  zombies: { type: 'string' },
  churn: { type: 'string' },
  'churn-offline': { type: 'string' },
  'firmware-ms': { type: 'string' },
  processes: { type: 'string' },
  'per-process': { type: 'string' },
  json: { type: 'boolean' },
  ledger: { type: 'string' },
  'status-interval': { type: 'string' },
  seed: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** What {@link parseSimArgs} found. */
export type ParsedArgs =
  | { readonly kind: 'help' }
  | { readonly kind: 'options'; readonly options: SimOptions }
  | { readonly kind: 'invalid'; readonly problems: readonly string[] };

/** Parses and validates argv (without node and the script); lists every problem. */
export function parseSimArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): ParsedArgs {
  const problems: string[] = [];
  const { values, tokens } = parseArgs({
    args: [...argv],
    options: FLAGS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  if (values.help === true) return { kind: 'help' };
  const input: Record<string, unknown> = {};
  for (const token of tokens) {
    if (token.kind === 'positional') {
      problems.push(`unexpected argument "${token.value}"`);
      continue;
    }
    if (token.kind !== 'option') continue;
    const spec = (FLAGS as Record<string, { type: string }>)[token.name];
    if (!spec) {
      problems.push(`${token.rawName}: unknown flag (see --help)`);
      continue;
    }
    if (spec.type === 'string' && token.value === undefined) {
      problems.push(`${token.rawName}: needs a value`);
      continue;
    }
    if (spec.type === 'boolean' && token.inlineValue) {
      problems.push(`${token.rawName}: takes no value`);
      continue;
    }
    input[camel(token.name)] = spec.type === 'boolean' ? true : token.value;
  }
  const parsed = simOptionsSchema.safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = issue.path[0];
      problems.push(`${typeof key === 'string' ? `--${kebab(key)}` : 'options'}: ${issue.message}`);
    }
  }
  // Checked beside the schema (not in a refinement, which zod skips once a field is invalid), so
  // these problems are listed together with every other.
  if (input.provision === true && input.tokens !== undefined) {
    problems.push('--tokens: use either --provision or --tokens, not both');
  }
  if (input.provision !== true && input.tokens === undefined) {
    problems.push('--provision: give --provision (with ADMIN_TOKEN set) or --tokens FILE');
  }
  if (input.provision === true && !env.ADMIN_TOKEN) {
    problems.push('--provision: set ADMIN_TOKEN to an admin API key of the gateway');
  }
  if (input.saveTokens !== undefined && input.provision !== true) {
    problems.push('--save-tokens: needs --provision');
  }
  if (problems.length > 0 || !parsed.success) return { kind: 'invalid', problems };
  return { kind: 'options', options: Object.freeze(parsed.data) };
}
