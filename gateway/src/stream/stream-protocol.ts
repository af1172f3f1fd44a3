import { deviceIdSchema } from '@iot-gateway/schemas';
import { z } from 'zod';

/** The subprotocol of the operator stream; browsers offer it beside `bearer.<api key>`. */
export const STREAM_PROTOCOL_V1 = 'iot-gateway.stream.v1';

/** Fixed bounds of one stream client (documented in docs/api.md). */
export const STREAM_LIMITS = {
  /** Devices whose telemetry one client may follow at once. */
  maxSubscriptions: 200,
  /** Largest message a client may send. */
  maxMessageBytes: 16 * 1024,
  /** Messages a client may send per second on average, in bursts of `messageBurst`. */
  messagesPerSec: 20,
  messageBurst: 100,
  /** Live streams one gateway serves; more are refused with 503 `server_busy`. */
  maxClients: 1000,
} as const;

const devices = z.array(deviceIdSchema).min(1).max(STREAM_LIMITS.maxSubscriptions);

/** What a client may send: one JSON object per text message. */
export const streamClientMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('subscribe'), devices }),
  z.strictObject({ type: z.literal('unsubscribe'), devices }),
  z.strictObject({ type: z.literal('ping') }),
]);

export type StreamClientMessage = z.output<typeof streamClientMessageSchema>;
