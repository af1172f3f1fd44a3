import { commandNameSchema, jsonObjectSchema } from '@iot-gateway/schemas';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { MAX_COMMAND_TIMEOUT_MS, MAX_COMMAND_TTL_MS } from '../commands/command-request.ts';
import { deviceSelectorSchema, deviceSelectorViewSchema } from '../commands/selector.ts';
import type { Scheduler } from '../schedules/scheduler.ts';
import type { ApiKeyStore } from './api-key-store.ts';
import { requireRole } from './authorize.ts';
import { prefixIssues } from './command-routes.ts';
import { apiErrorSchema } from './http-errors.ts';

const scheduleId = z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'a schedule id');

const scheduledCommandSchema = z.strictObject({
  name: commandNameSchema,
  params: jsonObjectSchema.optional(),
  ttlMs: z.int().positive().max(MAX_COMMAND_TTL_MS).optional(),
  timeoutMs: z.int().positive().max(MAX_COMMAND_TIMEOUT_MS).optional(),
});

const scheduleSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    cron: z.string(),
    timezone: z.string(),
    selector: deviceSelectorViewSchema,
    command: z.object({
      name: z.string(),
      params: z.record(z.string(), z.unknown()).optional(),
      ttlMs: z.number().optional(),
      timeoutMs: z.number().optional(),
    }),
    createdAt: z.string(),
    nextRunAt: z.string().optional().describe('RFC 3339, UTC'),
  })
  .meta({ id: 'Schedule' });

const runSchema = z
  .object({
    at: z.string(),
    outcome: z.enum(['ok', 'empty', 'failed']),
    fleetId: z.string().optional().describe('The fleet command of this run'),
    targeted: z.number(),
    skipped: z.number(),
    error: z.string().optional(),
  })
  .meta({ id: 'ScheduleRun' });

export function registerScheduleRoutes(
  app: FastifyInstance,
  deps: { scheduler: Scheduler; keys: ApiKeyStore },
): void {
  const { scheduler, keys } = deps;
  const api = app.withTypeProvider<ZodTypeProvider>();
  const security = [{ apiKey: [] }];
  const auth = { 401: apiErrorSchema, 403: apiErrorSchema };

  api.post(
    '/v1/schedules',
    {
      onRequest: requireRole(keys, 'operator'),
      schema: {
        tags: ['schedules'],
        summary: 'Create a schedule',
        description:
          'At each time the cron expression (seconds field optional) matches in `timezone`, the command goes to every device the selector matches then, as one fleet command. Devices whose type lacks the command are skipped.',
        security,
        body: z
          .strictObject({
            name: z.string().min(1).max(128).optional(),
            cron: z.string().min(1).max(128).describe('e.g. `0 30 6 * * 1-5` or `*/10 * * * *`'),
            timezone: z.string().min(1).max(64).default('UTC').describe('IANA name'),
            selector: deviceSelectorSchema,
            command: scheduledCommandSchema,
          })
          .meta({
            example: {
              name: 'eco at night',
              cron: '0 0 22 * * *',
              timezone: 'Europe/Berlin',
              selector: { type: 'thermostat' },
              command: { name: 'set_setpoint', params: { setpoint: 17 } },
            },
          }),
        response: { 201: scheduleSchema, 400: apiErrorSchema, ...auth },
      },
    },
    async (req, reply) => {
      const schedule = await scheduler.create(req.body, req.apiKey?.id).catch(prefixIssues('body'));
      return reply.code(201).send(schedule);
    },
  );

  api.get(
    '/v1/schedules',
    {
      onRequest: requireRole(keys, 'viewer'),
      schema: {
        tags: ['schedules'],
        summary: 'List schedules',
        security,
        response: { 200: z.object({ schedules: z.array(scheduleSchema) }), ...auth },
      },
    },
    async () => ({ schedules: await scheduler.list() }),
  );

  api.get(
    '/v1/schedules/:id',
    {
      onRequest: requireRole(keys, 'viewer'),
      schema: {
        tags: ['schedules'],
        summary: 'Get a schedule',
        security,
        params: z.object({ id: scheduleId }),
        response: { 200: scheduleSchema, 400: apiErrorSchema, ...auth, 404: apiErrorSchema },
      },
    },
    async (req) => scheduler.get(req.params.id),
  );

  api.delete(
    '/v1/schedules/:id',
    {
      onRequest: requireRole(keys, 'operator'),
      schema: {
        tags: ['schedules'],
        summary: 'Delete a schedule and its run history',
        description: 'Commands it already queued keep going; cancel them one by one if needed.',
        security,
        params: z.object({ id: scheduleId }),
        response: { 204: z.null(), 400: apiErrorSchema, ...auth, 404: apiErrorSchema },
      },
    },
    async (req, reply) => {
      await scheduler.delete(req.params.id);
      return reply.code(204).send(null);
    },
  );

  api.get(
    '/v1/schedules/:id/runs',
    {
      onRequest: requireRole(keys, 'viewer'),
      schema: {
        tags: ['schedules'],
        summary: "A schedule's runs, newest first",
        security,
        params: z.object({ id: scheduleId }),
        querystring: z.strictObject({
          before: z
            .string()
            .regex(/^\d{1,15}$/, 'the `next` value of the previous page')
            .optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
        }),
        response: {
          200: z.object({ runs: z.array(runSchema), next: z.string().optional() }),
          400: apiErrorSchema,
          ...auth,
          404: apiErrorSchema,
        },
      },
    },
    async (req) => {
      const result = await scheduler.runs(
        req.params.id,
        req.query.limit,
        req.query.before === undefined ? undefined : Number(req.query.before),
      );
      return {
        runs: result.runs,
        ...(result.next !== undefined ? { next: String(result.next) } : {}),
      };
    },
  );
}
