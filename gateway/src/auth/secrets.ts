import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Prefixes make leaked secrets recognisable to people and secret scanners. */
export const DEVICE_TOKEN_PREFIX = 'dtk_';
export const API_KEY_PREFIX = 'gwk_';

const SECRET_BYTES = 32;
const SECRET_PATTERN = /^(dtk|gwk)_[A-Za-z0-9_-]{43}$/;

/** A fresh random secret with 256 bits of entropy. */
export function newSecret(prefix: string): string {
  return prefix + randomBytes(SECRET_BYTES).toString('base64url');
}

/**
 * Secrets are 256-bit random values, so a plain SHA-256 is enough to store them: there is no
 * dictionary to attack, and a slow password hash would only slow every connect.
 */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Constant-time comparison of a presented secret with a stored hash. */
export function secretMatches(secret: string, storedHash: string): boolean {
  return hashesMatch(hashSecret(secret), storedHash);
}

/**
 * Constant-time comparison of two hashes (hex), for a caller that hashed the presented secret
 * once already: one SHA-256 per request, however many places it is checked against.
 */
export function hashesMatch(presentedHash: string, storedHash: string): boolean {
  const presented = Buffer.from(presentedHash, 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}

export function looksLikeSecret(value: string, prefix: string): boolean {
  return value.startsWith(prefix) && SECRET_PATTERN.test(value);
}
