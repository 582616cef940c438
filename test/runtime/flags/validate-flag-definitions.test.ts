import { describe, expect, it } from 'vitest';
import { appFlags } from '../../../lib/runtime/app/flags.ts';
import { flagDefinitionProblems, InvalidFlagDefinitionsError, validateFlagDefinitions } from '../../../lib/runtime/flags/validate-flag-definitions.ts';

const rollout = { name: 'new-checkout', description: 'The new checkout page.', owner: 'payments', kind: 'rollout', default: false, percentage: 5 };
const killSwitch = { name: 'search_v2', description: 'Search through the new index.', owner: 'search', kind: 'kill-switch', default: true };

describe('validateFlagDefinitions', () => {
  it("accepts the app's own declarations and well-formed ones of both kinds", () => {
    expect(flagDefinitionProblems(appFlags)).toEqual([]);
    expect(validateFlagDefinitions([rollout, killSwitch])).toEqual([rollout, killSwitch]);
  });

  it('accepts flag keys exactly as AppConfig does: a lower-case letter, then up to 63 letters, digits, "_" or "-"', () => {
    for (const name of ['a', 'aB9_-', `a${'x'.repeat(63)}`]) expect(flagDefinitionProblems([{ ...killSwitch, name }])).toEqual([]);
    for (const name of ['Upper', '9lives', '-dash', 'has space', 'dot.ted', `a${'x'.repeat(64)}`, '']) {
      expect(flagDefinitionProblems([{ ...killSwitch, name }])).toHaveLength(1);
    }
  });

  it('lists every kind of problem at once, each naming the flag and the fix', () => {
    const declarations = [
      { ...rollout, percentage: 120 },
      { ...rollout, name: 'as-text', percentage: '50' },
      { ...rollout, name: 'no-share', percentage: undefined },
      { ...killSwitch, percentage: 10 },
      { ...killSwitch, name: 'Bad Name' },
      { ...killSwitch, name: 'anonymous', description: '', owner: undefined },
      { ...killSwitch, name: 'toggled', kind: 'toggle' },
      { ...killSwitch, name: 'typo', defualt: true },
      { ...killSwitch, name: 'no-default', default: 'yes' },
      { ...killSwitch },
      'not-an-object',
    ];
    const problems = flagDefinitionProblems(declarations);
    expect(problems).toEqual([
      'flag "new-checkout": percentage must be a number between 0 and 100 (given 120)',
      'flag "as-text": percentage must be a number between 0 and 100 (given "50")',
      'flag "no-share": percentage is missing: a rollout needs the share of users it is on for, a number between 0 and 100 (0 ships it dark)',
      'flag "search_v2": percentage is only for a rollout: a kill switch is on or off for everyone (remove percentage, or make kind "rollout")',
      'flag "Bad Name": name must be a lower-case letter followed by up to 63 letters, digits, "_" or "-", AppConfig\'s flag-key rule (given "Bad Name")',
      'flag "anonymous": description is missing: say what turning it on changes (given "")',
      'flag "anonymous": owner is missing: say the team or person to ask before changing it (given nothing)',
      'flag "toggled": kind must be "kill-switch" (on or off for everyone) or "rollout" (on for a percentage of users) (given "toggle")',
      'flag "typo": unknown field "defualt": did you mean "default"? (fields: name, description, owner, default, kind, percentage)',
      'flag "no-default": default must be true or false: false ships the code dark (given "yes")',
      'flags[10] must be an object with name, description, owner, default and kind (given "not-an-object")',
      'flag "search_v2" is declared 2 times (flags[3], flags[9]): flag names must be unique, rename or remove all but one',
    ]);
  });

  it('asks a rollout for its percentage when it has none', () => {
    const { percentage: _, ...withoutPercentage } = rollout;
    expect(flagDefinitionProblems([withoutPercentage])).toEqual([
      'flag "new-checkout": percentage is missing: a rollout needs the share of users it is on for, a number between 0 and 100 (0 ships it dark)',
    ]);
  });

  it('keeps descriptions and owners within what an AppConfig description holds, owners on one line', () => {
    expect(flagDefinitionProblems([{ ...killSwitch, description: 'x'.repeat(901), owner: 'team\nother' }])).toEqual([
      'flag "search_v2": description must be at most 900 characters (given 901)',
      'flag "search_v2": owner must be on one line',
    ]);
  });

  it('throws one error that says where the declarations are and lists every problem', () => {
    const attempt = () => validateFlagDefinitions([{ ...rollout, percentage: -1 }, { ...killSwitch, kind: 'switch' }]);
    expect(attempt).toThrow(InvalidFlagDefinitionsError);
    expect(attempt).toThrow([
      'Invalid feature-flag declarations in lib/runtime/app/flags.ts:',
      '  - flag "new-checkout": percentage must be a number between 0 and 100 (given -1)',
      '  - flag "search_v2": kind must be "kill-switch" (on or off for everyone) or "rollout" (on for a percentage of users) (given "switch")',
    ].join('\n'));
  });
});
