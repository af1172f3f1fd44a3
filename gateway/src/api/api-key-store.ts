import { hashesMatch, hashSecret } from '../auth/secrets.ts';

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Whether a key with role `have` may do what needs role `need`. */
export function roleAllows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

export interface ApiKey {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly createdAt: number;
  readonly lastUsedAt?: number;
}

/**
 * Operator API keys, stored as SHA-256 hashes of 256-bit random secrets. The ADMIN_TOKEN setting
 * is an extra admin key that lives only in the configuration (its hash in memory). The embedded
 * SQLite store is the default; the interface is asynchronous so a shared PostgreSQL store can
 * serve several gateways.
 */
export interface ApiKeyStore {
  /** The key a bearer secret belongs to, or undefined. */
  verify(secret: string): Promise<ApiKey | undefined>;
  /** Creates a key; the secret is returned once and only its hash is kept. */
  create(name: string, role: Role): Promise<{ key: ApiKey; secret: string }>;
  /** Live keys, oldest first. */
  list(): Promise<ApiKey[]>;
  /** Revokes a live key; false when there was none. */
  revoke(id: string): Promise<boolean>;
  /** True when some admin credential exists (ADMIN_TOKEN or a stored admin key). */
  hasAdmin(): Promise<boolean>;
}

/** The ADMIN_TOKEN key, which both stores answer for before looking at stored keys. */
export class AdminToken {
  readonly #hash: string | undefined;

  constructor(adminToken: string | undefined) {
    this.#hash = adminToken ? hashSecret(adminToken) : undefined;
  }

  get set(): boolean {
    return this.#hash !== undefined;
  }

  /** The admin key, when `secretHash` (the presented secret's {@link hashSecret}) is its hash. */
  match(secretHash: string): ApiKey | undefined {
    if (this.#hash && hashesMatch(secretHash, this.#hash)) {
      return { id: 'admin-token', name: 'ADMIN_TOKEN', role: 'admin', createdAt: 0 };
    }
    return undefined;
  }
}

/** The stored form of a key, as both stores read it. */
export interface ApiKeyRow {
  id: string;
  name: string;
  role: Role;
  key_hash: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

export const toApiKey = (row: ApiKeyRow): ApiKey => ({
  id: row.id,
  name: row.name,
  role: row.role,
  createdAt: row.created_at,
  ...(row.last_used_at !== null ? { lastUsedAt: row.last_used_at } : {}),
});
