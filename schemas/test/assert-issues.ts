import assert from 'node:assert/strict';
import type { z } from 'zod';
import { type FormattedIssue, formatIssues } from '../src/index.ts';

/** The issue fields the tests pin: what a device reads in an `error` frame. */
export interface ExpectedIssue {
  path: string;
  code: string;
  message?: RegExp;
}

/** Parses `value`, fails the test with the issues if it is rejected, and returns the output. */
export function assertValid<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    assert.fail(`expected valid, got ${JSON.stringify(formatIssues(result.error), null, 2)}`);
  }
  return result.data;
}

/** Parses `value` and asserts it is rejected with exactly these issues (path and code, in order). */
export function assertIssues(
  schema: z.ZodType,
  value: unknown,
  expected: readonly ExpectedIssue[],
): FormattedIssue[] {
  const result = schema.safeParse(value);
  assert.equal(result.success, false, 'expected the value to be rejected');
  const issues = formatIssues(result.error!);
  assert.deepEqual(
    issues.map(({ path, code }) => ({ path, code })),
    expected.map(({ path, code }) => ({ path, code })),
    `issues were ${JSON.stringify(issues, null, 2)}`,
  );
  expected.forEach((issue, index) => {
    if (issue.message) assert.match(issues[index]!.message, issue.message);
  });
  return issues;
}

/** Shorthand for one expected issue. */
export function assertIssue(
  schema: z.ZodType,
  value: unknown,
  path: string,
  code: string,
  message?: RegExp,
): FormattedIssue {
  const expected: ExpectedIssue = message ? { path, code, message } : { path, code };
  return assertIssues(schema, value, [expected])[0]!;
}
