import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiKey, ApiKeyStore, Role } from './api-key-store.ts';
import { roleAllows } from './api-key-store.ts';
import { sendError } from './http-errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    apiKey?: ApiKey;
  }
}

/**
 * An onRequest hook that admits only requests with an API key of at least `role`. It runs before
 * the body is parsed and validated, so a caller without a key learns nothing about the route's
 * schema. Every operator route uses one; there is no anonymous route besides the health probes.
 */
export function requireRole(keys: ApiKeyStore, role: Role) {
  return async function authorize(req: FastifyRequest, reply: FastifyReply) {
    const header = req.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) return sendError(reply, 'unauthorized', 'missing API key');
    const key = await keys.verify(match[1] as string);
    if (!key) return sendError(reply, 'unauthorized', 'unknown or revoked API key');
    if (!roleAllows(key.role, role)) {
      return sendError(
        reply,
        'forbidden',
        `this route needs the ${role} role; the key is ${key.role}`,
      );
    }
    req.apiKey = key;
  };
}
