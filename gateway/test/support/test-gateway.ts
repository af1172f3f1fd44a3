import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../src/config.ts';
import { loadConfig } from '../../src/config.ts';
import type { Gateway } from '../../src/gateway.ts';
import { startGateway } from '../../src/gateway.ts';
import { createLogger } from '../../src/logger.ts';
import type { TelemetrySink } from '../../src/sink/telemetry-sink.ts';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

export interface TestGateway extends Gateway {
  readonly dataDir: string;
  /** Calls the operator API with the admin key unless `token` says otherwise. */
  api(
    method: string,
    path: string,
    body?: unknown,
    token?: string | null,
  ): Promise<{ status: number; body: any; headers: Headers }>;
  /** Provisions a device and returns its token. */
  provision(id: string, type?: string, labels?: Record<string, string>): Promise<string>;
  /** Closes the gateway and removes its data directory (unless `keepData`). */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

/** Starts a gateway on a free port with a temporary data directory and quiet logs. */
export async function startTestGateway(
  env: Record<string, string> = {},
  options: { dataDir?: string; sink?: TelemetrySink; logs?: string[] } = {},
): Promise<TestGateway> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'iot-gateway-test-'));
  const config: Config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    DATA_DIR: dataDir,
    ADMIN_TOKEN,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    SPOOL_FSYNC: 'none',
    ...env,
  });
  const gateway = await startGateway({
    config,
    logger: options.logs
      ? createLogger(config.LOG_LEVEL, { write: (line) => options.logs?.push(line) })
      : createLogger(config.LOG_LEVEL),
    defaultMetrics: false,
    ...(options.sink ? { sink: options.sink } : {}),
  });
  const api: TestGateway['api'] = async (method, path, body, token = ADMIN_TOKEN) => {
    const headers: Record<string, string> = {};
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${gateway.url}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON (e.g. /metrics); keep the text.
    }
    return { status: res.status, body: parsed, headers: res.headers };
  };
  const provision: TestGateway['provision'] = async (id, type = 'thermostat', labels) => {
    const res = await api('POST', '/v1/devices', { id, type, ...(labels ? { labels } : {}) });
    if (res.status !== 201)
      throw new Error(`provisioning ${id} failed: ${JSON.stringify(res.body)}`);
    return res.body.token as string;
  };
  let stopped = false;
  const stop: TestGateway['stop'] = async ({ keepData = false } = {}) => {
    if (!stopped) {
      stopped = true;
      await gateway.close();
    }
    if (!keepData && !options.dataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  return { ...gateway, dataDir, api, provision, stop };
}
