import { GatewayError } from '../errors.ts';
import type { PostgresPool } from '../store/postgres.ts';
import { columns, inTransaction, prepared } from '../store/postgres.ts';
import { StatementBatcher } from '../store/statement-batcher.ts';
import type {
  Device,
  DeviceCredential,
  DeviceFilter,
  DeviceRegistry,
  NewDevice,
} from './device-registry.ts';
import { type DeviceRow as Row, toDevice } from './device-row.ts';

type DeviceRow = Row<Record<string, string>>;

function credentialColumns(credential: DeviceCredential) {
  switch (credential.kind) {
    case 'token':
      return [credential.tokenHash, null, null, 'token', null];
    case 'jwt':
      return [null, credential.publicKeyPem, credential.alg, 'jwt', null];
    case 'x509':
      return [null, null, null, 'x509', credential.certificateSha256 ?? null];
  }
}

const DEVICE_COLUMNS = columns<Row>({
  id: true,
  type: true,
  labels: true,
  token_hash: true,
  public_key: true,
  key_alg: true,
  auth: true,
  cert_sha256: true,
  created_at: true,
  last_seen_at: true,
  revoked_at: true,
});

// Read on every handshake and command; last-seen times written in batches.
const GET = prepared('devices-get', `SELECT ${DEVICE_COLUMNS} FROM devices WHERE id = $1`);
const BY_TOKEN_HASHES = prepared(
  'devices-by-token-hashes',
  `SELECT ${DEVICE_COLUMNS} FROM devices WHERE token_hash = ANY($1::text[])`,
);
const TOUCH = prepared(
  'devices-touch',
  `UPDATE devices d SET last_seen_at = greatest(coalesce(d.last_seen_at, 0), t.ts)
   FROM unnest($1::text[], $2::bigint[]) AS t(id, ts) WHERE d.id = t.id`,
);

/** Devices in a PostgreSQL database shared by every gateway instance. */
export class PostgresDeviceRegistry implements DeviceRegistry {
  readonly #pool: PostgresPool;
  // Every handshake looks its token up: those of a reconnecting fleet go together.
  readonly #byTokenHash = new StatementBatcher<string, Device | undefined>(async (hashes) => {
    const { rows } = await this.#pool.query<DeviceRow>(BY_TOKEN_HASHES([hashes]));
    const found = new Map(rows.map((row) => [row.token_hash, row]));
    return hashes.map((hash) => {
      const row = found.get(hash);
      return row ? toDevice(row) : undefined;
    });
  });

  constructor(pool: PostgresPool) {
    this.#pool = pool;
  }

  async create(device: NewDevice): Promise<Device> {
    return inTransaction(this.#pool, async (client) => {
      const existing = await client.query<DeviceRow>(
        'SELECT * FROM devices WHERE id = $1 FOR UPDATE',
        [device.id],
      );
      const row = existing.rows[0];
      if (row && row.revoked_at === null) {
        throw new GatewayError('device_exists', `device ${device.id} already exists`);
      }
      // A revoked device's id may be provisioned again: the old row is replaced.
      try {
        const { rows } = await client.query<DeviceRow>(
          `INSERT INTO devices
             (id, type, labels, token_hash, public_key, key_alg, auth, cert_sha256, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (id) DO UPDATE SET type = EXCLUDED.type, labels = EXCLUDED.labels,
             token_hash = EXCLUDED.token_hash, public_key = EXCLUDED.public_key,
             key_alg = EXCLUDED.key_alg, auth = EXCLUDED.auth, cert_sha256 = EXCLUDED.cert_sha256,
             created_at = EXCLUDED.created_at, last_seen_at = NULL, revoked_at = NULL
           RETURNING *`,
          [
            device.id,
            device.type,
            JSON.stringify(device.labels),
            ...credentialColumns(device.credential),
            Date.now(),
          ],
        );
        return toDevice(rows[0] as DeviceRow);
      } catch (err) {
        // Two instances provisioning one id at once: the loser is told it exists.
        if ((err as { code?: string }).code === '23505') {
          throw new GatewayError('device_exists', `device ${device.id} already exists`);
        }
        throw err;
      }
    });
  }

  async get(id: string): Promise<Device | undefined> {
    const { rows } = await this.#pool.query<DeviceRow>(GET([id]));
    return rows[0] ? toDevice(rows[0]) : undefined;
  }

  findByTokenHash(tokenHash: string): Promise<Device | undefined> {
    return this.#byTokenHash.submit(tokenHash);
  }

  async getPublicKey(id: string) {
    const { rows } = await this.#pool.query<DeviceRow>(GET([id]));
    const row = rows[0];
    if (!row?.public_key || !row.key_alg) return undefined;
    return { pem: row.public_key, alg: row.key_alg as 'ES256' | 'RS256' };
  }

  async list(filter: DeviceFilter): Promise<Device[]> {
    const where = ['revoked_at IS NULL'];
    const params: unknown[] = [];
    const p = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    if (filter.type) where.push(`type = ${p(filter.type)}`);
    if (filter.labels && Object.keys(filter.labels).length > 0) {
      where.push(`labels @> ${p(JSON.stringify(filter.labels))}::jsonb`);
    }
    if (filter.ids) {
      if (filter.ids.length === 0) return [];
      where.push(`id = ANY(${p(filter.ids)})`);
    }
    if (filter.after) where.push(`id > ${p(filter.after)}`);
    const limit = filter.limit !== undefined ? `LIMIT ${p(filter.limit)}` : '';
    const { rows } = await this.#pool.query<DeviceRow>(
      // COLLATE "C": ids sort by bytes, as in the embedded registry, so pages match.
      `SELECT * FROM devices WHERE ${where.join(' AND ')} ORDER BY id COLLATE "C" ${limit}`,
      params,
    );
    return rows.map(toDevice);
  }

  async updateLabels(id: string, labels: Readonly<Record<string, string>>) {
    const { rows } = await this.#pool.query<DeviceRow>(
      'UPDATE devices SET labels = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING *',
      [id, JSON.stringify(labels)],
    );
    return rows[0] ? toDevice(rows[0]) : undefined;
  }

  async setCredential(id: string, credential: DeviceCredential) {
    const { rows } = await this.#pool.query<DeviceRow>(
      `UPDATE devices SET token_hash = $2, public_key = $3, key_alg = $4, auth = $5,
         cert_sha256 = $6
       WHERE id = $1 AND revoked_at IS NULL RETURNING *`,
      [id, ...credentialColumns(credential)],
    );
    return rows[0] ? toDevice(rows[0]) : undefined;
  }

  async revoke(id: string): Promise<boolean> {
    const result = await this.#pool.query(
      'UPDATE devices SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL',
      [id, Date.now()],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async touch(seen: ReadonlyMap<string, number>): Promise<void> {
    if (seen.size === 0) return;
    await this.#pool.query(TOUCH([[...seen.keys()], [...seen.values()]]));
  }

  async close(): Promise<void> {
    // The pool is shared with other stores; its owner closes it.
  }
}
