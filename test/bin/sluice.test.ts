import { describe, it } from 'vitest';
import { runSluice, type SluiceRun } from '../helpers/sluice-process.ts';

/** Only inputs rejected before any AWS call are used here. */
function sluice(...args: string[]): Promise<SluiceRun> {
  return runSluice(args);
}

const stackTraceLine = /^\s+at /m;

// Each case starts a Node process with tsx (about a second); they run side by side.
describe.concurrent('bin/sluice.ts', () => {
  it('--help prints the usage with the exit codes and exits 0', async ({ expect }) => {
    const run = await sluice('--help');
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/^Usage:\n {2}sluice release <version> \[options\]/);
    expect(run.stdout).toContain('Exit codes: 0 released; 1 failed and rolled back; 2 failed and rollback failed;\n'
      + '            3 bad input (nothing touched); 4 lock not acquired; 5 superseded.\n');
    expect(run.stderr).toBe('');
  });

  it('--help lists the stream commands after the release usage', async ({ expect }) => {
    const run = await sluice('--help');
    expect(run.stdout).toContain('\nEvent stream (sluice stream --help for the options):\n'
      + '  sluice stream status [--stage S]     per shard: owner, checkpoint, lease counter, parent/children, lag\n'
      + '  sluice stream replay --from trim-horizon|<ISO time>|<sequence> [--shard ID] [--yes]\n');
  });

  it('stream --help prints the stream usage with its exit codes and exits 0', async ({ expect }) => {
    const run = await sluice('stream', '--help');
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/^Usage:\n {2}sluice stream status \[options\]/);
    expect(run.stdout).toContain('Exit codes: 0 done; 1 replay failed part-way (the output says which shards moved);\n'
      + '            3 bad input (nothing written); 4 not confirmed (nothing written).\n');
  });

  it('--help lists the flags commands, and flags set refuses an unknown flag with exit 3 before any AWS call', async ({ expect }) => {
    const help = await sluice('--help');
    expect(help.stdout).toContain('\nFeature flags (sluice flags --help for the options):\n  sluice flags list [--stage S]');
    const run = await sluice('flags', 'set', 'jobs-batch-submt', '--on');
    expect(run.exitCode).toBe(3);
    expect(run.stderr).toBe('sluice: unknown flag "jobs-batch-submt": did you mean "jobs-batch-submit"? (declared in lib/runtime/app/flags.ts: jobs-batch-submit)\n');
  });

  it('stream replay with a malformed --from: exit 3 with a one-line message, before any AWS call', async ({ expect }) => {
    const run = await sluice('stream', 'replay', '--from', '12x');
    expect(run.exitCode).toBe(3);
    expect(run.stderr).toBe('sluice: --from must be trim-horizon, an ISO 8601 time with its zone such as 2024-05-01T12:00:00Z, or a sequence number (1–128 digits) (given "12x")\n');
    expect(run.stdout).toBe('');
  });

  it('stream status with no AWS region: exit 3, nothing changed, and what to set', async ({ expect }) => {
    const run = await sluice('stream', 'status');
    expect(run.exitCode).toBe(3);
    expect(run.stderr).toMatch(/^sluice: nothing was changed: .*Region is missing.*; pass --region or set AWS_REGION\n$/);
    expect(run.stderr).not.toMatch(stackTraceLine);
  });

  it.for([
    ['release without a version', ['release'], 'sluice: release needs the version to roll out: sluice release <version> (e.g. the commit SHA)\n'],
    [
      'a max-unavailable of 0',
      ['release', 'v1', '--max-unavailable', '0'],
      'sluice: --max-unavailable must be a count of at least 1 (e.g. 2) or a percentage from 1% to 100% (e.g. 25%) (given "0")\n',
    ],
  ] as const)('%s: exit 3 with a one-line message and no stack trace', async ([, argv, message], { expect }) => {
    const run = await sluice(...argv);
    expect(run.exitCode).toBe(3);
    expect(run.stderr).toBe(message);
    expect(run.stdout).toBe('');
  });

  it('no AWS region or credentials: exit 3, nothing changed, and what to set', async ({ expect }) => {
    const run = await sluice('release', 'v1', '--dry-run');
    expect(run.exitCode).toBe(3);
    expect(run.stderr).toMatch(/^sluice: nothing was changed: DescribeStacks for stack sluice-dev failed: .*Region is missing.*; pass --region or set AWS_REGION\n$/);
    expect(run.stderr).not.toMatch(stackTraceLine);
  });

  it('an unknown command: exit 3, saying what to run instead, then the usage, no stack trace', async ({ expect }) => {
    const run = await sluice('deploy', 'v1');
    expect(run.exitCode).toBe(3);
    const [message, usage] = run.stderr.split('\n\n');
    expect(message).toBe('sluice: unknown command "deploy": use "sluice release <version>", "sluice status", "sluice stream status|replay", "sluice migrate …", "sluice flags list|set|ramp", "sluice sandbox" or "sluice guard"');
    expect(usage).toMatch(/^Usage:\n/);
    expect(run.stderr).not.toMatch(stackTraceLine);
    expect(run.stdout).toBe('');
  });
});
