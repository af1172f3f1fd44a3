import { commandIdSchema, deviceIdSchema } from '@iot-gateway/schemas';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { commandFields, commandRequestSchema } from '../commands/command-request.ts';
import type { CommandService } from '../commands/command-service.ts';
import { COMMAND_STATES, isTerminal } from '../commands/command-store.ts';
import { deviceSelectorSchema, deviceSelectorViewSchema } from '../commands/selector.ts';
import { GatewayError } from '../errors.ts';
import type { DeviceRegistry } from '../registry/device-registry.ts';
import type { ApiKeyStore } from './api-key-store.ts';
import { requireRole } from './authorize.ts';
import { apiErrorSchema } from './http-errors.ts';

export interface CommandRouteDeps {
  readonly commands: CommandService;
  readonly registry: DeviceRegistry;
  readonly keys: ApiKeyStore;
}

/** Longest `?wait` a request may ask for. */
export const MAX_WAIT_MS = 60_000;

/** The protocol's device id, one definition everywhere: a provisioned device can always connect. */
const deviceId = deviceIdSchema;
const stateSchema = z.enum(COMMAND_STATES);
const waitSchema = z.coerce
  .number()
  .int()
  .min(0)
  .max(MAX_WAIT_MS)
  .optional()
  .describe('Wait up to this many ms for a final state');
const cursorSchema = z
  .string()
  .regex(/^\d{1,15}$/, 'the `next` value of the previous page')
  .optional()
  .describe('The `next` value of the previous page');
const limitSchema = z.coerce.number().int().min(1).max(1000).default(100);

const commandErrorSchema = z.union([
  z.string(),
  z.object({ code: z.string().optional(), message: z.string() }),
]);

export const commandSchema = z
  .object({
    id: z.string(),
    deviceId: z.string(),
    name: z.string(),
    params: z.record(z.string(), z.unknown()),
    state: stateSchema,
    source: z.enum(['api', 'mqtt', 'fleet', 'schedule']),
    fleetId: z.string().optional(),
    createdAt: z.string().describe('RFC 3339'),
    updatedAt: z.string().describe('When the command entered its current state'),
    expiresAt: z.string().describe('A command still queued then becomes expired'),
    timeoutMs: z.number(),
    sentAt: z.string().optional(),
    deadlineAt: z.string().optional().describe('When the current state ends'),
    finishedAt: z.string().optional(),
    result: z.unknown().optional().describe("The device's result"),
    error: commandErrorSchema.optional().describe('Why the device says it failed'),
  })
  .meta({ id: 'Command' });

const commandListSchema = z
  .object({ commands: z.array(commandSchema), next: z.string().optional() })
  .meta({ id: 'CommandList' });

const stateCounts = z.object(
  Object.fromEntries(COMMAND_STATES.map((s) => [s, z.number()])) as Record<
    (typeof COMMAND_STATES)[number],
    z.ZodNumber
  >,
);

export const fleetSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    params: z.record(z.string(), z.unknown()),
    selector: deviceSelectorViewSchema,
    source: z.enum(['api', 'schedule']),
    scheduleId: z.string().optional(),
    createdAt: z.string(),
    targeted: z.number().describe('Devices that got a command'),
    skipped: z.object({
      count: z.number(),
      devices: z
        .array(z.object({ deviceId: z.string(), reason: z.string() }))
        .describe('The first 100 skipped devices'),
    }),
    states: stateCounts.describe("The targeted devices' commands by state"),
    done: z.boolean().describe('Every command reached a final state'),
  })
  .meta({ id: 'FleetCommand' });

const states = (value: string | string[] | undefined) =>
  value === undefined ? undefined : ([value].flat() as Array<(typeof COMMAND_STATES)[number]>);

const errors = {
  400: apiErrorSchema,
  401: apiErrorSchema,
  403: apiErrorSchema,
  404: apiErrorSchema,
};

