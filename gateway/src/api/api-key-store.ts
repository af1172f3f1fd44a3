import { randomUUID } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import { API_KEY_PREFIX, hashSecret, newSecret, secretMatches } from '../auth/secrets.ts';
import type { SqliteDatabase } from '../store/database.ts';

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

interface ApiKeyRow {
  id: string;
  name: string;
  role: Role;
  key_hash: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

const toKey = (row: ApiKeyRow): ApiKey => ({
  id: row.id,
  name: row.name,
  role: row.role,
  createdAt: row.created_at,
  ...(row.last_used_at !== null ? { lastUsedAt: row.last_used_at } : {}),
});

/**
 * Operator API keys, stored as SHA-256 hashes of 256-bit random secrets. The ADMIN_TOKEN setting
 * is an extra admin key that lives only in the configuration (its hash in memory).
 */
export class ApiKeyStore {
  readonly #db: SqliteDatabase;
  readonly #byHash: Statement<[string], ApiKeyRow>;
  readonly #adminTokenHash: string | undefined;

  constructor(db: SqliteDatabase, adminToken: string | undefined) {
    this.#db = db;
    this.#byHash = db.prepare('SELECT * FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL');
    this.#adminTokenHash = adminToken ? hashSecret(adminToken) : undefined;
  }

  /** The key a bearer secret belongs to, or undefined. */
  verify(secret: string): ApiKey | undefined {
    if (this.#adminTokenHash && secretMatches(secret, this.#adminTokenHash)) {
      return { id: 'admin-token', name: 'ADMIN_TOKEN', role: 'admin', createdAt: 0 };
    }
    const hash = hashSecret(secret);
    const row = this.#byHash.get(hash);
    if (!row || !secretMatches(secret, row.key_hash)) return undefined;
    return toKey(row);
  }

  /** Creates a key; the secret is returned once and only its hash is kept. */
  create(name: string, role: Role): { key: ApiKey; secret: string } {
    const secret = newSecret(API_KEY_PREFIX);
    const id = randomUUID();
    const createdAt = Date.now();
    this.#db
      .prepare('INSERT INTO api_keys (id, name, role, key_hash, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(id, name, role, hashSecret(secret), createdAt);
    return { key: { id, name, role, createdAt }, secret };
  }

  list(): ApiKey[] {
    return (
      this.#db
        .prepare('SELECT * FROM api_keys WHERE revoked_at IS NULL ORDER BY created_at')
        .all() as ApiKeyRow[]
    ).map(toKey);
  }

  revoke(id: string): boolean {
    return (
      this.#db
        .prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL')
        .run(Date.now(), id).changes > 0
    );
  }

  /** True when some admin credential exists (ADMIN_TOKEN or a stored admin key). */
  hasAdmin(): boolean {
    if (this.#adminTokenHash) return true;
    return (
      this.#db
        .prepare("SELECT 1 FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL LIMIT 1")
        .get() !== undefined
    );
  }
}
