import type { Logger } from 'pino';
import { pino } from 'pino';

export type { Logger };

/**
 * Paths that may hold a secret. pino removes them before a line is written, so a credential can
 * never reach a log file even when a request object is logged whole.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["sec-websocket-protocol"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["sec-websocket-protocol"]',
  'token',
  'apiKey',
  'key',
  '*.token',
  '*.apiKey',
];

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'iot-gateway' },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  });
}
