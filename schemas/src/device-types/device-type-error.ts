import { describeIssues, type FormattedIssue } from '../issues.ts';

/** Stable codes of {@link DeviceTypeError}. */
export type DeviceTypeErrorCode = 'invalid_device_type' | 'duplicate_device_type';

/**
 * A device type definition was rejected. `issues` lists every problem found, not just the first,
 * and so does `message`, so a user fixing a definitions file needs one round.
 */
export class DeviceTypeError extends Error {
  override readonly name = 'DeviceTypeError';
  readonly code: DeviceTypeErrorCode;
  readonly issues: readonly FormattedIssue[];

  constructor(code: DeviceTypeErrorCode, summary: string, issues: readonly FormattedIssue[]) {
    super(issues.length > 0 ? `${summary}\n${describeIssues(issues)}` : summary);
    this.code = code;
    this.issues = issues;
  }
}
