import { deviceIdSchema, EVENT_SEVERITIES } from '@iot-gateway/schemas';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { GatewayError } from '../errors.ts';
import { readEvents } from '../history/event-history.ts';
import type { TelemetryHistory } from '../history/telemetry-history.ts';
import type { DeviceRegistry } from '../registry/device-registry.ts';
import type { ApiKeyStore } from './api-key-store.ts';
import { requireRole } from './authorize.ts';
import { apiErrorSchema } from './http-errors.ts';
import { parseTimeRange, timeParam } from './telemetry-routes.ts';

/** Default window of an events request without `from`. */
const DEFAULT_WINDOW_MS = 24 * 3_600_000;
const severity = z.enum(EVENT_SEVERITIES);

/** `GET /v1/devices/:id/events`: a device's events read back from InfluxDB, newest first. */
export function registerEventRoutes(
  app: FastifyInstance,
  deps: {
    keys: ApiKeyStore;
    registry: DeviceRegistry;
    /** Undefined when INFLUX_URL is unset. */
    history: TelemetryHistory | undefined;
  },
): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/v1/devices/:id/events',
    {
      onRequest: requireRole(deps.keys, 'viewer'),
      schema: {
        tags: ['devices'],
        summary: "A device's events from InfluxDB, newest first",
        description:
          'Events in `[from, to)`, newest first, optionally of some severities only. Answers 501 `history_not_configured` when the gateway runs without INFLUX_URL.',
        security: [{ apiKey: [] }],
        params: z.object({ id: deviceIdSchema }),
        querystring: z.strictObject({
          from: timeParam.describe('Start (inclusive); default `to` minus one day'),
          to: timeParam.describe('End (exclusive); default now'),
          severity: z
            .union([severity, z.array(severity).max(EVENT_SEVERITIES.length)])
            .optional()
            .describe('Repeat for several'),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
        }),
        response: {
          200: z
            .object({
              deviceId: z.string(),
              events: z.array(
                z.object({
                  ts: z.string().describe('RFC 3339'),
                  name: z.string(),
                  severity: z.string(),
                  seq: z.number(),
                  data: z.unknown().optional(),
                }),
              ),
            })
            .meta({ id: 'EventHistory' }),
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
      const { query } = req;
      const issues: Array<{ path: string; message: string }> = [];
      const { from, to } = parseTimeRange(query, DEFAULT_WINDOW_MS, issues);
      if (issues.length > 0 || from === undefined || to === undefined) {
        throw new GatewayError('validation_failed', 'the querystring is invalid', issues);
      }
      if (!deps.history) {
        throw new GatewayError(
          'history_not_configured',
          'event history needs InfluxDB; this gateway runs without INFLUX_URL',
        );
      }
      try {
        const events = await readEvents(deps.history, {
          deviceId: device.id,
          from,
          to,
          severities: query.severity === undefined ? undefined : [query.severity].flat(),
          limit: query.limit,
        });
        return {
          deviceId: device.id,
          events: events.map((e) => ({ ...e, ts: new Date(e.ts).toISOString() })),
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
