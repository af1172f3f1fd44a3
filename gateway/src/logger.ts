import type { Logger } from 'pino';
import { pino } from 'pino';
import { prettyDestination } from './pretty-log.ts';

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

/**
 * JSON lines on stdout, or on `destination` (tests capture logs to prove no secret leaks).
 * `format: 'pretty'` writes lines for people instead (main.ts picks it on a terminal).
 */
export function createLogger(
  level: string,
  destination?: { write(line: string): void },
  format: 'json' | 'pretty' = 'json',
): Logger {
  if (format === 'pretty') destination = prettyDestination(destination ?? process.stdout);
  const options = {
    level,
    base: { service: 'iot-gateway' },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
  return destination ? pino(options, destination) : pino(options);
}
