import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { GatewayError } from './errors.ts';

/**
 * Plain decimal integers only: `Number()` would read `0x1f90` as 8080 and `1e3` as 1000, which
 * is never what someone who typed them meant to be told nothing about.
 */
const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^-?\d+$/, 'expected a plain decimal integer')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
/** A plain decimal number (`2.5`, `100`), for rates. */
const decimal = () =>
  z
    .string()
    .regex(/^\d+(\.\d+)?$/, 'expected a plain decimal number')
    .transform(Number);
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const list = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'label names only')));
const optionalUrl = (protocols: RegExp, example: string) =>
  z
    .string()
    .trim()
    .transform((v) => (v === '' ? undefined : v))
    .pipe(z.url({ protocol: protocols, error: `expected a URL like ${example}` }).optional())
    .optional();

/** Runs a cross-setting check even when other settings are wrong, so one start reports all. */
const whenValid =
  (...keys: string[]) =>
  (payload: { issues: ReadonlyArray<{ path?: PropertyKey[] }> }) =>
    keys.every((key) => !payload.issues.some((issue) => issue.path?.[0] === key));

/**
 * Every setting of the gateway, read from the environment (and an optional JSON file named by
 * CONFIG_FILE, which the environment overrides). docs/configuration.md documents each one.
 */
