import type { DeviceSpec, PlannedDevice } from './fleet-plan.ts';

/** Calls to the operator API in flight at once while provisioning. */
const CONCURRENCY = 32;

interface ApiReply {
  readonly status: number;
  readonly body: { token?: string; device?: { type?: string }; error?: string; message?: string };
}

/** Creates the simulator's devices through the operator API. */
export class Provisioner {
  readonly #base: string;
  readonly #adminToken: string;

  constructor(gatewayUrl: string, adminToken: string) {
    this.#base = gatewayUrl.replace(/\/+$/, '');
    this.#adminToken = adminToken;
  }

  async #call(method: string, path: string, body?: unknown): Promise<ApiReply> {
    const res = await fetch(`${this.#base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.#adminToken}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let parsed: ApiReply['body'] = {};
    try {
      parsed = text ? (JSON.parse(text) as ApiReply['body']) : {};
    } catch {
      parsed = { message: text.slice(0, 200) };
    }
    return { status: res.status, body: parsed };
  }

  /**
   * Creates one device and returns its token. A device that already exists (an earlier run) gets
   * its credential rotated instead, which also closes a session left over from that run.
   */
  async provision(device: PlannedDevice): Promise<DeviceSpec> {
    const created = await this.#call('POST', '/v1/devices', {
      id: device.id,
      type: device.type,
      labels: { source: 'simulator' },
    });
    if (created.status === 201 && created.body.token) {
      return { ...device, token: created.body.token };
    }
    if (created.status === 409) {
      const rotated = await this.#call(
        'POST',
        `/v1/devices/${encodeURIComponent(device.id)}/credentials`,
        {},
      );
      if (rotated.status === 200 && rotated.body.token) {
        return {
          id: device.id,
          type: rotated.body.device?.type ?? device.type,
          token: rotated.body.token,
        };
      }
      throw apiError(`rotating the token of ${device.id}`, rotated);
    }
    throw apiError(`creating ${device.id}`, created);
  }

  /** Provisions every device, a few at a time; fails on the first error. */
  async provisionAll(
    devices: readonly PlannedDevice[],
    onProgress?: (done: number) => void,
  ): Promise<DeviceSpec[]> {
    const result: DeviceSpec[] = new Array(devices.length);
    let next = 0;
    let done = 0;
    const worker = async () => {
      while (next < devices.length) {
        const i = next++;
        result[i] = await this.provision(devices[i]!);
        onProgress?.(++done);
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, devices.length) }, worker));
    return result;
  }
}

function apiError(what: string, reply: ApiReply): Error {
  const code = reply.body.error ?? `HTTP ${reply.status}`;
  const hint =
    reply.status === 401 || reply.status === 403
      ? ' (is ADMIN_TOKEN an admin API key of this gateway?)'
      : '';
  return new Error(`${what} failed: ${code}: ${reply.body.message ?? ''}${hint}`);
}