export function registerCommandRoutes(app: FastifyInstance, deps: CommandRouteDeps): void {
  const { commands, keys } = deps;
  const api = app.withTypeProvider<ZodTypeProvider>();
  const security = [{ apiKey: [] }];

  api.post(
    '/v1/devices/:id/commands',
    {
      onRequest: requireRole(keys, 'operator'),
      schema: {
        tags: ['commands'],
        summary: 'Send a command to a device',
        description:
          "Checked against the device type's command definition before anything is queued. Answers 202 with the command (`queued` while the device is offline, `sent` once delivered); with `?wait` it waits for a final state and answers 200 when one is reached.",
        security,
        params: z.object({ id: deviceId }),
        querystring: z.strictObject({ wait: waitSchema }),
        body: commandRequestSchema,
        response: {
          200: commandSchema,
          202: commandSchema,
          ...errors,
          409: apiErrorSchema,
          429: apiErrorSchema,
        },
      },
    },
    async (req, reply) => {
      const command = await commands
        .submit(req.params.id, req.body, 'api', req.apiKey?.id, req.query.wait ?? 0)
        .catch(prefixIssues('body'));
      return reply.code(isTerminal(command.state) ? 200 : 202).send(command);
    },
  );

  api.get(
    '/v1/devices/:id/commands',
    {
      onRequest: requireRole(keys, 'viewer'),
      schema: {
        tags: ['commands'],
        summary: "List a device's commands, newest first",
        security,
        params: z.object({ id: deviceId }),
        querystring: z.strictObject({
          state: z.union([stateSchema, z.array(stateSchema)]).optional(),
          before: cursorSchema,
          limit: limitSchema,
        }),
        response: { 200: commandListSchema, ...errors },
      },
    },
    async (req) => {
      if (!(await deps.registry.get(req.params.id))) {
        throw new GatewayError('device_not_found', `no device ${req.params.id}`);
      }
      return page(
        await commands.list({
          deviceId: req.params.id,
          states: states(req.query.state),
          before: req.query.before === undefined ? undefined : Number(req.query.before),
          limit: req.query.limit,
        }),
      );
    },
  );

  api.get(
    '/v1/commands',
    {
      onRequest: requireRole(keys, 'viewer'),
      schema: {
        tags: ['commands'],
        summary: 'List commands, newest first',
        security,
        querystring: z.strictObject({
          deviceId: deviceId.optional(),
          fleetId: commandIdSchema.optional().describe('Commands of one fleet command'),
          state: z.union([stateSchema, z.array(stateSchema)]).optional(),
          before: cursorSchema,
          limit: limitSchema,
        }),
        response: {
          200: commandListSchema,
          400: apiErrorSchema,
          401: apiErrorSchema,
          403: apiErrorSchema,
        },
      },
    },
    async (req) =>
      page(
        await commands.list({
          deviceId: req.query.deviceId,
          fleetId: req.query.fleetId,
          states: states(req.query.state),
          before: req.query.before === undefined ? undefined : Number(req.query.before),
          limit: req.query.limit,
        }),
      ),
  );

  api.get(
    '/v1/commands/:id',
    {
      onRequest: requireRole(keys, 'viewer'),
      schema: {
        tags: ['commands'],
        summary: 'Get a command',
        description: 'With `?wait` it waits up to that many ms for a final state.',
        security,
        params: z.object({ id: commandIdSchema }),
        querystring: z.strictObject({ wait: waitSchema }),
        response: { 200: commandSchema, ...errors },
      },
    },
    async (req) => commands.wait(req.params.id, req.query.wait ?? 0),
  );

  api.post(
    '/v1/commands/:id/cancel',
    {
      onRequest: requireRole(keys, 'operator'),
      schema: {
        tags: ['commands'],
        summary: 'Cancel a queued or sent command',
        description:
          'A queued command is never delivered. A sent one may already run on the device; the gateway stops waiting for its result.',
        security,
        params: z.object({ id: commandIdSchema }),
        response: { 200: commandSchema, ...errors, 409: apiErrorSchema },
      },
    },
    async (req) => commands.cancel(req.params.id),
  );

  api.post(
    '/v1/fleet-commands',
    {
      onRequest: requireRole(keys, 'operator'),
      schema: {
        tags: ['commands'],
        summary: 'Send a command to every device a selector matches',
        description:
          'Each matched device gets its own tracked command. The command must fit the type of every matched device, or nothing is queued. Devices whose queue is full are skipped and listed.',
        security,
        body: z.strictObject({ selector: deviceSelectorSchema, ...commandFields }).meta({
          example: {
            selector: { type: 'thermostat' },
            name: 'set_setpoint',
            params: { setpoint: 20 },
          },
        }),
        response: {
          202: fleetSchema,
          400: apiErrorSchema,
          401: apiErrorSchema,
          403: apiErrorSchema,
        },
      },
    },
    async (req, reply) => {
      const { selector, ...input } = req.body;
      const fleet = await commands
        .submitFleet(selector, input, {
          source: 'api',
          strict: true,
          requestedBy: req.apiKey?.id,
        })
        .catch(prefixIssues('body'));
      return reply.code(202).send(fleet);
    },
  );

  api.get(
    '/v1/fleet-commands/:id',
    {
      onRequest: requireRole(keys, 'viewer'),
      schema: {
        tags: ['commands'],
        summary: 'Summary of a fleet command: targeted, skipped, commands by state',
        security,
        params: z.object({ id: commandIdSchema }),
        response: { 200: fleetSchema, ...errors },
      },
    },
    async (req) => commands.getFleet(req.params.id),
  );
}

function page(result: { commands: unknown[]; next?: number }) {
  return {
    commands: result.commands,
    ...(result.next !== undefined ? { next: String(result.next) } : {}),
  } as z.infer<typeof commandListSchema>;
}

/** The command service names fields relative to the request; the API names them from `body`. */
export function prefixIssues(where: string) {
  return (err: unknown): never => {
    if (err instanceof GatewayError && Array.isArray(err.details)) {
      throw new GatewayError(
        err.code,
        err.message,
        (err.details as Array<{ path: string; message: string }>).map((i) => ({
          path: i.path ? `${where}.${i.path}` : where,
          message: i.message,
        })),
      );
    }
    throw err;
  };
}
