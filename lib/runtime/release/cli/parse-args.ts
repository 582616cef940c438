import { parseDurationMs } from '../../duration.ts';
import { parseCommandLine, problemsMessage } from '../../command-line.ts';
import { Problems } from '../../problems.ts';
import { STAGE_NAME_PATTERN, stackName } from '../../stack-contract.ts';
import type { MaxUnavailable } from '../capacity.ts';
import { BadInputError } from '../errors.ts';
import { HAPROXY_NAME_CHARACTERS, HAPROXY_NAME_PATTERN } from '../haproxy/haproxy-name.ts';
import { RELEASE_VERSION_PATTERN } from '../release-version.ts';

/** Stack outputs the CLI needs; each can come from the stack or from a flag. */
export interface ReleaseTargets {
  readonly targetGroupArn?: string;
  readonly autoScalingGroupName?: string;
  readonly artifactBucketName?: string;
  readonly releaseTableName?: string;
  readonly currentVersionParameterName?: string;
  readonly releaseGateAlarmName?: string;
}

/** HAProxy mode: local services behind an HAProxy backend instead of the AWS stack. */
export interface LocalArgs {
  readonly haproxySocket: string;
  readonly backend: string;
  readonly targetsFile: string;
  /** The backend's `inter` (its runtime API does not report it): sets how soon a failing server is judged unhealthy. */
  readonly checkIntervalMs: number;
}

interface CommonArgs {
  /** Set in HAProxy mode; the AWS stack is then not used at all. */
  readonly local?: LocalArgs;
  readonly stage: string;
  readonly stackName: string;
  readonly region?: string;
  readonly json: boolean;
  readonly overrides: ReleaseTargets;
}

export interface ReleaseArgs extends CommonArgs {
  readonly command: 'release';
  readonly version: string;
  readonly maxUnavailable: MaxUnavailable;
  readonly minHealthy?: number;
  readonly bakeMs: number;
  readonly supersede: boolean;
  readonly dryRun: boolean;
  readonly installTimeoutMs: number;
  readonly installEstimateMs: number;
  readonly lockWaitMs: number;
  readonly lockTtlMs: number;
  readonly extraAlarms: string[];
  readonly holder?: string;
  /** `--max-regression P%`: fail and roll back when a report metric got worse by more than P %. */
  readonly maxRegressionPercent?: number;
  /** `--by-zone`: one Availability Zone at a time. */
  readonly byZone: boolean;
}

export interface StatusArgs extends CommonArgs {
  readonly command: 'status';
  readonly history: number;
}

export type CliArgs = ReleaseArgs | StatusArgs | { readonly command: 'help'; readonly topic?: string };

export const usage = `Usage:
  sluice release <version> [options]   roll <version> out, one target at a time
  sluice status [options]              versions, health, lock holder and recent releases

Options (release):
  --stage S                  stage whose stack to release (default: dev; stack sluice-<stage>)
  --max-unavailable N|P%     targets out of the load balancer at once (default: 1)
  --min-healthy N            healthy targets that must remain (default: targets - max-unavailable, at least 1)
  --bake D                   serve on the new version this long before checking alarms (default: 0s)
  --supersede                give up cleanly when a newer version is waiting or already released
  --dry-run                  print the plan and its time budget; change nothing
  --json                     NDJSON events on stdout instead of progress lines
  --install-timeout D        per target (default: 10m)
  --install-estimate D       install time used by --dry-run's budget (default: 30s)
  --lock-timeout D           how long to wait for another release's lock (default: 15m)
  --lock-ttl D               a killed release's lock is taken over this long after its last heartbeat (default: 60s)
  --alarm NAME               also watch this CloudWatch alarm (repeatable)
  --holder TEXT              who is releasing, shown to others (default: $GITHUB_ACTOR/$USER@host)
  --max-regression P%        after the bake, fail and roll back when p99 latency, the 5xx rate or the job
                             failure rate got worse by more than P % (needs --bake 3m or longer)
  --by-zone                  release one Availability Zone at a time, with the bake and the report between zones
Options (both):
  --region R                 AWS region (default: the SDK's, e.g. $AWS_REGION)
  --stack-name NAME          read outputs from this stack instead of sluice-<stage>
  --target-group-arn, --auto-scaling-group, --artifact-bucket, --release-table,
  --version-parameter, --release-gate-alarm
                             use this value instead of the stack output
  --history N                (status) releases to show (default: 10)
HAProxy mode (local services, no AWS; all three together):
  --haproxy-socket PATH      HAProxy runtime API socket (stats socket ... level admin)
  --backend NAME             the HAProxy backend whose servers are released
  --local-targets FILE       JSON: releasesDir, stateDir, command, targets [{name, port}]
  --check-interval D         the backend's health-check inter (default: 2s, HAProxy's default)
  --release-table NAME       keep the lock, journal and history in this DynamoDB table (the sandbox's:
                             $AWS_ENDPOINT_URL_DYNAMODB names it) instead of <stateDir>/release-state.json
Durations: 500ms, 30s, 5m, 1h, or a number of seconds.

Exit codes: 0 released; 1 failed and rolled back; 2 failed and rollback failed;
            3 bad input (nothing touched); 4 lock not acquired; 5 superseded.`;

