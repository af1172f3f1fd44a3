import { randomUUID } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import { API_KEY_PREFIX, hashesMatch, hashSecret, newSecret } from '../auth/secrets.ts';
import type { SqliteDatabase } from '../store/database.ts';
import type { ApiKey, ApiKeyRow, ApiKeyStore, Role } from './api-key-store.ts';
import { AdminToken, toApiKey } from './api-key-store.ts';

/** The default key store: API keys in the gateway's embedded SQLite database. */
export class SqliteApiKeyStore implements ApiKeyStore {
  readonly #db: SqliteDatabase;
  readonly #byHash: Statement<[string], ApiKeyRow>;
  readonly #admin: AdminToken;

  constructor(db: SqliteDatabase, adminToken: string | undefined) {
    this.#db = db;
    this.#byHash = db.prepare('SELECT * FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL');
    this.#admin = new AdminToken(adminToken);
  }

  async verify(secret: string): Promise<ApiKey | undefined> {
    // Hashed once: the admin token, the lookup and the comparison all take this hash.
    const hash = hashSecret(secret);
    const admin = this.#admin.match(hash);
    if (admin) return admin;
    const row = this.#byHash.get(hash);
    if (!row || !hashesMatch(hash, row.key_hash)) return undefined;
    return toApiKey(row);
  }

  async create(name: string, role: Role): Promise<{ key: ApiKey; secret: string }> {
    const secret = newSecret(API_KEY_PREFIX);
    const id = randomUUID();
    const createdAt = Date.now();
    this.#db
      .prepare('INSERT INTO api_keys (id, name, role, key_hash, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(id, name, role, hashSecret(secret), createdAt);
    return { key: { id, name, role, createdAt }, secret };
  }

  async list(): Promise<ApiKey[]> {
    return (
      this.#db
        .prepare('SELECT * FROM api_keys WHERE revoked_at IS NULL ORDER BY created_at')
        .all() as ApiKeyRow[]
    ).map(toApiKey);
  }

  async revoke(id: string): Promise<boolean> {
    return (
      this.#db
        .prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL')
        .run(Date.now(), id).changes > 0
    );
  }

  async hasAdmin(): Promise<boolean> {
    if (this.#admin.set) return true;
    return (
      this.#db
        .prepare("SELECT 1 FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL LIMIT 1")
        .get() !== undefined
    );
  }
}
