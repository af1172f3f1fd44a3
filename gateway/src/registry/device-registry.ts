/** A provisioned device as the registry knows it. Never holds a secret. */
export interface Device {
  readonly id: string;
  readonly type: string;
  readonly labels: Readonly<Record<string, string>>;
  /** How the device authenticates: a token, JWTs it signs, or its X.509 client certificate. */
  readonly auth: 'token' | 'jwt' | 'x509';
  /** SHA-256 of the one certificate an X.509 device may use (lowercase hex), when pinned. */
  readonly certificateSha256?: string;
  /** The JWT algorithm of the device's public key, when it uses JWTs. */
  readonly keyAlg?: 'ES256' | 'RS256';
  readonly createdAt: number;
  readonly lastSeenAt?: number;
  readonly revokedAt?: number;
}

/** The credential a device is provisioned with: the hash of a token, or a public key. */
export type DeviceCredential =
  | { readonly kind: 'token'; readonly tokenHash: string }
  | { readonly kind: 'jwt'; readonly publicKeyPem: string; readonly alg: 'ES256' | 'RS256' }
  /** A certificate whose subject CN is the device id, chained to TLS_CLIENT_CA_FILE or pinned. */
  | { readonly kind: 'x509'; readonly certificateSha256?: string | undefined };

export interface DeviceFilter {
  readonly type?: string;
  /** Every label given must match. */
  readonly labels?: Readonly<Record<string, string>>;
  readonly ids?: readonly string[];
  /** Return devices with ids after this one (keyset pagination). */
  readonly after?: string;
  readonly limit?: number;
}

export interface NewDevice {
  readonly id: string;
  readonly type: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly credential: DeviceCredential;
}

/**
 * Where provisioned devices live. The embedded SQLite registry is the default; the interface is
 * kept small and asynchronous so a shared PostgreSQL registry can serve several gateways.
 */
export interface DeviceRegistry {
  /** Throws a `device_exists` GatewayError when a live device has the id. */
  create(device: NewDevice): Promise<Device>;
  /** Revoked devices are returned too, with `revokedAt` set. */
  get(id: string): Promise<Device | undefined>;
  findByTokenHash(tokenHash: string): Promise<Device | undefined>;
  getPublicKey(id: string): Promise<{ pem: string; alg: 'ES256' | 'RS256' } | undefined>;
  /** Live (not revoked) devices, ordered by id. */
  list(filter: DeviceFilter): Promise<Device[]>;
  updateLabels(id: string, labels: Readonly<Record<string, string>>): Promise<Device | undefined>;
  setCredential(id: string, credential: DeviceCredential): Promise<Device | undefined>;
  /** Marks the device revoked; returns false when there was no live device. */
  revoke(id: string): Promise<boolean>;
  /** Records when devices were last seen; batched by the caller. */
  touch(seen: ReadonlyMap<string, number>): Promise<void>;
  close(): Promise<void>;
}
