import { deviceIdSchema } from '@iot-gateway/schemas';
import { z } from 'zod';

/** Most devices one fleet command (or one schedule run) may target. */
export const MAX_FLEET_DEVICES = 100_000;
/** Most ids a selector may list. */
export const MAX_SELECTOR_IDS = 10_000;

/** The protocol's device id, one definition everywhere: a provisioned device can always connect. */
const deviceId = deviceIdSchema;

/**
 * Which devices a fleet command or a schedule targets: every criterion given must match. At least
 * one is required, so that an empty object can never command the whole fleet by accident.
 */
export const deviceSelectorSchema = z
  .strictObject({
    type: z.string().min(1).max(64).optional().describe('Device type'),
    labels: z
      .record(
        z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'label names: letters, digits, _ and -'),
        z.string().min(1).max(256),
      )
      .refine((l) => Object.keys(l).length <= 32, 'at most 32 labels')
      .optional()
      .describe('Every label given must match'),
    ids: z.array(deviceId).min(1).max(MAX_SELECTOR_IDS).optional().describe('Device ids'),
  })
  .refine(
    (s) =>
      s.type !== undefined ||
      (s.labels !== undefined && Object.keys(s.labels).length > 0) ||
      s.ids !== undefined,
    { message: 'give at least one of type, labels or ids' },
  )
  .meta({ id: 'DeviceSelector' });

export type DeviceSelectorInput = z.output<typeof deviceSelectorSchema>;

/** A selector as the API answers it. */
export const deviceSelectorViewSchema = z.object({
  type: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  ids: z.array(z.string()).readonly().optional(),
});
