import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { buildConsoleBundle } from '../../src/console/console-bundle.ts';
import type { TestGateway } from '../support/test-gateway.ts';
import { startTestGateway } from '../support/test-gateway.ts';

/** The budget the console keeps to open fast on slow links. */
const MAX_GZIP_BYTES = 150 * 1024;

describe('the operator console is served by the gateway', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway();
  });
  after(() => gw.stop());

  it('bundles into less than 150 KB gzipped', async () => {
    const bundle = await buildConsoleBundle();
    assert.ok(
      bundle.gzip.length < MAX_GZIP_BYTES,
      `the console is ${bundle.gzip.length} bytes gzipped; the budget is ${MAX_GZIP_BYTES}`,
    );
    assert.deepEqual(gunzipSync(bundle.gzip), bundle.js);
  });

  it('redirects / to /console and serves the page without a key, locked to its own origin', async () => {
    const root = await fetch(`${gw.url}/`, { redirect: 'manual' });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/console');
    const page = await fetch(`${gw.url}/console`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(await page.text(), /<script type="module" src="\/console\/app.js">/);
  });

  it('serves the script gzipped with an ETag, and 304 when it did not change', async () => {
    const res = await fetch(`${gw.url}/console/app.js`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-encoding'), 'gzip');
    assert.match(res.headers.get('content-type') ?? '', /javascript/);
    const etag = res.headers.get('etag') ?? '';
    assert.ok((await res.text()).length > 1000);
    const again = await fetch(`${gw.url}/console/app.js`, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
  });

  it('keeps the console out of the OpenAPI document', async () => {
    const doc = await gw.api('GET', '/openapi.json');
    assert.equal(doc.body.paths['/console'], undefined);
    assert.equal(doc.body.paths['/'], undefined);
  });
});
