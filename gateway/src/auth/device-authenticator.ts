import type { KeyObject } from 'node:crypto';
import { createPublicKey } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { PeerCertificate } from 'node:tls';
import { decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import type { HandshakeErrorCode } from '../errors.ts';
import type { Device, DeviceRegistry } from '../registry/device-registry.ts';
import { DEVICE_TOKEN_PREFIX, hashSecret, looksLikeSecret } from './secrets.ts';

/** The subprotocol the gateway speaks; browsers offer it beside `bearer.<credential>`. */
export const PROTOCOL_V1 = 'iot-gateway.v1';
/** Browsers cannot set headers on a WebSocket, but they can offer subprotocols. */
export const BEARER_SUBPROTOCOL_PREFIX = 'bearer.';

export type AuthResult =
  | { readonly ok: true; readonly device: Device; readonly via: 'token' | 'jwt' | 'x509' }
  | {
      readonly ok: false;
      readonly reason: HandshakeErrorCode;
      readonly message: string;
      /** For the server log only: what exactly was wrong, which the client is not told. */
      readonly detail?: string;
    };

/** The client certificate of a TLS connection, as the TLS server judged it. */
export interface PeerIdentity {
  readonly certificate: PeerCertificate;
  /** True when it chains to TLS_CLIENT_CA_FILE and is within its validity. */
  readonly authorized: boolean;
  readonly authorizationError?: string | undefined;
}

const JWT_PATTERN = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const ALLOWED_ALGS = new Set(['ES256', 'RS256']);
// Leeway for devices whose clocks drift a little; bounded so stolen tokens die soon.
const CLOCK_TOLERANCE_S = 30;

function fail(reason: HandshakeErrorCode, message: string): AuthResult {
  return { ok: false, reason, message };
}

/** Finds the credential in the upgrade request: the Authorization header, else a subprotocol. */
export function extractCredential(headers: IncomingHttpHeaders): string | undefined {
  const authorization = headers.authorization;
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    // An Authorization header that is not a bearer credential counts as malformed, not missing.
    return match ? match[1] : '';
  }
  const offered = headers['sec-websocket-protocol'];
  if (offered) {
    for (const protocol of offered.split(',')) {
      const p = protocol.trim();
      if (p.startsWith(BEARER_SUBPROTOCOL_PREFIX)) return p.slice(BEARER_SUBPROTOCOL_PREFIX.length);
    }
  }
  return undefined;
}

/**
 * Checks a device's credential: a random token (looked up by its hash, compared in constant time)
 * or a JWT signed by the device's own key, whose `sub` names the device. The device's identity
 * comes from here only, never from what it sends later.
 */
export class DeviceAuthenticator {
  readonly #registry: DeviceRegistry;
  readonly #maxTtlS: number;
  readonly #keys = new Map<string, { pem: string; key: KeyObject }>();

  constructor(registry: DeviceRegistry, options: { jwtMaxTtlS: number }) {
    this.#registry = registry;
    this.#maxTtlS = options.jwtMaxTtlS;
  }

  /**
   * A bearer credential (token or JWT) decides when there is one; otherwise a client
   * certificate, for devices provisioned with `auth: "x509"` only. A certificate never stands in
   * for the token or JWT of a device provisioned with one.
   */
  async authenticate(headers: IncomingHttpHeaders, peer?: PeerIdentity): Promise<AuthResult> {
    const credential = extractCredential(headers);
    if (credential === undefined) {
      if (peer) return this.#x509(peer);
      return fail('missing_credentials', 'no credentials presented');
    }
    if (credential === '') return fail('malformed_credentials', 'expected `Bearer <credential>`');

    let result: AuthResult;
    if (looksLikeSecret(credential, DEVICE_TOKEN_PREFIX)) result = await this.#token(credential);
    else if (JWT_PATTERN.test(credential)) result = await this.#jwt(credential);
    else return fail('malformed_credentials', 'the credential is neither a device token nor a JWT');

    const claimed = headers['x-device-id'];
    if (result.ok && typeof claimed === 'string' && claimed !== result.device.id) {
      return fail('device_mismatch', 'X-Device-Id does not match the credential');
    }
    return result;
  }

