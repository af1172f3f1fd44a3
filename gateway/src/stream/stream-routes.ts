import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ApiKeyStore } from '../api/api-key-store.ts';
import { requireRole } from '../api/authorize.ts';
import { apiErrorSchema, sendError } from '../api/http-errors.ts';
import { STREAM_PATH } from './operator-stream.ts';
import { STREAM_LIMITS, STREAM_PROTOCOL_V1 } from './stream-protocol.ts';

/**
 * `GET /v1/stream` without an upgrade: the stream itself is served by {@link OperatorStream} on
 * the HTTP server's upgrade event. This route puts it in the OpenAPI document and tells a plain
 * HTTP client what to do.
 */
export function registerStreamRoutes(app: FastifyInstance, deps: { keys: ApiKeyStore }): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    STREAM_PATH,
    {
      onRequest: requireRole(deps.keys, 'viewer'),
      schema: {
        tags: ['stream'],
        summary: 'Live stream of status changes, telemetry, events and command states (WebSocket)',
        description: [
          'A WebSocket: open it with `Authorization: Bearer <api key>`, or from a browser with the subprotocols',
          `\`${STREAM_PROTOCOL_V1}\` and \`bearer.<api key>\` (never put the key in the URL). Any role may read it.`,
          'The gateway sends JSON text messages: `hello` (the key and the limits), `status` (every device going online or offline),',
          '`event` (every device event), `command` (every command state change) and `telemetry` (only for subscribed devices).',
          'The client sends `{"type":"subscribe","devices":[…]}`, `{"type":"unsubscribe","devices":[…]}` or `{"type":"ping"}`;',
          `a client follows at most ${STREAM_LIMITS.maxSubscriptions} devices. A client that stops reading is dropped once`,
          'MAX_OUTBOUND_BYTES wait for it (close code 4010 `stream_too_slow`). See docs/api.md, "Live stream".',
          'A plain GET answers 426 `upgrade_required`.',
        ].join(' '),
        security: [{ apiKey: [] }],
        response: { 401: apiErrorSchema, 403: apiErrorSchema, 426: apiErrorSchema },
      },
    },
    async (_req, reply) => sendError(reply, 'upgrade_required', 'open /v1/stream as a WebSocket'),
  );
}
