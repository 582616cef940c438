import { describe, expect, it } from 'vitest';
import { closestMatch, formatProblems, Problems } from '../../lib/runtime/problems.ts';

class TestError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid test options:\n${formatProblems(problems)}`);
  }
}

function thrown(run: () => void): TestError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(TestError);
    return error as TestError;
  }
  throw new Error('expected a TestError');
}

describe('Problems', () => {
  it('collects every problem and throws one error that lists them, one per line', () => {
    const check = new Problems();
    check.wholeNumber('batchSize', 11, 1, 10);
    check.wholeNumber('concurrency', 2.5, 1, 100);
    check.wholeNumber('port', 80, 1024, 65535, 'as a port');
    check.numberInRange('rate', 101, 0, 100, 'percent');
    check.numberInRange('ratio', Number.NaN, 0, 1);
    check.matches('name', 'Bad Name', /^[a-z]+$/, 'lower-case letters');
    check.check(false, 'mode must be fast or safe (given "slow")');
    check.add('queueUrl is missing: pass the URL of the queue to consume');
    check.addAll(['first from elsewhere', 'second from elsewhere']);

    const error = thrown(() => check.throwIfAny((problems) => new TestError(problems)));
    expect(error.message).toBe('Invalid test options:\n'
      + '  - batchSize must be a whole number between 1 and 10 (given 11)\n'
      + '  - concurrency must be a whole number between 1 and 100 (given 2.5)\n'
      + '  - port must be a whole number between 1024 and 65535 as a port (given 80)\n'
      + '  - rate must be between 0 and 100 percent (given 101)\n'
      + '  - ratio must be between 0 and 1 (given NaN)\n'
      + '  - name must be lower-case letters (given "Bad Name")\n'
      + '  - mode must be fast or safe (given "slow")\n'
      + '  - queueUrl is missing: pass the URL of the queue to consume\n'
      + '  - first from elsewhere\n'
      + '  - second from elsewhere');
    expect(error.problems).toHaveLength(10);
    expect(check.isEmpty).toBe(false);
  });

  it('accepts every boundary, leaves out values not given, and then throws nothing', () => {
    const check = new Problems();
    check.wholeNumber('low', 1, 1, 10);
    check.wholeNumber('high', 10, 1, 10);
    check.wholeNumber('absent', undefined, 1, 10);
    check.numberInRange('fraction', 0.5, 0, 1);
    check.numberInRange('absent', undefined, 0, 1);
    check.matches('name', 'good', /^[a-z]+$/, 'lower-case letters');
    check.matches('absent', undefined, /^[a-z]+$/, 'lower-case letters');
    check.check(true, 'never added');
    expect(check.list).toEqual([]);
    expect(check.isEmpty).toBe(true);
    expect(() => check.throwIfAny((problems) => new TestError(problems))).not.toThrow();
  });

  it('lets a subclass skip values it cannot judge yet', () => {
    // As construct validation does with CDK tokens: values only known later are not problems now.
    class LaterProblems extends Problems {
      protected override skip(value: unknown): boolean {
        return value === -1 || value === '${later}';
      }
    }
    const check = new LaterProblems();
    check.wholeNumber('count', -1, 1, 10);
    check.numberInRange('rate', -1, 0, 100);
    check.matches('name', '${later}', /^[a-z]+$/, 'lower-case letters');
    check.wholeNumber('other', 0, 1, 10);
    expect(check.list).toEqual(['other must be a whole number between 1 and 10 (given 0)']);
  });
});

describe('closestMatch', () => {
  const settings = ['stage', 'minCapacity', 'maxCapacity', 'desiredCapacity', 'healthCheckInterval', 'healthCheckTimeout'];

  it('suggests the setting a typo was meant to be', () => {
    expect(closestMatch('minCapacty', settings)).toBe('minCapacity');
    expect(closestMatch('mincapacity', settings)).toBe('minCapacity');
    expect(closestMatch('healthCheckIntervall', settings)).toBe('healthCheckInterval');
    expect(closestMatch('stag', settings)).toBe('stage');
  });

  it('suggests nothing for a word unlike every candidate', () => {
    expect(closestMatch('colour', settings)).toBeUndefined();
    expect(closestMatch('capacity', settings)).toBeUndefined();
    expect(closestMatch('stg', settings)).toBeUndefined();
    expect(closestMatch('minCapacity', [])).toBeUndefined();
  });

  it('prefers the nearer candidate, then the earlier one', () => {
    expect(closestMatch('maxCapacit', settings)).toBe('maxCapacity');
    expect(closestMatch('mxCapacity', settings)).toBe('maxCapacity');
    expect(closestMatch('aCapacity', ['xaCapacity', 'yaCapacity'])).toBe('xaCapacity');
  });
});
