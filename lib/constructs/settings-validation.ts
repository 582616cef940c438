import { type Duration, Token } from 'aws-cdk-lib';

/**
 * Collects every problem with a construct's settings so that one error can list them all.
 *
 * Values that are unresolved tokens are skipped: they are only known at deploy time.
 */
export class SettingsProblems {
  private readonly problems: string[] = [];

  /** Adds a problem, phrased as `<setting> must ... (given <value>)`. */
  add(problem: string): void {
    this.problems.push(problem);
  }

  /** Checks a count or port: a whole number within [min, max]. */
  integerInRange(name: string, value: number | undefined, min: number, max: number, unit = ''): void {
    if (value === undefined || Token.isUnresolved(value)) return;
    const suffix = unit ? ` ${unit}` : '';
    if (!Number.isInteger(value) || value < min || value > max) {
      this.add(`${name} must be a whole number between ${min} and ${max}${suffix} (given ${value})`);
    }
  }

  /** Checks a number that may have a fraction, such as a percentage. */
  numberInRange(name: string, value: number | undefined, min: number, max: number, unit = ''): void {
    if (value === undefined || Token.isUnresolved(value)) return;
    const suffix = unit ? ` ${unit}` : '';
    if (!Number.isFinite(value) || value < min || value > max) {
      this.add(`${name} must be between ${min} and ${max}${suffix} (given ${value})`);
    }
  }

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

  /** Checks a string against a pattern, describing the expected form on failure. */
  matches(name: string, value: string | undefined, pattern: RegExp, expected: string): void {
    if (value === undefined || Token.isUnresolved(value)) return;
    if (!pattern.test(value)) this.add(`${name} must be ${expected} (given "${value}")`);
  }

  get list(): readonly string[] {
    return this.problems;
  }
}

/** Thrown when a construct is given settings that cannot be deployed; lists every problem. */
export class InvalidSettingsError extends Error {
  constructor(readonly construct: string, readonly problems: readonly string[]) {
    super(`Invalid ${construct} settings:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'InvalidSettingsError';
  }
}

/** Throws one error listing every problem, if there are any. */
export function throwIfInvalid(construct: string, problems: readonly string[]): void {
  if (problems.length > 0) throw new InvalidSettingsError(construct, problems);
}
