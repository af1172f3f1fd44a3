// A devices-table row as both registries read it, and its mapping to a Device: one definition
// for SQLite (labels as JSON text) and PostgreSQL (labels as jsonb, already an object).
import type { Device } from './device-registry.ts';

export interface DeviceRow<Labels = string> {
  id: string;
  type: string;
  labels: Labels;
  token_hash: string | null;
  public_key: string | null;
  key_alg: string | null;
  auth: string | null;
  cert_sha256: string | null;
  created_at: number;
  last_seen_at: number | null;
  revoked_at: number | null;
}

export function toDevice(row: DeviceRow<string | Record<string, string>>): Device {
  return {
    id: row.id,
    type: row.type,
    labels:
      typeof row.labels === 'string'
        ? (JSON.parse(row.labels) as Record<string, string>)
        : row.labels,
    auth: row.auth === 'x509' ? 'x509' : row.public_key ? 'jwt' : 'token',
    ...(row.key_alg ? { keyAlg: row.key_alg as 'ES256' | 'RS256' } : {}),
    ...(row.cert_sha256 ? { certificateSha256: row.cert_sha256 } : {}),
    createdAt: row.created_at,
    ...(row.last_seen_at !== null ? { lastSeenAt: row.last_seen_at } : {}),
    ...(row.revoked_at !== null ? { revokedAt: row.revoked_at } : {}),
  };
}
