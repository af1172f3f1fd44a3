import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { GatewayMetrics } from '../metrics.ts';
import type { ApiKeyStore } from './api-key-store.ts';
import { requireRole } from './authorize.ts';
import { apiErrorSchema } from './http-errors.ts';

export interface ReadinessCheck {
  readonly name: string;
  /** `ok: false` makes /readyz answer 503. */
  check(): { ok: boolean; detail?: string };
}

export function registerHealthRoutes(
  app: FastifyInstance,
  deps: {
    keys: ApiKeyStore;
    metrics: GatewayMetrics;
    checks: readonly ReadinessCheck[];
    /** Whether this port serves HTTPS and WSS. */
    tls: boolean;
  },
): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  // The probes carry no data (a word and booleans), so orchestrators may call them without a
  // key; everything with numbers in it needs one.
  api.get(
    '/healthz',
    {
      schema: {
        tags: ['health'],
        summary: 'Liveness: the process is up',
        response: { 200: z.object({ status: z.literal('ok'), tls: z.boolean() }) },
      },
    },
    async () => ({ status: 'ok' as const, tls: deps.tls }),
  );

  api.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness: store, sink and bridge',
        response: {
          200: z.object({ ready: z.boolean(), checks: z.record(z.string(), z.boolean()) }),
          503: z.object({ ready: z.boolean(), checks: z.record(z.string(), z.boolean()) }),
        },
      },
    },
    async (_req, reply) => {
      const checks: Record<string, boolean> = {};
      for (const c of deps.checks) checks[c.name] = c.check().ok;
      const ready = Object.values(checks).every(Boolean);
      return reply.code(ready ? 200 : 503).send({ ready, checks });
    },
  );

  api.get(
    '/metrics',
    {
      onRequest: requireRole(deps.keys, 'viewer'),
      schema: {
        tags: ['health'],
        summary: 'Prometheus metrics',
        security: [{ apiKey: [] }],
        response: { 200: z.string(), 401: apiErrorSchema, 403: apiErrorSchema },
      },
    },
    async (_req, reply) => {
      const text = await deps.metrics.registry.metrics();
      return reply.type(deps.metrics.registry.contentType).send(text);
    },
  );
}
