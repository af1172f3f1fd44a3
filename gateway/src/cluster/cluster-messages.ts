import {
  commandErrorSchema,
  commandIdSchema,
  commandNameSchema,
  deviceIdSchema,
  jsonObjectSchema,
  jsonValueSchema,
} from '@iot-gateway/schemas';
import { z } from 'zod';
import type { CommandRecord } from '../commands/command-store.ts';

const ms = z.int().nonnegative();
const instanceRef = z.string().min(1).max(200);

/** A command in a final state, as the store holds it (epoch milliseconds). */
const settledCommandSchema = z.strictObject({
  seq: z.int().nonnegative(),
  id: commandIdSchema,
  deviceId: deviceIdSchema,
  name: commandNameSchema,
  params: jsonObjectSchema,
  state: z.enum(['succeeded', 'failed', 'timed_out', 'expired', 'cancelled']),
  source: z.enum(['api', 'mqtt', 'fleet', 'schedule']),
  fleetId: instanceRef.optional(),
  requestedBy: instanceRef.optional(),
  acceptedBy: instanceRef.optional(),
  sentBy: instanceRef.optional(),
  createdAt: ms,
  updatedAt: ms,
  expiresAt: ms,
  timeoutMs: ms,
  sentAt: ms.optional(),
  finishedAt: ms.optional(),
  deadlineAt: ms.optional(),
  result: jsonValueSchema.optional(),
  error: commandErrorSchema.optional(),
}) satisfies z.ZodType<CommandRecord>;

/**
 * What instances tell each other over `{prefix}/instances/{instanceId}/inbox`. Each message is
 * only a nudge: the shared database holds the truth, and the periodic sweeps find whatever a
 * lost message would have announced (docs/scaling.md).
 */
export const clusterMessageSchema = z.discriminatedUnion('type', [
  /** A command for a device whose session you hold is queued: deliver it now. */
  z.strictObject({ type: z.literal('deliver'), deviceId: deviceIdSchema }),
  /** The device connected to another instance: close your session `sessionId` with 4000. */
  z.strictObject({
    type: z.literal('takeover'),
    deviceId: deviceIdSchema,
    sessionId: z.string().min(1).max(100),
  }),
  /** The device was deleted or its credential rotated: close its session at once. */
  z.strictObject({ type: z.literal('revoke'), deviceId: deviceIdSchema }),
  /**
   * A command you accepted reached a final state elsewhere: answer its waiting requests. The
   * command comes along, as committed, when it fits in a message; otherwise read it.
   */
  z.strictObject({
    type: z.literal('settled'),
    commandId: commandIdSchema,
    command: settledCommandSchema.optional(),
  }),
]);

export type ClusterMessage = z.infer<typeof clusterMessageSchema>;

/** Inbox messages are tiny; anything bigger is not from an instance. */
export const MAX_CLUSTER_MESSAGE_BYTES = 4096;

/** A message's JSON, or undefined when it is not one (counted, never thrown). */
export function parseClusterMessage(payload: Buffer): ClusterMessage | undefined {
  if (payload.length > MAX_CLUSTER_MESSAGE_BYTES) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = clusterMessageSchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}
