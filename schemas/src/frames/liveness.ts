import { z } from 'zod';

/**
 * `ping`, either direction: for clients that cannot send WebSocket ping control frames. The
 * receiver answers with `pong`.
 */
export const pingFrameSchema = z.strictObject({ type: z.literal('ping') });

/** `pong`, either direction: the answer to `ping`. */
export const pongFrameSchema = z.strictObject({ type: z.literal('pong') });

/** A `ping` frame. */
export type PingFrame = z.output<typeof pingFrameSchema>;
/** A `pong` frame. */
export type PongFrame = z.output<typeof pongFrameSchema>;
