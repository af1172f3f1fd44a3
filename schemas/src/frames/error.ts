import { z } from 'zod';
import { PROTOCOL_LIMITS } from '../limits.ts';
import { errorCodeSchema, seqSchema } from '../primitives.ts';

const { maxMessageLength, maxErrorIssues, maxIdLength } = PROTOCOL_LIMITS;

/** One problem found in a rejected frame. */
export const frameIssueSchema = z.strictObject({
  /** Dotted path into the rejected frame, e.g. `readings.0.ts`; `""` for the frame itself. */
  path: z.string().max(maxMessageLength),
  message: z.string().min(1).max(maxMessageLength),
  /** The validator's issue code (`invalid_type`, `too_big`, ...), for programs. */
  code: z.string().min(1).max(maxIdLength).optional(),
});

/**
 * `error` (gateway → device): a frame was rejected, or the session hit a limit. `seq` names the
 * rejected frame when it had one; `code` is a stable string from the gateway's error table
 * (`invalid_frame`, `invalid_telemetry`, `rate_limited`, `too_large`, `unknown_command`, ...).
 */
export const errorFrameSchema = z.strictObject({
  type: z.literal('error'),
  seq: seqSchema.optional(),
  code: errorCodeSchema,
  message: z.string().min(1).max(maxMessageLength),
  issues: z.array(frameIssueSchema).max(maxErrorIssues),
});

/** One problem listed in an `error` frame. */
export type FrameIssue = z.output<typeof frameIssueSchema>;
/** An `error` frame. */
export type ErrorFrame = z.output<typeof errorFrameSchema>;