  async #x509(peer: PeerIdentity): Promise<AuthResult> {
    // One answer for every refusal, so a certificate cannot probe which devices exist.
    const rejected = (detail: string) => ({
      ...fail('certificate_rejected', 'the client certificate authenticates no device'),
      detail,
    });
    const cn = peer.certificate.subject?.CN;
    const id = Array.isArray(cn) ? undefined : cn;
    if (!id) return rejected('the certificate has no single subject CN');
    const device = await this.#registry.get(id);
    if (!device || device.revokedAt !== undefined) return rejected(`no live device ${id}`);
    if (device.auth !== 'x509') return rejected(`device ${id} authenticates with a ${device.auth}`);
    const validTo = Date.parse(peer.certificate.valid_to);
    const validFrom = Date.parse(peer.certificate.valid_from);
    const now = Date.now();
    if (!(validFrom <= now && now <= validTo))
      return rejected(`the certificate of ${id} is not valid now`);
    if (device.certificateSha256 !== undefined) {
      const fingerprint = peer.certificate.fingerprint256.replace(/:/g, '').toLowerCase();
      if (fingerprint !== device.certificateSha256) {
        return rejected(`the certificate of ${id} is not the pinned one`);
      }
    } else if (!peer.authorized) {
      return rejected(
        `the certificate of ${id} does not chain to TLS_CLIENT_CA_FILE (${peer.authorizationError ?? 'unknown'})`,
      );
    }
    return { ok: true, device, via: 'x509' };
  }

  async #token(token: string): Promise<AuthResult> {
    // Hashed once per handshake. The lookup is by the exact hash (a unique index on bytes, in
    // both registries), which is the comparison: the registry never hands a device's hash out.
    const device = await this.#registry.findByTokenHash(hashSecret(token));
    if (!device) return fail('invalid_token', 'unknown token');
    if (device.revokedAt !== undefined) return fail('revoked', 'the device was deleted');
    return { ok: true, device, via: 'token' };
  }

  async #jwt(jwt: string): Promise<AuthResult> {
    let alg: unknown;
    let sub: unknown;
    try {
      alg = decodeProtectedHeader(jwt).alg;
      sub = decodeJwt(jwt).sub;
    } catch {
      return fail('malformed_credentials', 'the JWT cannot be decoded');
    }
    if (typeof alg !== 'string' || !ALLOWED_ALGS.has(alg)) {
      return fail('unsupported_algorithm', `JWT algorithm ${String(alg)} is not accepted`);
    }
    if (typeof sub !== 'string' || sub === '') {
      return fail('malformed_credentials', 'the JWT needs `sub` set to the device id');
    }
    // Every refusal below gets the same answer, so that a JWT naming any `sub` cannot tell
    // whether that device exists, was deleted, or which kind of key it has. The log says which.
    const refused = (detail: string) => ({
      ...fail('invalid_token', 'the JWT does not authenticate any device'),
      detail,
    });
    const device = await this.#registry.get(sub);
    if (!device) return refused(`no device ${sub}`);
    if (device.revokedAt !== undefined) return refused(`device ${sub} was deleted`);
    const stored = await this.#registry.getPublicKey(sub);
    if (!stored) return refused(`device ${sub} has no public key`);
    if (stored.alg !== alg)
      return refused(`device ${sub}'s key is ${stored.alg}, the JWT says ${alg}`);

    let cached = this.#keys.get(sub);
    if (cached?.pem !== stored.pem) {
      cached = { pem: stored.pem, key: createPublicKey(stored.pem) };
      this.#keys.set(sub, cached);
    }
    try {
      const { payload } = await jwtVerify(jwt, cached.key, {
        algorithms: [stored.alg],
        subject: sub,
        requiredClaims: ['exp'],
        clockTolerance: CLOCK_TOLERANCE_S,
      });
      const now = Math.floor(Date.now() / 1000);
      const issuedAt = typeof payload.iat === 'number' ? Math.min(payload.iat, now) : now;
      if ((payload.exp as number) - issuedAt > this.#maxTtlS) {
        return fail('token_lifetime_too_long', `JWT lifetime exceeds ${this.#maxTtlS} s`);
      }
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) return fail('token_expired', 'the JWT has expired');
      if (err instanceof joseErrors.JWTClaimValidationFailed) {
        return fail(
          err.claim === 'exp' ? 'token_expired' : 'malformed_credentials',
          `JWT claim ${err.claim}: ${err.reason}`,
        );
      }
      if (err instanceof joseErrors.JOSEAlgNotAllowed) {
        return fail('unsupported_algorithm', 'JWT algorithm not accepted');
      }
      return refused(`the JWT is not signed by the key of ${sub}`);
    }
    return { ok: true, device, via: 'jwt' };
  }

  /** Drops a cached key, e.g. after the device's credential was rotated. */
  forget(deviceId: string): void {
    this.#keys.delete(deviceId);
  }
}
