import type { DeviceTypeRegistry } from '@iot-gateway/schemas';
import { deviceTypeToJsonSchema } from '@iot-gateway/schemas';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { GatewayError } from '../errors.ts';
import type { ApiKeyStore } from './api-key-store.ts';
import { requireRole } from './authorize.ts';
import { apiErrorSchema } from './http-errors.ts';

const typeSummarySchema = z
  .object({
    name: z.string(),
    description: z.string(),
    metrics: z.array(z.string()),
    commands: z.array(z.string()),
    schema: z.string().describe('Where its JSON Schema is served'),
  })
  .meta({ id: 'DeviceTypeSummary' });

/** The device types this gateway knows, and their JSON Schema for device makers. */
export function registerSchemaRoutes(
  app: FastifyInstance,
  deps: { deviceTypes: DeviceTypeRegistry; keys: ApiKeyStore },
): void {
  const { deviceTypes, keys } = deps;
  const api = app.withTypeProvider<ZodTypeProvider>();
  const security = [{ apiKey: [] }];

  api.get(
    '/v1/schemas',
    {
      onRequest: requireRole(keys, 'viewer'),
      schema: {
        tags: ['schemas'],
        summary: 'List device types with their metrics and commands',
        security,
        response: {
          200: z.object({ types: z.array(typeSummarySchema) }),
          401: apiErrorSchema,
          403: apiErrorSchema,
        },
      },
    },
    async () => ({
      types: deviceTypes.list().map((t) => ({
        name: t.name,
        description: t.description,
        metrics: Object.keys(t.metricInfo),
        commands: Object.keys(t.commands),
        schema: `/v1/schemas/${t.name}`,
      })),
    }),
  );

  api.get(
    '/v1/schemas/:type',
    {
      onRequest: requireRole(keys, 'viewer'),
      schema: {
        tags: ['schemas'],
        summary: "A device type's JSON Schema (draft 2020-12)",
        description:
          '`$defs.metrics` validates a reading\'s `metrics`; `$defs["command.<name>"]` the `params` of each command.',
        security,
        params: z.object({
          type: z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'a device type name'),
        }),
        response: {
          200: z.record(z.string(), z.unknown()).describe('JSON Schema'),
          400: apiErrorSchema,
          401: apiErrorSchema,
          403: apiErrorSchema,
          404: apiErrorSchema,
        },
      },
    },
    async (req) => {
      const type = deviceTypes.get(req.params.type);
      if (!type)
        throw new GatewayError('device_type_not_found', `no device type ${req.params.type}`);
      return deviceTypeToJsonSchema(type) as Record<string, unknown>;
    },
  );
}
