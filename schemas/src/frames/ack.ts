import { z } from 'zod';
import { seqSchema } from '../primitives.ts';

/**
 * `ack` (gateway → device): every frame of this session with `seq` ≤ this one is durable
 * (written to InfluxDB or the gateway's spool). Acks may be coalesced.
 */
export const ackFrameSchema = z.strictObject({ type: z.literal('ack'), seq: seqSchema });

/** An `ack` frame. */
export type AckFrame = z.output<typeof ackFrameSchema>;
