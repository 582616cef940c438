import { type Duration, Token } from 'aws-cdk-lib';
import { formatProblems, Problems } from '../runtime/problems.ts';

/**
 * Collects every problem with a construct's settings so that one error can list them all: the
 * runtime kernel's Problems, plus durations, which only CDK has.
 *
 * Values that are unresolved tokens are skipped: they are only known at deploy time.
 */
export class SettingsProblems extends Problems {
  /** Checks a duration in whole seconds within [minSeconds, maxSeconds]. */
  secondsInRange(name: string, value: Duration | undefined, minSeconds: number, maxSeconds: number): void {
    if (value === undefined || value.isUnresolved()) return;
    const seconds = value.toSeconds({ integral: false });
    if (!Number.isInteger(seconds)) {
      this.add(`${name} must be a whole number of seconds (given ${seconds} seconds)`);
    } else if (seconds < minSeconds || seconds > maxSeconds) {
      this.add(`${name} must be between ${minSeconds} and ${maxSeconds} seconds (given ${seconds})`);
    }
  }

  /** Checks a duration in whole hours within [minHours, maxHours]. */
  hoursInRange(name: string, value: Duration | undefined, minHours: number, maxHours: number): void {
    if (value === undefined || value.isUnresolved()) return;
    const hours = value.toHours({ integral: false });
    if (!Number.isInteger(hours) || hours < minHours || hours > maxHours) {
      this.add(`${name} must be a whole number of hours between ${minHours} and ${maxHours} (given ${hours} hours)`);
    }
  }

  protected override skip(value: unknown): boolean {
    return Token.isUnresolved(value);
  }
}

/** Thrown when a construct is given settings that cannot be deployed; lists every problem. */
export class InvalidSettingsError extends Error {
  constructor(readonly construct: string, readonly problems: readonly string[]) {
    super(`Invalid ${construct} settings:\n${formatProblems(problems)}`);
    this.name = 'InvalidSettingsError';
  }
}

/** Throws one error listing every problem, if there are any. */
export function throwIfInvalid(construct: string, problems: readonly string[]): void {
  if (problems.length > 0) throw new InvalidSettingsError(construct, problems);
}
