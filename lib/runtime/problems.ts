// Validation that reports every problem at once. Each problem is one phrase that names the setting,
// says what it must be and shows what was given: `batchSize must be a whole number between 1 and 10
// (given 11)`. Construct validation extends this with the unresolved-token check; runtime options,
// CLI flags and config files use it as it is. A problem about an unknown name suggests the closest
// known one (closestMatch).

/** Formats problems as the indented list every sluice error uses: `  - problem` per line. */
export function formatProblems(problems: readonly string[]): string {
  return problems.map((problem) => `  - ${problem}`).join('\n');
}

/** Collects problems so that one error can list them all. */
export class Problems {
  private readonly problems: string[] = [];

  /** Adds a problem, phrased as `<name> must … (given <value>)`. */
  add(problem: string): void {
    this.problems.push(problem);
  }

  /** Adds problems found elsewhere, such as by another part's validation. */
  addAll(problems: readonly string[]): void {
    this.problems.push(...problems);
  }

  /** Adds a problem unless `condition` holds. */
  check(condition: boolean, problem: string): void {
    if (!condition) this.add(problem);
  }

  /** Checks a count, a port or a number of units: a whole number within [min, max]. */
  wholeNumber(name: string, value: number | undefined, min: number, max: number, unit = ''): void {
    if (value === undefined || this.skip(value)) return;
    if (!Number.isInteger(value) || value < min || value > max) {
      this.add(`${name} must be a whole number between ${min} and ${max}${unit ? ` ${unit}` : ''} (given ${value})`);
    }
  }

  /** Checks a number that may have a fraction, such as a percentage. */
  numberInRange(name: string, value: number | undefined, min: number, max: number, unit = ''): void {
    if (value === undefined || this.skip(value)) return;
    if (!Number.isFinite(value) || value < min || value > max) {
      this.add(`${name} must be between ${min} and ${max}${unit ? ` ${unit}` : ''} (given ${value})`);
    }
  }

  /** Checks a string against a pattern, describing the expected form on failure. */
  matches(name: string, value: string | undefined, pattern: RegExp, expected: string): void {
    if (value === undefined || this.skip(value)) return;
    if (!pattern.test(value)) this.add(`${name} must be ${expected} (given "${value}")`);
  }

  get list(): readonly string[] {
    return this.problems;
  }

  get isEmpty(): boolean {
    return this.problems.length === 0;
  }

  /** Throws the error `toError` makes from the list, if there is any problem. */
  throwIfAny(toError: (problems: readonly string[]) => Error): void {
    if (!this.isEmpty) throw toError(this.problems);
  }

  /** Values a subclass cannot judge yet (CDK tokens) are skipped. */
  protected skip(_value: unknown): boolean {
    return false;
  }
}

/**
 * The candidate closest to `given` (ignoring case), for a "did you mean" hint: within a third of its
 * length in Levenshtein distance (at least 1), so that a typo gets a suggestion and an unrelated
 * word none. On a tie the earlier candidate wins.
 */
export function closestMatch(given: string, candidates: readonly string[]): string | undefined {
  const limit = Math.max(1, Math.floor(given.length / 3));
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(given.toLowerCase(), candidate.toLowerCase());
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { candidate, distance };
  }
  return best?.candidate;
}

/** Levenshtein distance: the fewest insertions, deletions and substitutions that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}
