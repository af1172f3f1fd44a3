import type { FastifyInstance } from 'fastify';
import { consoleBundle } from './console-bundle.ts';
import { CONSOLE_PAGE, CONSOLE_SECURITY_HEADERS } from './console-page.ts';

/**
 * The operator console at `/console` (and `/` leads there). The page and its script are public,
 * like any login page: they hold no data, and everything they show comes from the API with the
 * key the operator signs in with.
 */
export function registerConsoleRoutes(app: FastifyInstance): void {
  const hide = { schema: { hide: true } };
  app.get('/', hide, async (_req, reply) => reply.redirect('/console', 302));
  app.get('/console', hide, async (_req, reply) =>
    reply
      .headers(CONSOLE_SECURITY_HEADERS)
      .header('cache-control', 'no-cache')
      .type('text/html; charset=utf-8')
      .send(CONSOLE_PAGE),
  );
  app.get('/console/app.js', hide, async (req, reply) => {
    const bundle = await consoleBundle();
    reply
      .headers(CONSOLE_SECURITY_HEADERS)
      .header('cache-control', 'no-cache')
      .header('etag', bundle.etag)
      .header('vary', 'accept-encoding')
      .type('text/javascript; charset=utf-8');
    if (req.headers['if-none-match'] === bundle.etag) return reply.code(304).send();
    if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      return reply.header('content-encoding', 'gzip').send(bundle.gzip);
    }
    return reply.send(bundle.js);
  });
}
