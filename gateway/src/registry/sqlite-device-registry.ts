import type { Statement } from 'better-sqlite3';
import { GatewayError } from '../errors.ts';
import { BOUND_LIMIT, type SqliteDatabase } from '../store/database.ts';
import type {
  Device,
  DeviceCredential,
  DeviceFilter,
  DeviceRegistry,
  NewDevice,
} from './device-registry.ts';
import { type DeviceRow, toDevice } from './device-row.ts';

function credentialColumns(credential: DeviceCredential) {
  const none = { token_hash: null, public_key: null, key_alg: null, auth: null, cert_sha256: null };
  switch (credential.kind) {
    case 'token':
      return { ...none, token_hash: credential.tokenHash, auth: 'token' };
    case 'jwt':
      return { ...none, public_key: credential.publicKeyPem, key_alg: credential.alg, auth: 'jwt' };
    case 'x509':
      return { ...none, auth: 'x509', cert_sha256: credential.certificateSha256 ?? null };
  }
}

/** The default registry: devices in the gateway's embedded SQLite database. */
export class SqliteDeviceRegistry implements DeviceRegistry {
  readonly #db: SqliteDatabase;
  readonly #get: Statement<[string], DeviceRow>;
  readonly #byToken: Statement<[string], DeviceRow>;
  readonly #touch: Statement<[number, string]>;

  constructor(db: SqliteDatabase) {
    this.#db = db;
    this.#get = db.prepare('SELECT * FROM devices WHERE id = ?');
    this.#byToken = db.prepare('SELECT * FROM devices WHERE token_hash = ?');
    this.#touch = db.prepare(
      'UPDATE devices SET last_seen_at = max(coalesce(last_seen_at, 0), ?) WHERE id = ?',
    );
  }

  async create(device: NewDevice): Promise<Device> {
    const now = Date.now();
    const insert = this.#db.transaction(() => {
      const existing = this.#get.get(device.id);
      if (existing && existing.revoked_at === null) {
        throw new GatewayError('device_exists', `device ${device.id} already exists`);
      }
      // A revoked device's id may be provisioned again: the old row is replaced.
      this.#db
        .prepare(
          `INSERT OR REPLACE INTO devices
             (id, type, labels, token_hash, public_key, key_alg, auth, cert_sha256, created_at)
           VALUES
             (@id, @type, @labels, @token_hash, @public_key, @key_alg, @auth, @cert_sha256, @created_at)`,
        )
        .run({
          id: device.id,
          type: device.type,
          labels: JSON.stringify(device.labels),
          created_at: now,
          ...credentialColumns(device.credential),
        });
    });
    insert();
    return toDevice(this.#get.get(device.id) as DeviceRow);
  }

  async get(id: string): Promise<Device | undefined> {
    const row = this.#get.get(id);
    return row ? toDevice(row) : undefined;
  }

  async findByTokenHash(tokenHash: string): Promise<Device | undefined> {
    const row = this.#byToken.get(tokenHash);
    return row ? toDevice(row) : undefined;
  }

  async getPublicKey(id: string) {
    const row = this.#get.get(id);
    if (!row?.public_key || !row.key_alg) return undefined;
    return { pem: row.public_key, alg: row.key_alg as 'ES256' | 'RS256' };
  }

  async list(filter: DeviceFilter): Promise<Device[]> {
    const where = ['revoked_at IS NULL'];
    const params: unknown[] = [];
    if (filter.type) {
      where.push('type = ?');
      params.push(filter.type);
    }
    for (const [key, value] of Object.entries(filter.labels ?? {})) {
      where.push('json_extract(labels, ?) = ?');
      params.push(`$."${key}"`, value);
    }
    if (filter.ids) {
      if (filter.ids.length === 0) return [];
      where.push(`id IN (${filter.ids.map(() => '?').join(',')})`);
      params.push(...filter.ids);
    }
    if (filter.after) {
      where.push('id > ?');
      params.push(filter.after);
    }
    const limit = filter.limit ?? -1;
    const rows = this.#db
      .prepare(`SELECT * FROM devices WHERE ${where.join(' AND ')} ORDER BY id ${BOUND_LIMIT}`)
      .all(...params, limit) as DeviceRow[];
    return rows.map(toDevice);
  }

  async updateLabels(id: string, labels: Readonly<Record<string, string>>) {
    const result = this.#db
      .prepare('UPDATE devices SET labels = ? WHERE id = ? AND revoked_at IS NULL')
      .run(JSON.stringify(labels), id);
    return result.changes === 0 ? undefined : this.get(id);
  }

  async setCredential(id: string, credential: DeviceCredential) {
    const cols = credentialColumns(credential);
    const result = this.#db
      .prepare(
        `UPDATE devices SET token_hash = @token_hash, public_key = @public_key, key_alg = @key_alg,
           auth = @auth, cert_sha256 = @cert_sha256
         WHERE id = @id AND revoked_at IS NULL`,
      )
      .run({ id, ...cols });
    return result.changes === 0 ? undefined : this.get(id);
  }

  async revoke(id: string): Promise<boolean> {
    const result = this.#db
      .prepare('UPDATE devices SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL')
      .run(Date.now(), id);
    return result.changes > 0;
  }

  async touch(seen: ReadonlyMap<string, number>): Promise<void> {
    if (seen.size === 0) return;
    this.#db.transaction(() => {
      for (const [id, ts] of seen) this.#touch.run(ts, id);
    })();
  }

  async close(): Promise<void> {
    // The database is shared with other stores; its owner closes it.
  }
}
