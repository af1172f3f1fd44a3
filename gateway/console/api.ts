/** The operator API, called with the key of this browser tab. */

const KEY = 'iot-gateway.api-key';

/**
 * The API key lives in sessionStorage only: it survives a reload of the tab, dies with it, and is
 * never put in a URL or a cookie.
 */
export const credentials = {
  get(): string | null {
    return sessionStorage.getItem(KEY);
  },
  set(key: string): void {
    sessionStorage.setItem(KEY, key);
  },
  clear(): void {
    sessionStorage.removeItem(KEY);
  },
  /** Signing out forgets the key and everything else the console kept for this tab. */
  forgetAll(): void {
    for (const name of Object.keys(sessionStorage)) {
      if (name.startsWith('iot-gateway.')) sessionStorage.removeItem(name);
    }
  },
};

export interface Issue {
  readonly path: string;
  readonly message: string;
}

/** An API error reply: `{error, message, hint, issues}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: readonly Issue[] = [],
  ) {
    super(message);
  }
}

/** Called when the key stops working (revoked, or signed out elsewhere). */
let onUnauthorized: () => void = () => {};
export function whenUnauthorized(fn: () => void): void {
  onUnauthorized = fn;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const key = credentials.get();
  const headers: Record<string, string> = {};
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let parsed: Record<string, unknown> | undefined;
  try {
    parsed = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  } catch {
    // A proxy's HTML error page, say: the status tells what happened.
  }
  if (!res.ok) {
    const err = new ApiError(
      res.status,
      String(parsed?.error ?? 'http_error'),
      String(parsed?.message ?? res.statusText),
      (parsed?.issues as Issue[] | undefined) ?? [],
    );
    if (res.status === 401 && key) onUnauthorized();
    throw err;
  }
  return parsed as T;
}

export type Role = 'viewer' | 'operator' | 'admin';

export interface KeyInfo {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly createdAt: string;
  readonly lastUsedAt?: string;
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };
export const may = (have: Role, need: Role) => RANK[have] >= RANK[need];

export interface Device {
  readonly id: string;
  readonly type: string;
  readonly labels: Record<string, string>;
  readonly online: boolean;
  readonly lastSeenAt?: string;
  readonly createdAt: string;
  readonly auth: string;
  readonly session?: { id: string; connectedAt: string; inFlight: number };
  readonly latest?: { ts: string; metrics: Record<string, unknown> };
}

export interface Command {
  readonly id: string;
  readonly deviceId: string;
  readonly name: string;
  readonly params: Record<string, unknown>;
  readonly state: string;
  readonly source: string;
  readonly fleetId?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly result?: unknown;
  readonly error?: unknown;
}

export interface FleetCommand {
  readonly id: string;
  readonly name: string;
  readonly params: Record<string, unknown>;
  readonly selector: Record<string, unknown>;
  readonly createdAt: string;
  readonly targeted: number;
  readonly skipped: { count: number; devices: Array<{ deviceId: string; reason: string }> };
  readonly states: Record<string, number>;
  readonly done: boolean;
}

export interface TypeSummary {
  readonly name: string;
  readonly description: string;
  readonly metrics: string[];
  readonly commands: string[];
}

/** A JSON Schema property as the gateway's device type schemas write them. */
export interface PropertySchema {
  readonly type?: 'number' | 'integer' | 'string' | 'boolean';
  readonly description?: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly enum?: ReadonlyArray<string | number>;
  readonly pattern?: string;
  readonly maxLength?: number;
}

export interface ObjectSchema {
  readonly description?: string;
  readonly properties?: Record<string, PropertySchema>;
  readonly required?: string[];
}

export interface TypeSchema {
  readonly $defs: Record<string, ObjectSchema>;
}

const schemas = new Map<string, Promise<TypeSchema>>();
/** A device type's JSON Schema, fetched once. */
export function typeSchema(type: string): Promise<TypeSchema> {
  let found = schemas.get(type);
  if (!found) {
    found = api<TypeSchema>('GET', `/v1/schemas/${encodeURIComponent(type)}`);
    found.catch(() => schemas.delete(type));
    schemas.set(type, found);
  }
  return found;
}

let types: Promise<TypeSummary[]> | undefined;
export function deviceTypes(): Promise<TypeSummary[]> {
  types ??= api<{ types: TypeSummary[] }>('GET', '/v1/schemas').then((r) => r.types);
  types.catch(() => {
    types = undefined;
  });
  return types;
}

/** The device of a single-device answer (`{device}`; older gateways answered it bare). */
export function unwrapDevice(body: { device?: Device } | Device): Device {
  return 'device' in body && body.device ? body.device : (body as Device);
}
