import type { CryptoKey, JWK, KeyObject } from 'jose';
import { importJWK, importPKCS8, SignJWT } from 'jose';

/** Algorithms the gateway accepts for device-signed JWTs. */
export type JwtAlgorithm = 'ES256' | 'RS256';

/** A device that signs its own short-lived JWTs with a key whose public half the gateway has. */
export interface JwtCredentials {
  /** The device id: the JWT's `sub`. */
  readonly deviceId: string;
  readonly alg: JwtAlgorithm;
  /** A PKCS#8 PEM string, a private JWK, or an imported key (WebCrypto `CryptoKey` or Node `KeyObject`). */
  readonly privateKey: string | JWK | CryptoKey | KeyObject;
  /**
   * Lifetime of each JWT. Must not exceed the gateway's `JWT_MAX_TTL_S` (default 86400).
   * @defaultValue 3600
   */
  readonly ttlS?: number;
  /**
   * A JWT with less than this much life left is replaced at the next connect, so a reconnect
   * never presents a JWT that expires during the handshake.
   * @defaultValue 60
   */
  readonly refreshBeforeS?: number;
}

/** Hands the client a credential for each connection attempt. */
export interface CredentialProvider {
  /** The credential to present now. `fresh` forces a new JWT (the gateway said it expired). */
  get(fresh?: boolean): Promise<string>;
  /** Whether a fresh credential could fix a refusal (true for self-signed JWTs). */
  readonly renewable: boolean;
}

/** A device token issued by `POST /v1/devices`: presented as is, never renewed. */
export function tokenCredentials(token: string): CredentialProvider {
  return { get: async () => token, renewable: false };
}

/**
 * Signs JWTs with the device's private key (through WebCrypto, so in browsers too) and reuses
 * each until it is within `refreshBeforeS` of its `exp`.
 */
export function jwtCredentials(
  options: JwtCredentials,
  now: () => number = Date.now,
): CredentialProvider {
  const ttlS = options.ttlS ?? 3600;
  const refreshBeforeS = Math.min(options.refreshBeforeS ?? 60, Math.floor(ttlS / 2));
  let key: Promise<CryptoKey | KeyObject | Uint8Array> | undefined;
  let current: { jwt: string; exp: number } | undefined;

  const loadKey = () => {
    const { privateKey, alg } = options;
    if (typeof privateKey === 'string') return importPKCS8(privateKey, alg);
    if (isJwk(privateKey)) return importJWK(privateKey, alg);
    return Promise.resolve(privateKey);
  };

  return {
    renewable: true,
    async get(fresh = false) {
      const nowS = Math.floor(now() / 1000);
      if (!fresh && current && current.exp - nowS > refreshBeforeS) return current.jwt;
      key ??= loadKey();
      const exp = nowS + ttlS;
      const jwt = await new SignJWT({})
        .setProtectedHeader({ alg: options.alg, typ: 'JWT' })
        .setSubject(options.deviceId)
        .setIssuedAt(nowS)
        .setExpirationTime(exp)
        .sign(await key);
      current = { jwt, exp };
      return jwt;
    },
  };
}

function isJwk(value: unknown): value is JWK {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { kty?: unknown }).kty === 'string' &&
    !('type' in value && 'algorithm' in value)
  );
}
