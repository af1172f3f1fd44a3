import { z } from 'zod';
import { ackFrameSchema } from './ack.ts';
import { commandFrameSchema } from './command.ts';
import { errorFrameSchema } from './error.ts';
import { helloFrameSchema } from './hello.ts';
import { pingFrameSchema, pongFrameSchema } from './liveness.ts';

/** Frame types the gateway may send. */
export const GATEWAY_FRAME_TYPES = ['hello', 'ack', 'error', 'command', 'ping', 'pong'] as const;

/** Any frame the gateway sends, chosen by `type`. */
export const gatewayFrameSchema = z.discriminatedUnion(
  'type',
  [
    helloFrameSchema,
    ackFrameSchema,
    errorFrameSchema,
    commandFrameSchema,
    pingFrameSchema,
    pongFrameSchema,
  ],
  {
    error: (issue) =>
      issue.code === 'invalid_union'
        ? `Unknown or missing frame type; the gateway may send: ${GATEWAY_FRAME_TYPES.join(', ')}`
        : undefined,
  },
);

/** Any frame the gateway sends. */
export type GatewayFrame = z.output<typeof gatewayFrameSchema>;
/** The `type` of a gateway frame. */
export type GatewayFrameType = GatewayFrame['type'];
