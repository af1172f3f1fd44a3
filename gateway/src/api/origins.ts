import type { FastifyInstance } from 'fastify';
import { sendError } from './http-errors.ts';

/**
 * Whether a browser page of `origin` may talk to this gateway: its own pages (same host) and
 * those in ALLOWED_ORIGINS. Devices and scripts send no Origin header and are not asked.
 * Checked on device upgrades too: a page elsewhere must not open a session with a token it
 * found, nor ride on an operator's key.
 */
export function originAllowed(
  origin: string,
  host: string | undefined,
  allowed: readonly string[] | undefined,
): boolean {
  const normalized = origin.toLowerCase();
  if (allowed?.some((o) => o.toLowerCase() === normalized)) return true;
  try {
    return host !== undefined && new URL(normalized).host === host.toLowerCase();
  } catch {
    return false;
  }
}

const ALLOWED_METHODS = 'GET, POST, PUT, PATCH, DELETE';
const ALLOWED_HEADERS = 'authorization, content-type';

/**
 * Refuses API calls from other origins with 403 `origin_not_allowed`, and answers CORS for the
 * origins in ALLOWED_ORIGINS (none by default: no page elsewhere can call the API).
 */
export function installOriginPolicy(
  app: FastifyInstance,
  allowed: readonly string[] | undefined,
): void {
  app.addHook('onRequest', async (req, reply) => {
    const origin = req.headers.origin;
    if (origin === undefined) return;
    if (!originAllowed(origin, req.headers.host, allowed)) {
      return sendError(
        reply,
        'origin_not_allowed',
        `origin ${origin.slice(0, 200)} is not allowed`,
      );
    }
    reply.header('access-control-allow-origin', origin);
    reply.header('vary', 'Origin');
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
      return reply
        .code(204)
        .header('access-control-allow-methods', ALLOWED_METHODS)
        .header('access-control-allow-headers', ALLOWED_HEADERS)
        .header('access-control-max-age', '600')
        .send();
    }
  });
}