/** Reads the command line; every problem is reported at once as a BadInputError that says the fix. */
export function parseCliArgs(argv: readonly string[]): CliArgs {
  const { values, positionals } = parseCommandLine(argv, OPTIONS, usage, (message) => new BadInputError(message));
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') return { command: 'help', topic: rest[0] };
  if (command !== 'release' && command !== 'status') {
    throw new BadInputError(`unknown command "${command}": use "sluice release <version>", "sluice status", "sluice stream status|replay", "sluice migrate …", "sluice flags list|set|ramp", "sluice sandbox" or "sluice guard"\n\n${usage}`);
  }

  const problems = new Problems();
  const stage = values.stage ?? 'dev';
  problems.matches('--stage', stage, STAGE_NAME_PATTERN, 'a stage name such as dev or prod');
  const overrides: ReleaseTargets = {
    targetGroupArn: values['target-group-arn'],
    autoScalingGroupName: values['auto-scaling-group'],
    artifactBucketName: values['artifact-bucket'],
    releaseTableName: values['release-table'],
    currentVersionParameterName: values['version-parameter'],
    releaseGateAlarmName: values['release-gate-alarm'],
  };
  problems.matches(
    '--target-group-arn',
    overrides.targetGroupArn,
    /^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup\/.+/,
    'a target group ARN (arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>)',
  );
  const localFlags = { haproxySocket: values['haproxy-socket'], backend: values.backend, targetsFile: values['local-targets'] };
  const given = Object.entries(localFlags).filter(([, value]) => value !== undefined);
  let local: LocalArgs | undefined;
  const checkIntervalMs = parseDurationMs(values['check-interval'] ?? '2s');
  problems.check(checkIntervalMs !== undefined && checkIntervalMs >= 10, `--check-interval must be a duration of at least 10ms, such as 2s (given "${values['check-interval']}")`);
  if (given.length === 3) local = { ...(localFlags as Omit<LocalArgs, 'checkIntervalMs'>), checkIntervalMs: checkIntervalMs ?? 2000 };
  else if (given.length > 0) problems.add('HAProxy mode needs --haproxy-socket, --backend and --local-targets together (given only ' + given.map(([key]) => key).join(', ') + ')');
  problems.matches('--backend', local?.backend, HAPROXY_NAME_PATTERN, `an HAProxy backend name (${HAPROXY_NAME_CHARACTERS})`);
  const common: CommonArgs = { local, stage, stackName: values['stack-name'] ?? stackName(stage), region: values.region, json: values.json ?? false, overrides };

  if (command === 'status') {
    const history = values.history === undefined ? 10 : Number(values.history);
    problems.check(Number.isInteger(history) && history >= 0 && history <= 100, `--history must be a whole number from 0 to 100 (given "${values.history}")`);
    problems.check(rest.length === 0, `status takes no arguments (given "${rest.join(' ')}")`);
    problems.throwIfAny(badInput);
    return { command, ...common, history };
  }

  const [version, ...extra] = rest;
  if (version === undefined) problems.add('release needs the version to roll out: sluice release <version> (e.g. the commit SHA)');
  problems.matches('version', version, RELEASE_VERSION_PATTERN, '1–128 letters, digits, ".", "_", "+" or "-", starting with a letter or digit');
  problems.check(extra.length === 0, `release takes one version (given also "${extra.join(' ')}")`);

  const maxUnavailable = parseMaxUnavailable(values['max-unavailable'] ?? '1', problems);
  let minHealthy: number | undefined;
  if (values['min-healthy'] !== undefined) {
    minHealthy = Number(values['min-healthy']);
    problems.check(Number.isInteger(minHealthy) && minHealthy >= 1, `--min-healthy must be a whole number of at least 1 (given "${values['min-healthy']}")`);
  }
  const duration = (flag: string, text: string | undefined, fallback: string, min: number, max: number): number => {
    const ms = parseDurationMs(text ?? fallback);
    if (ms === undefined) problems.add(`--${flag} must be a duration such as 30s, 5m or 1h (given "${text}")`);
    else if (ms < min || ms > max) problems.add(`--${flag} must be between ${min / 1000}s and ${max / 1000}s (given "${text}")`);
    return ms ?? 0;
  };
  const bakeMs = duration('bake', values.bake, '0s', 0, 3_600_000);
  const installTimeoutMs = duration('install-timeout', values['install-timeout'], '10m', 10_000, 2 * 3_600_000);
  const installEstimateMs = duration('install-estimate', values['install-estimate'], '30s', 0, 2 * 3_600_000);
  const lockWaitMs = duration('lock-timeout', values['lock-timeout'], '15m', 0, 6 * 3_600_000);
  const lockTtlMs = duration('lock-ttl', values['lock-ttl'], '60s', 3_000, 3_600_000);
  const maxRegressionPercent = parseMaxRegression(values['max-regression'], bakeMs, values.bake, problems);
  const byZone = values['by-zone'] ?? false;
  if (local) {
    problems.check(!byZone, '--by-zone needs the AWS stack: HAProxy servers have no Availability Zone (leave out --by-zone, or the HAProxy flags)');
    problems.check(maxRegressionPercent === undefined, '--max-regression reads the stage\'s CloudWatch metrics, which HAProxy mode has none of (leave it out)');
  }
  problems.throwIfAny(badInput);

  return {
    command,
    ...common,
    version: version as string,
    maxUnavailable,
    minHealthy,
    bakeMs,
    supersede: values.supersede ?? false,
    dryRun: values['dry-run'] ?? false,
    installTimeoutMs,
    installEstimateMs,
    lockWaitMs,
    lockTtlMs,
    extraAlarms: values.alarm ?? [],
    holder: values.holder,
    ...(maxRegressionPercent === undefined ? {} : { maxRegressionPercent }),
    byZone,
  };
}

