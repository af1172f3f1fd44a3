import { z } from 'zod';
import { PROTOCOL_LIMITS } from '../limits.ts';
import { deviceIdSchema, sessionIdSchema } from '../primitives.ts';

const positiveInt = z.int().positive();

// hello and its two objects strip unknown keys instead of rejecting them: this is where the
// gateway announces its settings, new ones will be added within v1, and a device running an older
// SDK must still be able to connect. Every other frame is strict.

/** How the gateway checks liveness. */
export const heartbeatSchema = z
  .object({
    /** How often the gateway pings the device. */
    intervalMs: positiveInt,
    /** Silence after which the device is declared offline; longer than the interval. */
    timeoutMs: positiveInt,
  })
  .check((ctx) => {
    if (ctx.value.timeoutMs <= ctx.value.intervalMs) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        path: ['timeoutMs'],
        message: 'timeoutMs must be longer than intervalMs',
      });
    }
  });

/** What the gateway accepts from this session. */
export const sessionLimitsSchema = z.object({
  /** Largest frame, in bytes of UTF-8 JSON. */
  maxFrameBytes: positiveInt,
  /** Most frames sent but not yet acked before the device should wait. */
  maxInFlight: positiveInt,
  /** Sustained frames per second (token bucket rate). */
  ratePerSec: z.number().positive(),
  /** Frames that may exceed the rate in a burst (token bucket size). */
  burst: positiveInt,
  /** Most readings in one batch, at most the protocol's 500. */
  maxBatch: z.int().min(1).max(PROTOCOL_LIMITS.maxBatchReadings),
});

/** `hello` (gateway → device): the first frame of every session. */
export const helloFrameSchema = z.object({
  type: z.literal('hello'),
  deviceId: deviceIdSchema,
  sessionId: sessionIdSchema,
  heartbeat: heartbeatSchema,
  limits: sessionLimitsSchema,
});

/** Heartbeat settings of a `hello` frame. */
export type Heartbeat = z.output<typeof heartbeatSchema>;
/** Session limits of a `hello` frame. */
export type SessionLimits = z.output<typeof sessionLimitsSchema>;
/** A `hello` frame. */
export type HelloFrame = z.output<typeof helloFrameSchema>;
