import { randomBytes } from 'node:crypto';

/**
 * The default INSTANCE_ID: the host name (cut to what an id may hold) and a random suffix made
 * at each start, so a restarted instance never mistakes the sessions of its previous life, which
 * the others settle when its old lease runs out, for its own.
 */
export function defaultInstanceId(hostname: string): string {
  const host =
    hostname
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .replace(/^[^A-Za-z0-9]+/, '')
      .slice(0, 48) || 'gateway';
  return `${host}-${randomBytes(4).toString('hex')}`;
}
