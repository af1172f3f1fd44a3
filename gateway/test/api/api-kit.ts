import type { Role } from '../../src/api/api-key-store.ts';
import type { TestGateway } from '../support/test-gateway.ts';

/** Creates an API key of `role` through the API and returns its secret. */
export async function createKey(
  gw: TestGateway,
  role: Role,
  name = `${role} key`,
): Promise<string> {
  const res = await gw.api('POST', '/v1/api-keys', { name, role });
  if (res.status !== 201)
    throw new Error(`creating a ${role} key failed: ${JSON.stringify(res.body)}`);
  return res.body.secret as string;
}

/** The `issues[].path` of an error reply. */
export function issuePaths(body: { issues?: Array<{ path: string }> }): string[] {
  return (body.issues ?? []).map((i) => i.path);
}
