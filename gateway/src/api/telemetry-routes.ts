import type { DeviceTypeRegistry, MetricInfo } from '@iot-gateway/schemas';
import { deviceIdSchema } from '@iot-gateway/schemas';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { GatewayError } from '../errors.ts';
import type { TelemetryHistory } from '../history/telemetry-history.ts';
import type { DeviceRegistry } from '../registry/device-registry.ts';
import type { ApiKeyStore } from './api-key-store.ts';
import { requireRole } from './authorize.ts';
import { apiErrorSchema } from './http-errors.ts';

/** Default window of a history request without `from`. */
const DEFAULT_WINDOW_MS = 3_600_000;
/** Most buckets one aggregated request may span. */
const MAX_BUCKETS = 100_000;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export const timeParam = z
  .string()
  .max(40)
  .optional()
  .describe('Epoch milliseconds or an RFC 3339 date-time');

/** Epoch ms from `1714000000000` or an RFC 3339 date-time; undefined when neither. */
export function parseTime(value: string): number | undefined {
  if (/^\d{1,15}$/.test(value)) return Number(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * `from` and `to` of a history request: `to` defaults to now, `from` to `windowMs` before `to`.
 * Problems go into `issues`; a side left undefined was not a time.
 */
export function parseTimeRange(
  query: { readonly from?: string | undefined; readonly to?: string | undefined },
  windowMs: number,
  issues: Array<{ path: string; message: string }>,
): { from: number | undefined; to: number | undefined } {
  const to = query.to === undefined ? Date.now() : parseTime(query.to);
  if (to === undefined) issues.push({ path: 'querystring.to', message: 'not a time' });
  const from = query.from === undefined ? (to ?? Date.now()) - windowMs : parseTime(query.from);
  if (from === undefined) issues.push({ path: 'querystring.from', message: 'not a time' });
  if (from !== undefined && to !== undefined && from >= to) {
    issues.push({ path: 'querystring.from', message: 'must be before `to`' });
  }
  return { from, to };
}

function parseDuration(value: string): number | undefined {
  const match = /^(\d{1,9})(ms|s|m|h|d)$/.exec(value);
  if (!match) return undefined;
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  return ms > 0 ? ms : undefined;
}

/** `GET /v1/devices/:id/telemetry`: history read back from InfluxDB. */
export function registerTelemetryRoutes(
  app: FastifyInstance,
  deps: {
    keys: ApiKeyStore;
    registry: DeviceRegistry;
    deviceTypes: DeviceTypeRegistry;
    /** Undefined when INFLUX_URL is unset. */
    history: TelemetryHistory | undefined;
  },
): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    '/v1/devices/:id/telemetry',
    {
      onRequest: requireRole(deps.keys, 'viewer'),
      schema: {
        tags: ['devices'],
        summary: "A device's telemetry history from InfluxDB",
        description:
          'Readings in `[from, to)`, oldest first. With `every` (e.g. `30s`, `5m`, `1h`) readings are grouped into buckets: numbers averaged, booleans and strings the last value. Answers 501 `history_not_configured` when the gateway runs without INFLUX_URL.',
        security: [{ apiKey: [] }],
        params: z.object({
          id: deviceIdSchema,
        }),
        querystring: z.strictObject({
          from: timeParam.describe('Start (inclusive); default `to` minus one hour'),
          to: timeParam.describe('End (exclusive); default now'),
          metrics: z
            .union([z.string().max(4096), z.array(z.string().max(64)).max(64)])
            .optional()
            .describe("Comma-separated or repeated metric names; default all of the type's"),
          every: z
            .string()
            .regex(/^\d{1,9}(ms|s|m|h|d)$/, 'a duration such as 500ms, 30s, 5m, 1h or 1d')
            .optional(),
          limit: z.coerce.number().int().min(1).max(10_000).default(1000),
        }),
        response: {
          200: z
            .object({
              deviceId: z.string(),
              from: z.string(),
              to: z.string(),
              every: z.string().optional(),
              metrics: z.array(z.string()),
              points: z.array(
                z.object({
                  ts: z.string().describe('RFC 3339: the reading, or the start of its bucket'),
                  metrics: z.record(z.string(), z.union([z.number(), z.boolean(), z.string()])),
                }),
              ),
              truncated: z
                .boolean()
                .describe('More points than `limit` exist in the range; ask for the rest'),
            })
            .meta({ id: 'TelemetryHistory' }),
          400: apiErrorSchema,
          401: apiErrorSchema,
          403: apiErrorSchema,
          404: apiErrorSchema,
          501: apiErrorSchema,
          503: apiErrorSchema,
        },
      },
    },
    async (req, reply) => {
      const device = await deps.registry.get(req.params.id);
      if (!device || device.revokedAt !== undefined) {
        throw new GatewayError('device_not_found', `no device ${req.params.id}`);
      }
      const type = deps.deviceTypes.get(device.type);
      if (!type) throw new GatewayError('device_not_found', `device type ${device.type} unknown`);
      const { query } = req;
      const issues: Array<{ path: string; message: string }> = [];
      const { from, to } = parseTimeRange(query, DEFAULT_WINDOW_MS, issues);
      const names =
        query.metrics === undefined
          ? Object.keys(type.metricInfo)
          : [query.metrics]
              .flat()
              .flatMap((m) => m.split(','))
              .map((m) => m.trim())
              .filter(Boolean);
      const metrics: MetricInfo[] = [];
      names.forEach((name, i) => {
        const info = Object.hasOwn(type.metricInfo, name) ? type.metricInfo[name] : undefined;
        if (info) metrics.push(info);
        else {
          issues.push({
            path: `querystring.metrics.${i}`,
            message: `${type.name} has no metric ${name}; it has ${Object.keys(type.metricInfo).join(', ')}`,
          });
        }
      });
      if (names.length === 0) {
        issues.push({ path: 'querystring.metrics', message: 'name at least one metric' });
      }
      const every = query.every === undefined ? undefined : parseDuration(query.every);
      if (query.every !== undefined && every === undefined) {
        issues.push({ path: 'querystring.every', message: 'must be greater than 0' });
      }
      if (every !== undefined && from !== undefined && to !== undefined) {
        if ((to - from) / every > MAX_BUCKETS) {
          issues.push({
            path: 'querystring.every',
            message: `the range holds more than ${MAX_BUCKETS} buckets; use a larger one`,
          });
        }
      }
      if (issues.length > 0 || from === undefined || to === undefined) {
        throw new GatewayError('validation_failed', 'the querystring is invalid', issues);
      }
      if (!deps.history) {
        throw new GatewayError(
          'history_not_configured',
          'telemetry history needs InfluxDB; this gateway runs without INFLUX_URL',
        );
      }
      try {
        const points = await deps.history.query({
          deviceId: device.id,
          from,
          to,
          metrics,
          every,
          // One more than asked for: `truncated` then says whether there is more, rather than
          // guessing from a page that happens to be exactly full.
          limit: query.limit + 1,
        });
        const truncated = points.length > query.limit;
        if (truncated) points.length = query.limit;
        return {
          deviceId: device.id,
          from: new Date(from).toISOString(),
          to: new Date(to).toISOString(),
          ...(query.every !== undefined ? { every: query.every } : {}),
          metrics: metrics.map((m) => m.name),
          points: points.map((p) => ({ ts: new Date(p.ts).toISOString(), metrics: p.metrics })),
          truncated,
        };
      } catch (err) {
        if (err instanceof GatewayError && err.code === 'history_unavailable') {
          reply.header('Retry-After', '5');
        }
        throw err;
      }
    },
  );
}
