import type { z } from 'zod';

/** A validation problem in the shape of an `error` frame issue, plus zod's code. */
export interface FormattedIssue {
  /** Dotted path, e.g. `readings.0.ts`; `""` for the value itself. */
  path: string;
  message: string;
  /** zod's issue code: `invalid_type`, `too_big`, `unrecognized_keys`, ... */
  code: string;
}

function segment(key: PropertyKey): string {
  return typeof key === 'symbol' ? (key.description ?? 'symbol') : String(key);
}

/**
 * Flattens zod issues into `{path, message, code}` for `error` frames and API bodies.
 *
 * @param source - a `ZodError` (from `safeParse`) or its `issues`
 * @param limit - keep at most this many (an `error` frame carries at most
 *   `PROTOCOL_LIMITS.maxErrorIssues`); all by default
 */
export function formatIssues(
  source: z.core.$ZodError | readonly z.core.$ZodIssue[],
  limit = Number.POSITIVE_INFINITY,
): FormattedIssue[] {
  const issues = 'issues' in source ? source.issues : source;
  return issues.slice(0, limit).map((issue) => ({
    path: issue.path.map(segment).join('.'),
    message: issue.message,
    code: issue.code,
  }));
}

/** One line per issue, `path: message`, for error messages meant for people. */
export function describeIssues(issues: readonly FormattedIssue[]): string {
  return issues.map((issue) => `  - ${issue.path || '(root)'}: ${issue.message}`).join('\n');
}