/** The command's own flags, beside STAGE_FLAGS. */
const OPTIONS = {
  'max-unavailable': { type: 'string' },
  'min-healthy': { type: 'string' },
  bake: { type: 'string' },
  supersede: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  'install-timeout': { type: 'string' },
  'install-estimate': { type: 'string' },
  'lock-timeout': { type: 'string' },
  'lock-ttl': { type: 'string' },
  alarm: { type: 'string', multiple: true },
  holder: { type: 'string' },
  history: { type: 'string' },
  'target-group-arn': { type: 'string' },
  'auto-scaling-group': { type: 'string' },
  'artifact-bucket': { type: 'string' },
  'release-table': { type: 'string' },
  'version-parameter': { type: 'string' },
  'release-gate-alarm': { type: 'string' },
  'haproxy-socket': { type: 'string' },
  backend: { type: 'string' },
  'local-targets': { type: 'string' },
  'check-interval': { type: 'string' },
  'max-regression': { type: 'string' },
  'by-zone': { type: 'boolean' },
} as const;

/**
 * The report's after window holds the whole minutes of the last target's bake: from 3 minutes on
 * there are at least two, the fewest the report judges.
 */
const MIN_BAKE_FOR_REGRESSION_MS = 3 * 60_000;

function parseMaxRegression(text: string | undefined, bakeMs: number, bakeText: string | undefined, problems: Problems): number | undefined {
  if (text === undefined) return undefined;
  const match = /^(\d+(?:\.\d+)?)%?$/.exec(text.trim());
  const percent = match ? Number(match[1]) : undefined;
  if (percent === undefined || percent <= 0 || percent > 1000) {
    problems.add(`--max-regression must be a percentage above 0% and at most 1000%, such as 10% (given "${text}")`);
    return undefined;
  }
  problems.check(
    bakeMs >= MIN_BAKE_FOR_REGRESSION_MS,
    `--max-regression needs --bake 3m or longer: CloudWatch aggregates whole minutes, and the report compares at least two after the last target switched (given --bake ${bakeText ?? '0s'})`,
  );
  return percent;
}

function parseMaxUnavailable(text: string, problems: Problems): MaxUnavailable {
  const count = /^\d+$/.test(text) ? Number(text) : undefined;
  if (count !== undefined && count >= 1) return count;
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(text);
  if (percent && Number(percent[1]) > 0 && Number(percent[1]) <= 100) return `${Number(percent[1])}%`;
  problems.add(`--max-unavailable must be a count of at least 1 (e.g. 2) or a percentage from 1% to 100% (e.g. 25%) (given "${text}")`);
  return 1;
}

/** One problem is the whole message; several are counted and listed. */
function badInput(problems: readonly string[]): BadInputError {
  return new BadInputError(problemsMessage(problems));
}
