import { randomUUID } from 'node:crypto';
import { API_KEY_PREFIX, hashesMatch, hashSecret, newSecret } from '../auth/secrets.ts';
import type { PostgresPool } from '../store/postgres.ts';
import { columns, prepared } from '../store/postgres.ts';
import type { ApiKey, ApiKeyRow, ApiKeyStore, Role } from './api-key-store.ts';
import { AdminToken, toApiKey } from './api-key-store.ts';

// Every operator request.
const BY_HASH = prepared(
  'api-keys-by-hash',
  `SELECT ${columns<ApiKeyRow>({
    id: true,
    name: true,
    role: true,
    key_hash: true,
    created_at: true,
    last_used_at: true,
    revoked_at: true,
  })} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`,
);

/** API keys in a PostgreSQL database shared by every gateway instance. */
export class PostgresApiKeyStore implements ApiKeyStore {
  readonly #pool: PostgresPool;
  readonly #admin: AdminToken;

  constructor(pool: PostgresPool, adminToken: string | undefined) {
    this.#pool = pool;
    this.#admin = new AdminToken(adminToken);
  }

  async verify(secret: string): Promise<ApiKey | undefined> {
    // Hashed once: the admin token, the lookup and the comparison all take this hash.
    const hash = hashSecret(secret);
    const admin = this.#admin.match(hash);
    if (admin) return admin;
    const { rows } = await this.#pool.query<ApiKeyRow>(BY_HASH([hash]));
    const row = rows[0];
    if (!row || !hashesMatch(hash, row.key_hash)) return undefined;
    return toApiKey(row);
  }

  async create(name: string, role: Role): Promise<{ key: ApiKey; secret: string }> {
    const secret = newSecret(API_KEY_PREFIX);
    const id = randomUUID();
    const createdAt = Date.now();
    await this.#pool.query(
      'INSERT INTO api_keys (id, name, role, key_hash, created_at) VALUES ($1, $2, $3, $4, $5)',
      [id, name, role, hashSecret(secret), createdAt],
    );
    return { key: { id, name, role, createdAt }, secret };
  }

  async list(): Promise<ApiKey[]> {
    const { rows } = await this.#pool.query<ApiKeyRow>(
      'SELECT * FROM api_keys WHERE revoked_at IS NULL ORDER BY created_at, id',
    );
    return rows.map(toApiKey);
  }

  async revoke(id: string): Promise<boolean> {
    const result = await this.#pool.query(
      'UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL',
      [id, Date.now()],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async hasAdmin(): Promise<boolean> {
    if (this.#admin.set) return true;
    const { rows } = await this.#pool.query(
      "SELECT 1 FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL LIMIT 1",
    );
    return rows.length > 0;
  }
}
