import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { GatewayError } from '../errors.ts';
import type { ApiKey, ApiKeyStore } from './api-key-store.ts';
import { ROLES } from './api-key-store.ts';
import { requireRole } from './authorize.ts';
import { apiErrorSchema } from './http-errors.ts';

const apiKeySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    role: z.enum(ROLES),
    createdAt: z.string(),
    lastUsedAt: z.string().optional(),
  })
  .meta({ id: 'ApiKey' });

const view = (key: ApiKey) => ({
  id: key.id,
  name: key.name,
  role: key.role,
  createdAt: new Date(key.createdAt).toISOString(),
  ...(key.lastUsedAt !== undefined ? { lastUsedAt: new Date(key.lastUsedAt).toISOString() } : {}),
});

/** Operator API keys: admins create, list and revoke them. Secrets are shown once. */
export function registerApiKeyRoutes(
  app: FastifyInstance,
  deps: {
    keys: ApiKeyStore /** ADMIN_TOKEN is set: an admin stays even without stored keys. */;
    adminToken: boolean;
  },
): void {
  const { keys } = deps;
  const api = app.withTypeProvider<ZodTypeProvider>();
  const security = [{ apiKey: [] }];
  const auth = { 401: apiErrorSchema, 403: apiErrorSchema };

  api.post(
    '/v1/api-keys',
    {
      onRequest: requireRole(keys, 'admin'),
      schema: {
        tags: ['api keys'],
        summary: 'Create an API key',
        description:
          'Roles: `viewer` reads, `operator` also sends commands and manages schedules, `admin` also provisions devices and manages keys. The secret is returned once; the gateway keeps only its hash.',
        security,
        body: z
          .strictObject({ name: z.string().trim().min(1).max(128), role: z.enum(ROLES) })
          .meta({ example: { name: 'dashboard backend', role: 'viewer' } }),
        response: {
          201: z.object({ key: apiKeySchema, secret: z.string() }),
          400: apiErrorSchema,
          ...auth,
        },
      },
    },
    async (req, reply) => {
      const { key, secret } = await keys.create(req.body.name, req.body.role);
      return reply.code(201).send({ key: view(key), secret });
    },
  );

  api.get(
    '/v1/api-keys',
    {
      onRequest: requireRole(keys, 'admin'),
      schema: {
        tags: ['api keys'],
        summary: 'List live API keys (never their secrets)',
        security,
        response: { 200: z.object({ keys: z.array(apiKeySchema) }), ...auth },
      },
    },
    async () => ({ keys: (await keys.list()).map(view) }),
  );

  api.get(
    '/v1/api-keys/self',
    {
      onRequest: requireRole(keys, 'viewer'),
      schema: {
        tags: ['api keys'],
        summary: 'The key this request is made with: its name and role',
        description:
          'Any role may ask. The operator console uses it to show only what the role allows (the API still enforces it).',
        security,
        response: { 200: apiKeySchema, ...auth },
      },
    },
    async (req) => view(req.apiKey as ApiKey),
  );

  api.delete(
    '/v1/api-keys/:id',
    {
      onRequest: requireRole(keys, 'admin'),
      schema: {
        tags: ['api keys'],
        summary: 'Revoke an API key at once',
        security,
        params: z.object({ id: z.uuid() }),
        response: {
          204: z.null(),
          400: apiErrorSchema,
          ...auth,
          404: apiErrorSchema,
          409: apiErrorSchema,
        },
      },
    },
    async (req, reply) => {
      const live = await keys.list();
      const key = live.find((k) => k.id === req.params.id);
      if (!key) throw new GatewayError('api_key_not_found', `no live API key ${req.params.id}`);
      // With no ADMIN_TOKEN, the last admin key is the only way in: keep it.
      if (key.role === 'admin' && !deps.adminToken) {
        const admins = live.filter((k) => k.role === 'admin').length;
        if (admins <= 1) {
          throw new GatewayError('last_admin_key', 'this is the last admin key');
        }
      }
      await keys.revoke(key.id);
      return reply.code(204).send(null);
    },
  );
}
