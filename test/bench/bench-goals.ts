// The goals a benchmark's figures must meet. Every bench:* script checks its figures here and exits 1
// when one misses, so a regression fails loudly instead of scrolling past in a table.

export interface Goal {
  /** The figure's name, as in the bench's last JSON line. */
  readonly figure: string;
  readonly value: number;
  readonly limit: number;
  readonly direction: 'at most' | 'at least';
}

export const atMost = (figure: string, value: number, limit: number): Goal => ({ figure, value, limit, direction: 'at most' });
export const atLeast = (figure: string, value: number, limit: number): Goal => ({ figure, value, limit, direction: 'at least' });

const figure = (value: number) => String(Number(value.toFixed(3)));

/** How far `goal` is missed (> 0), or 0 when it is met. */
function shortfall({ value, limit, direction }: Goal): number {
  return Math.max(0, direction === 'at most' ? value - limit : limit - value);
}

/** One line per goal: `goal met: floorRatio 1.01 ≤ 1.03`, or what was missed and by how much. */
export function describeGoal(goal: Goal): string {
  const missedBy = shortfall(goal);
  const sign = goal.direction === 'at most' ? '≤' : '≥';
  if (missedBy === 0) return `goal met: ${goal.figure} ${figure(goal.value)} ${sign} ${figure(goal.limit)}`;
  const relative = goal.limit === 0 ? '' : `, ${figure((missedBy / Math.abs(goal.limit)) * 100)} %`;
  return `GOAL MISSED: ${goal.figure} ${figure(goal.value)}, goal ${sign} ${figure(goal.limit)}: ${goal.direction === 'at most' ? 'over' : 'under'} by ${figure(missedBy)}${relative}`;
}

/** Prints every goal and sets the exit code to 1 when one is missed; returns how many were missed. */
export function enforceGoals(goals: readonly Goal[], print: (line: string) => void = console.log): number {
  const missed = goals.filter((goal) => shortfall(goal) > 0).length;
  for (const goal of goals) print(describeGoal(goal));
  if (missed > 0) process.exitCode = 1;
  return missed;
}

/**
 * Runs a bench's `main` (which resolves with its exit code) under a watchdog: it fails after
 * `timeoutMs`, and a process that a forgotten handle keeps alive after the figures are printed is
 * ended `lingerMs` later (with exit 1 unless `lingerIsExpected`, for libraries known to leave timers).
 */
export function runBench(name: string, main: () => Promise<number>, options: { readonly timeoutMs: number; readonly lingerMs: number; readonly lingerIsExpected?: boolean }): void {
  const watchdog = setTimeout(() => {
    console.error(`${name}: still running after ${options.timeoutMs / 60_000} minutes, giving up`);
    process.exit(1);
  }, options.timeoutMs);
  main().then(
    (exitCode) => {
      clearTimeout(watchdog);
      process.exitCode = exitCode;
      setTimeout(() => {
        if (!options.lingerIsExpected) console.error(`${name}: a handle kept the process alive after the bench finished`);
        process.exit(options.lingerIsExpected ? exitCode : exitCode || 1);
      }, options.lingerMs).unref();
    },
    (error: unknown) => {
      console.error(`${name} failed:`, error);
      process.exit(1);
    },
  );
}
