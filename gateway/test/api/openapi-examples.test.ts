import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startTestGateway } from '../support/test-gateway.ts';

describe('the OpenAPI document', () => {
  it('gives every request body an example that the gateway accepts as it is', async () => {
    const gw = await startTestGateway();
    try {
      const doc = (await gw.api('GET', '/openapi.json')).body;
      const bodies: Array<{ method: string; path: string; example: unknown }> = [];
      for (const [path, operations] of Object.entries<Record<string, any>>(doc.paths)) {
        for (const [method, operation] of Object.entries<any>(operations)) {
          const schema = operation.requestBody?.content?.['application/json']?.schema;
          if (!schema) continue;
          const resolved = schema.$ref
            ? doc.components.schemas[schema.$ref.split('/').pop()]
            : schema;
          bodies.push({ method, path, example: resolved.example });
        }
      }
      assert.ok(bodies.length >= 7, `${bodies.length} request bodies`);
      // Provisioning first: the other examples act on the device it creates.
      bodies.sort((a, b) => Number(b.path === '/v1/devices') - Number(a.path === '/v1/devices'));
      const provisioned = bodies[0]?.example as { id: string };
      for (const { method, path, example } of bodies) {
        assert.ok(example !== undefined, `${method.toUpperCase()} ${path} has an example`);
        const url = path.replace('{id}', provisioned.id);
        const res = await gw.api(method.toUpperCase(), url, example);
        assert.ok(
          res.status >= 200 && res.status < 300,
          `${method.toUpperCase()} ${url} with its example: ${res.status} ${JSON.stringify(res.body)}`,
        );
      }
      const params = doc.components.schemas.CommandRequest?.properties?.params;
      assert.equal(params?.type, 'object');
    } finally {
      await gw.stop();
    }
  });
});