export const configSchema = z
  .object({
    HOST: z.string().min(1).default('0.0.0.0'),
    PORT: int(0, 65535).default(8080),
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
    LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
    DATA_DIR: z.string().min(1).optional(),
    INFLUX_URL: optionalUrl(/^https?$/, 'http://localhost:8086/iot'),
    MQTT_URL: optionalUrl(/^(mqtts?|wss?|tcp)$/, 'mqtt://localhost:1883'),
    MQTT_TOPIC_PREFIX: z
      .string()
      .regex(/^[^#+\s/][^#+\s]*[^#+\s/]$|^[^#+\s/]$/, 'no wildcards, spaces or outer slashes')
      .default('iot'),
    MQTT_CLIENT_ID: z
      .string()
      .regex(/^[^/+#\s]{1,128}$/, 'no "/", "+", "#" or spaces')
      .optional(),
    MQTT_MAX_QUEUE: int(1, 100_000_000).default(100_000),
    MQTT_FLUSH_MS: int(0, 1_000).default(2),
    MQTT_SHARE_GROUP: z
      .string()
      .regex(/^[^/+#\s]{1,64}$/, 'no "/", "+", "#" or spaces')
      .optional(),
    MQTT_COMMAND_INGRESS: z.enum(['on', 'off']).default('off'),
    MQTT_USERNAME: z.string().min(1).max(256).optional(),
    MQTT_PASSWORD: z.string().min(1).max(1024).optional(),
    MQTT_PASSWORD_FILE: z.string().min(1).optional(),
    MQTT_CA_FILE: z.string().min(1).optional(),
    MQTT_CERT_FILE: z.string().min(1).optional(),
    MQTT_KEY_FILE: z.string().min(1).optional(),
    TLS_CERT_FILE: z.string().min(1).optional(),
    TLS_KEY_FILE: z.string().min(1).optional(),
    TLS_CLIENT_CA_FILE: z.string().min(1).optional(),
    ALLOWED_ORIGINS: z
      .string()
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      )
      .pipe(
        z.array(
          z
            .string()
            .regex(/^https?:\/\/[^/\s]+$/, 'origins like https://console.example.com (no path)'),
        ),
      )
      .optional(),
    MQTT_QOS: z
      .enum(['0', '1', '2'])
      .transform((v) => Number(v) as 0 | 1 | 2)
      .default(1),
    // Unset: MQTT_QOS. Telemetry is the one kind where a backend may prefer speed to redelivery.
    MQTT_TELEMETRY_QOS: z
      .enum(['0', '1', '2'])
      .transform((v) => Number(v) as 0 | 1 | 2)
      .optional(),
    MQTT_TELEMETRY_FORMAT: z.enum(['frame', 'batch']).default('frame'),
    ADMIN_TOKEN: z.string().min(24, 'use at least 24 characters').optional(),
    HEARTBEAT_INTERVAL_MS: int(100, 3_600_000).default(15_000),
    HEARTBEAT_TIMEOUT_MS: int(200, 7_200_000).default(45_000),
    HANDSHAKE_TIMEOUT_MS: int(100, 120_000).default(10_000),
    FIRST_FRAME_TIMEOUT_MS: int(100, 600_000).default(10_000),
    MAX_FRAME_BYTES: int(1024, 16 * 1024 * 1024).default(64 * 1024),
    MAX_SESSIONS: int(1, 1_000_000).default(50_000),
    MAX_IN_FLIGHT: int(1, 100_000).default(256),
    RATE_LIMIT_PER_SEC: decimal().pipe(z.number().positive().max(1_000_000)).default(100),
    RATE_LIMIT_BURST: int(1, 1_000_000).default(200),
    FLOOD_CLOSE_AFTER: int(1, 1_000_000).default(100),
    ERROR_RATE_PER_SEC: decimal().pipe(z.number().positive().max(1_000_000)).default(10),
    ERROR_BURST: int(1, 1_000_000).default(100),
    MISBEHAVIOR_COOLDOWN_MS: int(0, 3_600_000).default(10_000),
    MAX_OUTBOUND_BYTES: int(16 * 1024, 1024 * 1024 * 1024).default(1024 * 1024),
    PER_MESSAGE_DEFLATE: bool.default(false),
    TS_MAX_PAST_MS: int(0, 10 * 365 * 86_400_000).default(7 * 86_400_000),
    TS_MAX_FUTURE_MS: int(0, 86_400_000).default(5 * 60_000),
    JWT_MAX_TTL_S: int(60, 366 * 86_400).default(86_400),
    TELEMETRY_TAG_LABELS: list.default([]),
    DEVICE_TYPES_FILE: z.string().min(1).optional(),
    SPOOL_MAX_BYTES: int(64 * 1024, 2 ** 50).default(1024 * 1024 * 1024),
    SPOOL_FSYNC: z.enum(['batch', 'none']).default('batch'),
    INFLUX_BATCH_SIZE: int(1, 100_000).default(5_000),
    INFLUX_FLUSH_MS: int(0, 60_000).default(5),
    INFLUX_MAX_IN_FLIGHT: int(1, 64).default(4),
    INFLUX_TIMEOUT_MS: int(100, 600_000).default(2_000),
    STATS_INTERVAL_MS: int(1000, 3_600_000).default(5_000),
    COMMAND_DEFAULT_TTL_MS: int(1000, 30 * 86_400_000).default(86_400_000),
    COMMAND_DEFAULT_TIMEOUT_MS: int(100, 86_400_000).default(30_000),
    COMMAND_MAX_PENDING: int(1, 1_000_000).default(1_000),
    COMMAND_MAX_IN_FLIGHT: int(1, 10_000).default(16),
    COMMAND_RETENTION_MS: int(1000, 366 * 86_400_000).default(7 * 86_400_000),
    DATABASE_URL: optionalUrl(/^postgres(ql)?$/, 'postgres://user:pass@db.example.com:5432/iot'),
    DATABASE_POOL_SIZE: int(1, 1_000).default(10),
    INSTANCE_ID: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, ".", "_" and "-" (at most 64)')
      .optional(),
    INSTANCE_LEASE_MS: int(1_000, 600_000).default(10_000),
  })
  .refine((c) => (c.TLS_CERT_FILE === undefined) === (c.TLS_KEY_FILE === undefined), {
    path: ['TLS_KEY_FILE'],
    message: 'set TLS_CERT_FILE and TLS_KEY_FILE together',
    when: whenValid('TLS_CERT_FILE', 'TLS_KEY_FILE'),
  })
  .refine((c) => c.TLS_CLIENT_CA_FILE === undefined || c.TLS_CERT_FILE !== undefined, {
    path: ['TLS_CLIENT_CA_FILE'],
    message: 'client certificates need TLS: set TLS_CERT_FILE and TLS_KEY_FILE too',
    when: whenValid('TLS_CERT_FILE', 'TLS_CLIENT_CA_FILE'),
  })
  .refine((c) => c.MQTT_PASSWORD === undefined || c.MQTT_PASSWORD_FILE === undefined, {
    path: ['MQTT_PASSWORD_FILE'],
    message: 'set MQTT_PASSWORD or MQTT_PASSWORD_FILE, not both',
    when: whenValid('MQTT_PASSWORD', 'MQTT_PASSWORD_FILE'),
  })
  .refine((c) => (c.MQTT_CERT_FILE === undefined) === (c.MQTT_KEY_FILE === undefined), {
    path: ['MQTT_KEY_FILE'],
    message: 'set MQTT_CERT_FILE and MQTT_KEY_FILE together',
    when: whenValid('MQTT_CERT_FILE', 'MQTT_KEY_FILE'),
  })
  .refine((c) => c.HEARTBEAT_TIMEOUT_MS > c.HEARTBEAT_INTERVAL_MS, {
    path: ['HEARTBEAT_TIMEOUT_MS'],
    message: 'must be greater than HEARTBEAT_INTERVAL_MS',
    // Checked even when other settings are wrong, so one start reports every problem.
    when: (payload) =>
      ['HEARTBEAT_TIMEOUT_MS', 'HEARTBEAT_INTERVAL_MS'].every(
        (key) => !payload.issues.some((issue) => issue.path?.[0] === key),
      ),
  });

type Parsed = z.output<typeof configSchema>;

/** Settings naming files; relative paths are taken from where the user started the gateway. */
const FILE_SETTINGS = [
  'MQTT_PASSWORD_FILE',
  'TLS_CERT_FILE',
  'TLS_KEY_FILE',
  'TLS_CLIENT_CA_FILE',
  'MQTT_CA_FILE',
  'MQTT_CERT_FILE',
  'MQTT_KEY_FILE',
] as const;
export type Config = Readonly<Omit<Parsed, 'DATA_DIR'> & { DATA_DIR: string }>;

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new GatewayError(
      'invalid_config',
      `CONFIG_FILE: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? err})`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new GatewayError('invalid_config', `CONFIG_FILE: ${path} is not JSON (${String(err)})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new GatewayError('invalid_config', `CONFIG_FILE: ${path} must hold one JSON object`);
  }
  // File values may be numbers or booleans; the schema expects the strings the environment has.
  return Object.fromEntries(
    Object.entries(json).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : String(v)]),
  );
}

const SECRET_SETTING = /TOKEN|PASSWORD|DATABASE_URL/;

/** Reads a file a setting names; a missing or unreadable one is an `invalid_config` error. */
export function readSettingFile(path: string, setting: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new GatewayError(
      'invalid_config',
      `${setting}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    );
  }
}

/** Edit distance, for spotting misspelt settings; inputs are short. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] as number;
      row[j] = Math.min(
        (row[j] as number) + 1,
        (row[j - 1] as number) + 1,
        previous + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      previous = current;
    }
  }
  return row[b.length] as number;
}

/**
 * Environment variables that look like a setting but are none (`HEARTBEAT_INTERVALMS`): the
 * gateway would otherwise start on the default without a word. One warning each, naming the
 * setting meant.
 */
export function misspeltSettings(env: Record<string, string | undefined>): string[] {
  const known = Object.keys(configSchema.shape);
  const squash = (key: string) => key.replace(/_/g, '').toUpperCase();
  const warnings: string[] = [];
  for (const key of Object.keys(env)) {
    if (known.includes(key) || key.length < 6 || !/^[A-Za-z_]+$/.test(key)) continue;
    const meant = known.find(
      (k) => squash(k) === squash(key) || (k.length >= 8 && distance(k, key.toUpperCase()) <= 2),
    );
    if (meant) warnings.push(`${key} is not a setting; did you mean ${meant}?`);
  }
  return warnings;
}

/**
 * Validates the whole configuration once. A bad setup throws one `invalid_config` error naming
 * every problem, so users fix them all in one go. The result is frozen.
 */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  cwd = process.env.INIT_CWD ?? process.cwd(),
): Config {
  const fromFile = env.CONFIG_FILE ? readConfigFile(resolve(cwd, env.CONFIG_FILE)) : {};
  const known = new Set(Object.keys(configSchema.shape));
  const input: Record<string, unknown> = { ...fromFile };
  for (const [key, value] of Object.entries(env)) {
    // Empty (or blank) variables count as unset, as users expect from `FOO= npm start`.
    if (known.has(key) && value !== undefined && value.trim() !== '') input[key] = value;
  }
  const unknownInFile = Object.keys(fromFile).filter((k) => !known.has(k));

  const result = configSchema.safeParse(input);
  const problems = unknownInFile.map((k) => `${k}: unknown setting in CONFIG_FILE`);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = issue.path.join('.') || '(config)';
      const given = input[String(issue.path[0])];
      // The value helps find the typo, except where it is a secret.
      const shown =
        typeof given === 'string' && !SECRET_SETTING.test(key)
          ? ` (got ${JSON.stringify(given.length > 80 ? `${given.slice(0, 80)}…` : given)})`
          : '';
      problems.push(`${key}: ${issue.message}${shown}`);
    }
  }
  if (problems.length > 0 || !result.success) {
    throw new GatewayError(
      'invalid_config',
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems
        .map((p) => `  - ${p}`)
        .join('\n')}`,
      problems,
    );
  }
  const files: Partial<Record<(typeof FILE_SETTINGS)[number], string>> = {};
  for (const key of FILE_SETTINGS) {
    const value = result.data[key];
    if (value !== undefined) files[key] = resolve(cwd, value);
  }
  const config: Config = {
    ...result.data,
    ...files,
    DATA_DIR: resolve(cwd, result.data.DATA_DIR ?? '.data'),
  };
  return Object.freeze(config);
}
