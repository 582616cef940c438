import { describe, expect, it } from 'vitest';
import { validateStageConfig } from '../../lib/config/resolve-stage-config.ts';
import { parseCliArgs } from '../../lib/runtime/release/cli/parse-args.ts';

// A stage the CDK app deploys must be one the release CLI can release, and the reverse: both follow
// one rule, 1 to 20 lower-case letters, digits or "-", starting with a letter.
const accepted = ['dev', 'prod', 'a', 'eu-west-2', 'team-a-staging', 'abcdefghij0123456789'];
const refused = ['', 'Prod', '1dev', '-dev', 'dev_1', 'dev.1', 'dev 1', 'abcdefghij01234567890'];

function configAccepts(stageName: string): boolean {
  const problems = validateStageConfig({ stageName, protectData: false });
  const stageProblems = problems.filter((problem) => problem.startsWith('stageName '));
  if (stageProblems.length > 0) {
    expect(stageProblems).toEqual([`stageName must be 1 to 20 lower-case letters, digits or "-", starting with a letter (given "${stageName}")`]);
  }
  return stageProblems.length === 0;
}

function cliAccepts(stage: string): boolean {
  try {
    parseCliArgs(['status', `--stage=${stage}`]);
    return true;
  } catch (error) {
    expect((error as Error).message).toBe(`--stage must be a stage name such as dev or prod (given "${stage}")`);
    return false;
  }
}

describe('stage names', () => {
  it.each(accepted)('the CDK app and the release CLI both accept "%s"', (name) => {
    expect(configAccepts(name)).toBe(true);
    expect(cliAccepts(name)).toBe(true);
  });

  it.each(refused)('the CDK app and the release CLI both refuse "%s"', (name) => {
    expect(configAccepts(name)).toBe(false);
    expect(cliAccepts(name)).toBe(false);
  });
});
