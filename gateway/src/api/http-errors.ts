import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ErrorCode } from '../errors.ts';
import { ERRORS, GatewayError } from '../errors.ts';
import type { GatewayMetrics } from '../metrics.ts';

/** The body of every API error reply. */
export const apiErrorSchema = z
  .object({
    error: z.string().describe('Stable error code; see docs/errors.md'),
    message: z.string(),
    hint: z.string().optional(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'ApiError' });

declare module 'fastify' {
  interface FastifyInstance {
    /** Where sendError counts; decorated on the root, so every plugin scope has it. */
    gatewayMetrics?: GatewayMetrics;
  }
}

/** Answers with the documented error body and counts it in `iot_gateway_api_errors_total`. */
export function sendError(
  reply: FastifyReply,
  code: ErrorCode,
  message: string,
  issues?: Array<{ path: string; message: string }>,
): FastifyReply {
  reply.server.gatewayMetrics?.apiErrors.inc({ code });
  const spec: { status?: number; hint: string } = ERRORS[code];
  return reply
    .code(spec.status ?? 500)
    .send({ error: code, message, hint: spec.hint, ...(issues ? { issues } : {}) });
}

/** Turns every thrown error into the documented JSON shape, with a counter per code. */
export function installErrorHandling(app: FastifyInstance, metrics: GatewayMetrics): void {
  app.decorate('gatewayMetrics', metrics);
  app.setErrorHandler((err: FastifyError, req, reply) => {
    let code: ErrorCode;
    let message = err.message;
    let issues: Array<{ path: string; message: string }> | undefined;
    if (hasZodFastifySchemaValidationErrors(err)) {
      code = 'validation_failed';
      const where = err.validationContext ?? 'body';
      issues = err.validation.map((v) => ({
        path: [where, ...v.instancePath.split('/').filter(Boolean)].join('.'),
        message: v.message ?? 'invalid',
      }));
      // `params` and `headers` are plural nouns.
      message = `the ${where} ${where === 'params' || where === 'headers' ? 'are' : 'is'} invalid`;
    } else if (err instanceof GatewayError) {
      code = err.code;
      issues = Array.isArray(err.details) ? (err.details as typeof issues) : undefined;
    } else if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || err.statusCode === 415) {
      code = 'unsupported_media_type';
      message = `bodies are JSON; this one is ${req.headers['content-type'] ?? 'untyped'}`;
    } else if (err.statusCode === 400) {
      code = 'validation_failed';
      issues = [{ path: 'body', message: err.message }];
    } else if (err.statusCode === 413) {
      code = 'validation_failed';
      issues = [{ path: 'body', message: 'the body is too large' }];
    } else if (err.statusCode === 403 || err.statusCode === 404) {
      // The docs' static files refuse paths that leave their folder (`/docs/static/../..`):
      // nothing is there for the caller, whatever the reason.
      code = 'route_not_found';
      message = `no route ${req.method} ${req.url.split('?')[0]}`;
    } else if (err.statusCode === 429) {
      code = 'too_many_requests';
    } else {
      code = 'internal_error';
      req.log.error({ err }, 'request failed');
      message = 'internal error';
    }
    return sendError(reply, code, message, issues);
  });
  app.setNotFoundHandler((req, reply) => {
    return sendError(reply, 'route_not_found', `no route ${req.method} ${req.url.split('?')[0]}`);
  });
}

/** Requests HTTP itself could not read: answered before fastify routes them. */
const CLIENT_ERRORS: Record<string, { code: ErrorCode; status: number; text: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { code: 'request_timeout', status: 408, text: 'Request Timeout' },
  HPE_HEADER_OVERFLOW: {
    code: 'headers_too_large',
    status: 431,
    text: 'Request Header Fields Too Large',
  },
};

/**
 * fastify's `clientErrorHandler`: malformed, oversized or too slow requests get the documented
 * error body (and a count) like every other error, then the socket is closed.
 */
export function clientErrorHandler(metrics: GatewayMetrics) {
  return (err: NodeJS.ErrnoException, socket: Duplex): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const known = (err.code && CLIENT_ERRORS[err.code]) || {
      code: 'bad_request' as const,
      status: 400,
      text: 'Bad Request',
    };
    metrics.apiErrors.inc({ code: known.code });
    if (socket.writable) {
      const body = JSON.stringify({
        error: known.code,
        message:
          err.code === 'HPE_HEADER_OVERFLOW'
            ? 'the request line and headers are too large'
            : known.text.toLowerCase(),
        hint: ERRORS[known.code].hint,
      });
      socket.write(
        `HTTP/1.1 ${known.status} ${known.text}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}
