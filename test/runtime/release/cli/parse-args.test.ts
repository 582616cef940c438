import { describe, expect, it } from 'vitest';
import { parseCliArgs, type ReleaseArgs } from '../../../../lib/runtime/release/cli/parse-args.ts';
import { BadInputError } from '../../../../lib/runtime/release/errors.ts';
import { assertReleaseVersion } from '../../../../lib/runtime/release/release-version.ts';

const release = (...argv: string[]) => parseCliArgs(['release', ...argv]) as ReleaseArgs;

function badInput(argv: string[]): string {
  try {
    parseCliArgs(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(BadInputError);
    return (error as Error).message;
  }
  throw new Error(`expected ${argv.join(' ')} to be rejected`);
}

describe('parseCliArgs', () => {
  it('has safe defaults: dev stack, one target at a time, no bake', () => {
    expect(release('abc123')).toMatchObject({
      command: 'release',
      version: 'abc123',
      stage: 'dev',
      stackName: 'sluice-dev',
      maxUnavailable: 1,
      minHealthy: undefined,
      bakeMs: 0,
      supersede: false,
      dryRun: false,
      json: false,
      installTimeoutMs: 600_000,
      lockWaitMs: 900_000,
      lockTtlMs: 60_000,
      extraAlarms: [],
      overrides: {},
    });
  });

  it('reads --max-regression as a percentage and --by-zone, and judges nothing by default', () => {
    expect(release('abc123')).toMatchObject({ byZone: false });
    expect(release('abc123').maxRegressionPercent).toBeUndefined();
    expect(release('abc123', '--bake', '3m', '--max-regression', '12.5%', '--by-zone')).toMatchObject({ maxRegressionPercent: 12.5, byZone: true, bakeMs: 180_000 });
    expect(release('abc123', '--bake', '5m', '--max-regression', '10')).toMatchObject({ maxRegressionPercent: 10 });
  });

  it('refuses a --max-regression it cannot apply, every problem at once', () => {
    expect(badInput(['release', 'v2', '--max-regression=-5%'])).toBe('--max-regression must be a percentage above 0% and at most 1000%, such as 10% (given "-5%")');
    expect(badInput(['release', 'v2', '--max-regression', '10%', '--bake', '1m'])).toBe(
      '--max-regression needs --bake 3m or longer: CloudWatch aggregates whole minutes, and the report compares at least two after the last target switched (given --bake 1m)',
    );
    const local = ['--haproxy-socket', '/run/h.sock', '--backend', 'app', '--local-targets', 't.json'];
    const message = badInput(['release', 'v2', '--by-zone', '--bake', '3m', '--max-regression', '10%', ...local]);
    expect(message).toContain('--by-zone needs the AWS stack: HAProxy servers have no Availability Zone');
    expect(message).toContain('--max-regression reads the stage\'s CloudWatch metrics, which HAProxy mode has none of');
  });

  it('reads every flag', () => {
    expect(release('v2', '--stage', 'prod', '--max-unavailable', '25%', '--min-healthy', '3', '--bake', '30s', '--supersede', '--dry-run', '--json',
      '--install-timeout', '5m', '--lock-timeout', '90', '--alarm', 'a', '--alarm', 'b', '--region', 'eu-west-1', '--holder', 'ci')).toMatchObject({
      stage: 'prod', stackName: 'sluice-prod', maxUnavailable: '25%', minHealthy: 3, bakeMs: 30_000, supersede: true, dryRun: true, json: true,
      installTimeoutMs: 300_000, lockWaitMs: 90_000, extraAlarms: ['a', 'b'], region: 'eu-west-1', holder: 'ci',
    });
    expect(release('v2', '--max-unavailable', '2').maxUnavailable).toBe(2);
  });

  it('lets every stack output be overridden by a flag', () => {
    const arn = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/app/0123456789abcdef';
    expect(release('v2', '--stack-name', 'other', '--target-group-arn', arn, '--auto-scaling-group', 'asg', '--artifact-bucket', 'bucket',
      '--release-table', 'table', '--version-parameter', '/p', '--release-gate-alarm', 'gate')).toMatchObject({
      stackName: 'other',
      overrides: { targetGroupArn: arn, autoScalingGroupName: 'asg', artifactBucketName: 'bucket', releaseTableName: 'table', currentVersionParameterName: '/p', releaseGateAlarmName: 'gate' },
    });
  });

  it('reports every malformed flag at once, with the fix', () => {
    expect(badInput(['release', 'v2', '--max-unavailable', '0', '--bake', 'soon', '--min-healthy', '0'])).toBe(
      '3 problems:\n'
        + '  - --max-unavailable must be a count of at least 1 (e.g. 2) or a percentage from 1% to 100% (e.g. 25%) (given "0")\n'
        + '  - --min-healthy must be a whole number of at least 1 (given "0")\n'
        + '  - --bake must be a duration such as 30s, 5m or 1h (given "soon")',
    );
  });

  it('rejects a missing or unsafe version', () => {
    expect(badInput(['release'])).toBe('release needs the version to roll out: sluice release <version> (e.g. the commit SHA)');
    expect(badInput(['release', "v1; rm -rf /"])).toMatch(/^version must be 1–128 letters/);
    expect(badInput(['release', 'a', 'b'])).toBe('release takes one version (given also "b")');
  });

  it('accepts exactly the versions the installers accept', () => {
    // The version becomes part of an S3 key, a path and a shell command on the instance.
    for (const version of ['1', 'abc123', '2.0.0+build.7', 'v1_rc-2', `a${'b'.repeat(127)}`]) {
      expect(release(version).version).toBe(version);
      expect(() => assertReleaseVersion(version)).not.toThrow();
    }
    for (const version of ['-v1', '.hidden', '+1', 'v1/../x', 'v 1', "v1'", '$(id)', `a${'b'.repeat(128)}`]) {
      expect(badInput(['release', `--`, version])).toBe(`version must be 1–128 letters, digits, ".", "_", "+" or "-", starting with a letter or digit (given "${version}")`);
      expect(() => assertReleaseVersion(version)).toThrow(BadInputError);
    }
  });

  it('rejects unknown commands and options, showing the usage', () => {
    expect(badInput(['deploy'])).toMatch(/^unknown command "deploy"[\s\S]*Usage:/);
    expect(badInput(['release', 'v1', '--force'])).toMatch(/Unknown option '--force'[\s\S]*Usage:/);
    expect(badInput(['release', 'v1', '--stage', 'Prod!'])).toBe('--stage must be a stage name such as dev or prod (given "Prod!")');
    expect(badInput(['release', 'v1', '--target-group-arn', 'my-tg'])).toMatch(/^--target-group-arn must be a target group ARN/);
  });

  it('switches to HAProxy mode only with all three of its flags', () => {
    expect(release('v2', '--haproxy-socket', '/run/haproxy.sock', '--backend', 'app', '--local-targets', 'targets.json', '--lock-ttl', '5s')).toMatchObject({
      local: { haproxySocket: '/run/haproxy.sock', backend: 'app', targetsFile: 'targets.json', checkIntervalMs: 2_000 },
      lockTtlMs: 5_000,
    });
    expect(release('v2').local).toBeUndefined();
    expect(badInput(['release', 'v2', '--backend', 'app'])).toBe('HAProxy mode needs --haproxy-socket, --backend and --local-targets together (given only backend)');
    expect(badInput(['release', 'v2', '--haproxy-socket', 's', '--backend', 'a b', '--local-targets', 't'])).toMatch(/^--backend must be an HAProxy backend name/);
  });

  it('parses status and help', () => {
    expect(parseCliArgs(['status', '--stage', 'prod', '--json', '--history', '3'])).toMatchObject({ command: 'status', stackName: 'sluice-prod', json: true, history: 3 });
    expect(parseCliArgs([])).toEqual({ command: 'help', topic: undefined });
    expect(parseCliArgs(['release', '--help'])).toMatchObject({ command: 'help' });
  });
});
