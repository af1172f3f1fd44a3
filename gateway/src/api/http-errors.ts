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

export function sendError(
  reply: FastifyReply,
  code: ErrorCode,
  message: string,
  issues?: Array<{ path: string; message: string }>,
): FastifyReply {
  const spec: { status?: number; hint: string } = ERRORS[code];
  return reply
    .code(spec.status ?? 500)
    .send({ error: code, message, hint: spec.hint, ...(issues ? { issues } : {}) });
}

/** Turns every thrown error into the documented JSON shape, with a counter per code. */
export function installErrorHandling(app: FastifyInstance, metrics: GatewayMetrics): void {
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
      message = `the ${where} is invalid`;
    } else if (err instanceof GatewayError) {
      code = err.code;
      issues = Array.isArray(err.details) ? (err.details as typeof issues) : undefined;
    } else if (err.statusCode === 400 || err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      code = 'validation_failed';
      issues = [{ path: 'body', message: err.message }];
    } else if (err.statusCode === 413) {
      code = 'validation_failed';
      issues = [{ path: 'body', message: 'the body is too large' }];
    } else if (err.statusCode === 429) {
      code = 'too_many_requests';
    } else {
      code = 'internal_error';
      req.log.error({ err }, 'request failed');
      message = 'internal error';
    }
    metrics.apiErrors.inc({ code });
    return sendError(reply, code, message, issues);
  });
  app.setNotFoundHandler((req, reply) => {
    metrics.apiErrors.inc({ code: 'route_not_found' });
    return sendError(reply, 'route_not_found', `no route ${req.method} ${req.url.split('?')[0]}`);
  });
}
