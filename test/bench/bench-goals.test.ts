import { afterEach, describe, expect, it } from 'vitest';
import { atLeast, atMost, enforceGoals } from './bench-goals.ts';

afterEach(() => {
  process.exitCode = undefined;
});

function enforce(...goals: Parameters<typeof enforceGoals>[0]) {
  const lines: string[] = [];
  const missed = enforceGoals(goals, (line) => lines.push(line));
  return { missed, lines, exitCode: process.exitCode };
}

describe('bench goals', () => {
  it('leave the exit code alone when every figure meets its goal, limits included', () => {
    const { missed, lines, exitCode } = enforce(atMost('floorRatio', 1.03, 1.03), atLeast('throughputRatio', 3.4, 2), atMost('lost', 0, 0));
    expect(missed).toBe(0);
    expect(exitCode).toBeUndefined();
    expect(lines).toEqual(['goal met: floorRatio 1.03 ≤ 1.03', 'goal met: throughputRatio 3.4 ≥ 2', 'goal met: lost 0 ≤ 0']);
  });

  it('exit 1 and say which goal was missed and by how much', () => {
    const { missed, lines, exitCode } = enforce(atMost('floorRatio', 1.0506, 1.03), atLeast('throughputRatio', 1.5, 2), atMost('lost', 3, 0), atMost('failed', 0, 0));
    expect(missed).toBe(3);
    expect(exitCode).toBe(1);
    expect(lines).toEqual([
      'GOAL MISSED: floorRatio 1.051, goal ≤ 1.03: over by 0.021, 2 %',
      'GOAL MISSED: throughputRatio 1.5, goal ≥ 2: under by 0.5, 25 %',
      'GOAL MISSED: lost 3, goal ≤ 0: over by 3',
      'goal met: failed 0 ≤ 0',
    ]);
  });

  it('never turn a failure the bench already reported into success', () => {
    process.exitCode = 1;
    expect(enforce(atMost('floorRatio', 1, 1.03)).exitCode).toBe(1);
  });
});
