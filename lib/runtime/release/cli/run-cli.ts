import { hostname, userInfo } from 'node:os';
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { schemaVersionParameterName, StackOutputs } from '../../stack-contract.ts';
import { readStackOutputs, StackNotFoundError } from '../../stack-outputs.ts';
import { artifactKey, checksumKey, missingArtifactKeys } from '../aws/artifact-exists.ts';
import { AutoScalingInstanceGuard } from '../aws/auto-scaling-instance-guard.ts';
import { AutoScalingZoneLookup } from '../aws/auto-scaling-zone-lookup.ts';
import { CloudWatchAlarmGate } from '../aws/cloudwatch-alarm-gate.ts';
import { CloudWatchReleaseMarker } from '../aws/cloudwatch-release-marker.ts';
import { CloudWatchReleaseMetrics } from '../aws/cloudwatch-release-metrics.ts';
import { Elbv2TargetPool } from '../aws/elbv2-target-pool.ts';
import { FleetReplacementCheck, FleetReplacingError } from '../aws/fleet-replacement-check.ts';
import { S3RequiredMigration } from '../aws/s3-required-migration.ts';
import { SsmSchemaVersion } from '../aws/ssm-schema-version.ts';
import { SsmInstaller } from '../aws/ssm-installer.ts';
import { resolveCapacity } from '../capacity.ts';
import type { Clock } from '../../clock.ts';
import { DynamoDbReleaseStore } from '../aws/dynamodb-release-store.ts';
import { BadInputError, CapacityError, LockNotAcquiredError, ReleaseError } from '../errors.ts';
import type { ReleaseMarker, ReleaseMetrics, ReleaseOutcome, ReleasePorts, ZoneLookup } from '../ports.ts';
import { releaseBudget } from '../release-budget.ts';
import { assertSchemaMigrated } from '../schema-guard.ts';
import { ReleaseEngine } from '../release-engine.ts';
import { formatDuration } from '../../duration.ts';
import { ExitCode, type ExitCodeValue } from './exit-codes.ts';
import { type ReleaseArgs, type ReleaseTargets, type StatusArgs, parseCliArgs, usage } from './parse-args.ts';
import { reportProgress } from './progress-reporter.ts';
import { localPorts } from './local-ports.ts';
import { releaseSummaryMarkdown } from './step-summary.ts';
import { zoneBatches } from '../zone-batches.ts';

/**
 * The AWS stack's ports, plus what only it has: the release marker, the report's metrics and, with
 * --by-zone, each target's zone. HAProxy mode has none of them and publishes nothing.
 */
interface CommandPorts extends ReleasePorts {
  readonly marker?: ReleaseMarker;
  readonly metrics?: ReleaseMetrics;
  readonly zones?: ZoneLookup;
}

/** The report reads metrics this long after its window ends (ReleaseEngineProps.metricsDelayMs). */
const METRICS_DELAY_MS = 60_000;

export interface AwsClients {
  readonly elbv2: ElasticLoadBalancingV2Client;
  readonly ssm: SSMClient;
  readonly cloudWatch: CloudWatchClient;
  readonly autoScaling: AutoScalingClient;
  readonly cloudFormation: CloudFormationClient;
  readonly s3: S3Client;
  readonly dynamoDb: DynamoDBClient;
}

/** What the CLI needs from the outside world; bin/sluice.ts passes the real ones, tests a simulation. */
export interface CliEnvironment {
  readonly clients: (region: string | undefined) => AwsClients;
  readonly clock: Clock;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: (line: string) => void;
  readonly stderr: (line: string) => void;
  /** Appends Markdown to the GitHub job summary file. */
  readonly appendSummary: (path: string, markdown: string) => Promise<void>;
  /** Aborted on SIGINT/SIGTERM: the release stops starting work and puts the target in flight back. */
  readonly signal?: AbortSignal;
  /** How often adapters poll AWS. @default 1000 ms */
  readonly pollIntervalMs?: number;
}

const outcomeExitCode: Record<ReleaseOutcome, ExitCodeValue> = {
  succeeded: ExitCode.success,
  'rolled-back': ExitCode.rolledBack,
  aborted: ExitCode.rolledBack,
  'rollback-failed': ExitCode.rollbackFailed,
  superseded: ExitCode.superseded,
};

/** Runs one `sluice` command and returns its exit code; never throws. */
export async function runCli(argv: readonly string[], environment: CliEnvironment): Promise<ExitCodeValue> {
  try {
    const args = parseCliArgs(argv);
    if (args.command === 'help') {
      environment.stdout(usage);
      return ExitCode.success;
    }
    return args.command === 'release' ? await release(args, environment) : await status(args, environment);
  } catch (error) {
    const code = reportError(error, environment);
    // A machine reading --json gets a result line whatever stopped the run.
    if (argv.includes('--json')) {
      environment.stdout(JSON.stringify({ event: 'result', at: new Date(environment.clock.now()).toISOString(), outcome: 'not-started', exitCode: code, message: error instanceof Error ? error.message.split('\n')[0] : String(error) }));
    }
    return code;
  }
}

function reportError(error: unknown, { stderr }: CliEnvironment): ExitCodeValue {
  if (error instanceof BadInputError) {
    stderr(`sluice: ${error.message}`);
    return ExitCode.badInput;
  }
  if (error instanceof LockNotAcquiredError) {
    stderr(`sluice: ${error.message}`);
    return ExitCode.lockNotAcquired;
  }
  if (error instanceof CapacityError || error instanceof FleetReplacingError) {
    stderr(`sluice: nothing was changed: ${error.message}`);
    return ExitCode.rolledBack;
  }
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof ReleaseError ? ` [${error.reasonCode}]` : '';
  stderr(`sluice: the release stopped unexpectedly${code}: ${message}\nRun "sluice status" to see every target; rerunning the release repairs any target it left out of the load balancer.`);
  return ExitCode.rollbackFailed;
}

// --- wiring ----------------------------------------------------------------------------------------

const requiredForRelease: (keyof ReleaseTargets)[] = ['targetGroupArn', 'autoScalingGroupName', 'artifactBucketName', 'releaseTableName', 'currentVersionParameterName', 'releaseGateAlarmName'];
const flagFor: Record<keyof ReleaseTargets, string> = {
  targetGroupArn: '--target-group-arn',
  autoScalingGroupName: '--auto-scaling-group',
  artifactBucketName: '--artifact-bucket',
  releaseTableName: '--release-table',
  currentVersionParameterName: '--version-parameter',
  releaseGateAlarmName: '--release-gate-alarm',
};

/** Stack outputs, with flags taking precedence; DescribeStacks only when a flag is missing. */
async function resolveTargets(args: ReleaseArgs | StatusArgs, clients: AwsClients, environment: CliEnvironment): Promise<Required<ReleaseTargets>> {
  const resolved: Record<string, string | undefined> = { ...args.overrides };
  if (requiredForRelease.some((key) => resolved[key] === undefined)) {
    const outputs = await readStackOutputs(clients.cloudFormation, args.stackName, { clock: environment.clock }).catch((error: unknown) => {
      throw error instanceof StackNotFoundError ? new BadInputError(error.message) : error;
    });
    for (const key of requiredForRelease) resolved[key] ??= outputs[StackOutputs[key]];
  }
  const missing = requiredForRelease.filter((key) => resolved[key] === undefined);
  if (missing.length > 0) {
    throw new BadInputError(
      `stack ${args.stackName} has no output ${missing.map((key) => StackOutputs[key]).join(', ')}: deploy the current stack (npx cdk deploy -c stage=${args.stage}) or pass ${missing.map((key) => flagFor[key]).join(', ')}`,
    );
  }
  return resolved as Required<ReleaseTargets>;
}

function adapters(args: ReleaseArgs | StatusArgs, targets: Required<ReleaseTargets>, clients: AwsClients, environment: CliEnvironment): CommandPorts {
  const { stackName } = args;
  const extraAlarms = args.command === 'release' ? args.extraAlarms : [];
  const { clock } = environment;
  const replacementCheck = new FleetReplacementCheck({
    cloudFormation: clients.cloudFormation,
    autoScaling: clients.autoScaling,
    stackName,
    autoScalingGroupName: targets.autoScalingGroupName,
    clock,
  });
  const pollIntervalMs = environment.pollIntervalMs ?? 1000;
  return {
    pool: new Elbv2TargetPool({ client: clients.elbv2, targetGroupArn: targets.targetGroupArn, clock, pollIntervalMs }),
    installer: new SsmInstaller({ client: clients.ssm, clock, pollIntervalMs }),
    gate: new CloudWatchAlarmGate({ client: clients.cloudWatch, alarmNames: [targets.releaseGateAlarmName, ...extraAlarms], clock }),
    guard: new AutoScalingInstanceGuard({
      autoScaling: clients.autoScaling,
      ssm: clients.ssm,
      autoScalingGroupName: targets.autoScalingGroupName,
      currentVersionParameterName: targets.currentVersionParameterName,
      clock,
      replacementCheck,
    }),
    store: new DynamoDbReleaseStore({ client: DynamoDBDocumentClient.from(clients.dynamoDb), tableName: targets.releaseTableName }),
    ...(args.command === 'release'
      ? {
        marker: new CloudWatchReleaseMarker({ client: clients.cloudWatch, stage: args.stage, clock }),
        // Without a bake there is no after window to compare.
        ...(args.bakeMs > 0 ? { metrics: new CloudWatchReleaseMetrics({ client: clients.cloudWatch, stage: args.stage, clock }) } : {}),
        ...(args.byZone ? { zones: new AutoScalingZoneLookup({ client: clients.autoScaling, clock }) } : {}),
      }
      : {}),
  };
}

function defaultHolder(env: CliEnvironment['env']): string {
  if (env.GITHUB_ACTIONS === 'true') return `${env.GITHUB_REPOSITORY ?? 'github'} run ${env.GITHUB_RUN_ID ?? '?'} (${env.GITHUB_ACTOR ?? 'actions'})`;
  return `${env.USER ?? safeUser()}@${hostname()}`;
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

// --- sluice release ----------------------------------------------------------------------------------

/** The ports a command works with: the AWS stack's, or (HAProxy mode) local services'. */
async function portsFor(args: ReleaseArgs | StatusArgs, environment: CliEnvironment, version?: string): Promise<CommandPorts> {
  if (args.local) {
    const tableName = args.overrides.releaseTableName;
    const store = tableName === undefined ? undefined : new DynamoDbReleaseStore({ client: DynamoDBDocumentClient.from(environment.clients(args.region).dynamoDb), tableName });
    const local = await localPorts(args.local, environment.clock, store);
    if (version !== undefined) await local.checkArtifact(version);
    return local;
  }
  const clients = environment.clients(args.region);
  const targets = await resolveTargets(args, clients, environment);
  if (version !== undefined) {
    await assertArtifactUploaded(clients, targets.artifactBucketName, version, environment);
    // The migrations run during cdk deploy; code that needs a newer schema waits for that deploy.
    await assertSchemaMigrated({
      version,
      stage: args.stage,
      schema: new SsmSchemaVersion({ client: clients.ssm, parameterName: schemaVersionParameterName(args.stage), clock: environment.clock }),
      artifact: new S3RequiredMigration({ client: clients.s3, bucket: targets.artifactBucketName, clock: environment.clock }),
    });
  }
  return adapters(args, targets, clients, environment);
}

/** Every instance would refuse the version without its artifact and checksum: refuse it here, first. */
async function assertArtifactUploaded(clients: AwsClients, bucket: string, version: string, environment: CliEnvironment): Promise<void> {
  const missing = await missingArtifactKeys(clients.s3, bucket, version, { clock: environment.clock });
  if (missing.length === 0) return;
  throw new BadInputError(
    `no artifact for ${version}: ${missing.map((key) => `s3://${bucket}/${key}`).join(' and ')} ${missing.length > 1 ? 'do' : 'does'} not exist; `
      + `build both files with npm run package -- ${version} and upload them: ${[artifactKey(version), checksumKey(version)].map((key) => `aws s3 cp dist/${key} s3://${bucket}/${key}`).join(' && ')}`,
  );
}

/**
 * Runs what comes before any change (reading outputs, checking the artifact, the dry run): whatever
 * fails there, nothing was touched, so it is reported as bad input with what to check.
 */
async function beforeAnyChange<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof BadInputError || error instanceof FleetReplacingError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    const hint = /region/i.test(message)
      ? 'pass --region or set AWS_REGION'
      : /credential|token|signature|expired|profile/i.test(message)
        ? 'check the AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, or the CI role)'
        : 'check the AWS credentials, the region and the stack outputs';
    throw new BadInputError(`nothing was changed: ${message}; ${hint}`);
  }
}

async function release(args: ReleaseArgs, environment: CliEnvironment): Promise<ExitCodeValue> {
  const ports = await beforeAnyChange(() => portsFor(args, environment, args.version));
  if (args.dryRun) return beforeAnyChange(() => dryRun(args, ports, environment));
  // Before the lock and the plan: a deploy or an instance refresh is moving the same instances.
  const { guard } = ports;
  if (guard instanceof AutoScalingInstanceGuard) await beforeAnyChange(() => guard.refuseWhileReplacing());

  const engine = new ReleaseEngine({
    ...ports,
    clock: environment.clock,
    version: args.version,
    holder: args.holder ?? defaultHolder(environment.env),
    maxUnavailable: args.maxUnavailable,
    minHealthy: args.minHealthy,
    bakeMs: args.bakeMs,
    installTimeoutMs: args.installTimeoutMs,
    lockWaitMs: args.lockWaitMs,
    lockTtlMs: args.lockTtlMs,
    supersede: args.supersede,
    maxRegressionPercent: args.maxRegressionPercent,
    metricsDelayMs: METRICS_DELAY_MS,
  });
  reportProgress(engine, environment.stdout, { json: args.json, now: () => environment.clock.now() });
  let touched = false;
  engine.on('step-started', () => {
    touched = true;
  });
  const onAbort = () => engine.stop('interrupted');
  environment.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const result = await engine.run();
    const summaryPath = environment.env.GITHUB_STEP_SUMMARY;
    if (summaryPath) await environment.appendSummary(summaryPath, releaseSummaryMarkdown(result, args.stackName));
    const took = formatDuration(result.finishedAt - result.startedAt);
    const line = {
      succeeded: `released ${result.version} to ${result.targets.length} target(s) in ${took}`,
      'rolled-back': `release of ${result.version} failed and was rolled back to ${result.previousVersion} in ${took}`,
      aborted: `release of ${result.version} stopped; targets in flight were put back`,
      'rollback-failed': `release of ${result.version} failed AND the rollback failed: ${result.rollbackFailures.map((failure) => `${failure.targetId ?? ''} at ${failure.step} [${failure.reasonCode}]`).join('; ')}. Fix those targets, then rerun.`,
      superseded: `${result.version} superseded by ${result.supersededBy}; nothing was changed`,
    }[result.outcome];
    if (args.json) environment.stdout(JSON.stringify({ event: 'result', at: new Date(environment.clock.now()).toISOString(), outcome: result.outcome, exitCode: outcomeExitCode[result.outcome], message: line }));
    else if (result.outcome === 'succeeded' || result.outcome === 'superseded') environment.stdout(line);
    else {
      const failure = result.failure;
      environment.stderr(`sluice: ${line}${failure ? `\n  cause: ${failure.targetId ?? 'release'} at ${failure.step} [${failure.reasonCode}]: ${failure.message}` : ''}`);
    }
    return outcomeExitCode[result.outcome];
  } catch (error) {
    // Failing before the first step (the lock, the plan) changed no target: a failure, nothing to roll back.
    if (touched || error instanceof LockNotAcquiredError || error instanceof CapacityError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    environment.stderr(`sluice: the release failed before changing any target: ${message}`);
    return ExitCode.rolledBack;
  } finally {
    environment.signal?.removeEventListener('abort', onAbort);
  }
}

async function dryRun(args: ReleaseArgs, ports: CommandPorts, environment: CliEnvironment): Promise<ExitCodeValue> {
  const [timings, listed, current, replacement] = await Promise.all([
    ports.pool.timings(),
    ports.pool.listTargets(),
    ports.guard.launchVersion(),
    ports.guard instanceof AutoScalingInstanceGuard ? ports.guard.replacement() : undefined,
  ]);
  const versions = await Promise.all(listed.map((target) => ports.installer.installedVersion(target.id).catch(() => undefined)));
  const toRelease = listed.filter((_, index) => versions[index] !== args.version);
  const rules = resolveCapacity(listed.length, args.maxUnavailable, args.minHealthy);
  const zoneOf = ports.zones ? await ports.zones.zonesOf(listed.map((target) => target.id)) : undefined;
  const zones = zoneOf ? zoneBatches(toRelease.map((target) => target.id), zoneOf) : undefined;
  // A bake of two minutes or more always holds a whole minute after the last switch: a report follows.
  const reportWaitMs = ports.metrics && args.bakeMs >= 2 * 60_000 ? METRICS_DELAY_MS : 0;
  const budget = releaseBudget({
    targets: toRelease.length,
    maxUnavailable: rules.maxUnavailable,
    timings,
    installMs: args.installEstimateMs,
    bakeMs: args.bakeMs,
    zoneSizes: zones?.map((batch) => batch.targets.length),
    reportWaitMs,
  });
  const plan = {
    event: 'plan',
    version: args.version,
    currentVersion: current ?? 'none',
    stack: args.stackName,
    targets: listed.map((target, index) => ({
      targetId: target.id,
      state: target.state,
      version: versions[index] ?? null,
      ...(zoneOf ? { zone: zoneOf.get(target.id) ?? null } : {}),
      action: versions[index] === args.version ? 'skip' : 'release',
    })),
    maxUnavailable: rules.maxUnavailable,
    minHealthy: rules.minHealthy,
    waves: budget.waves,
    ...(zones ? { zones: zones.map((batch) => ({ zone: batch.zone, targets: batch.targets, waves: Math.ceil(batch.targets.length / rules.maxUnavailable) })) } : {}),
    budget: {
      drainMs: timings.drainMs,
      installMs: args.installEstimateMs,
      healthyMs: timings.healthyMs,
      bakeMs: args.bakeMs,
      perTargetMs: budget.perTargetMs,
      ...(budget.reports > 0 ? { reports: budget.reports, reportWaitMs } : {}),
      totalMs: budget.totalMs,
    },
    warnings: [...budget.warnings, ...(replacement ? [`a release now would be refused: ${replacement.activity}`] : [])],
  };
  if (args.json) {
    environment.stdout(JSON.stringify(plan));
    return ExitCode.success;
  }
  const { stdout } = environment;
  stdout(`Plan: release ${args.version} to ${args.local ? `backend ${args.local.backend}` : args.stackName} (now on ${plan.currentVersion}) — dry run, nothing will change`);
  const zoneWidth = Math.max(0, ...listed.map((target) => (zoneOf?.get(target.id) ?? '?').length));
  for (const target of listed) {
    const index = listed.indexOf(target);
    const zone = zoneOf ? `${(zoneOf.get(target.id) ?? '?').padEnd(zoneWidth)}  ` : '';
    stdout(`  ${target.id}  ${target.state.padEnd(9)} ${String(versions[index] ?? '?').padEnd(16)} ${zone}${versions[index] === args.version ? 'skip' : 'release'}`);
  }
  stdout(`  ${toRelease.length} to release, ${rules.maxUnavailable} at a time (at least ${rules.minHealthy} healthy): ${budget.waves} wave(s)`);
  if (zones) {
    stdout(`  zone by zone, never two at once: ${zones.map((batch) => `${batch.zone} (${batch.targets.length} target(s), ${Math.ceil(batch.targets.length / rules.maxUnavailable)} wave(s))`).join(', then ')}`);
  }
  stdout(
    `Budget: ${budget.waves} × (drain ${formatDuration(timings.drainMs)} + install ${formatDuration(args.installEstimateMs)} + healthy ${formatDuration(timings.healthyMs)}`
      + `${args.bakeMs ? ` + bake ${formatDuration(args.bakeMs)}` : ''})${budget.reports ? ` + ${budget.reports} × report ${formatDuration(reportWaitMs)}` : ''} = ${formatDuration(budget.totalMs)}`,
  );
  for (const warning of plan.warnings) stdout(`warning: ${warning}`);
  return ExitCode.success;
}

// --- sluice status -----------------------------------------------------------------------------------

async function status(args: StatusArgs, environment: CliEnvironment): Promise<ExitCodeValue> {
  const ports = await beforeAnyChange(() => portsFor(args, environment));
  const [listed, current, lock, history] = await Promise.all([
    ports.pool.listTargets(),
    ports.guard.launchVersion(),
    ports.store.readLock(),
    ports.store.listHistory(args.history),
  ]);
  const versions = await Promise.all(listed.map((target) => ports.installer.installedVersion(target.id).catch(() => undefined)));
  const now = environment.clock.now();
  const activeLock = lock && lock.expiresAt > now ? lock : undefined;
  if (args.json) {
    environment.stdout(JSON.stringify({
      stack: args.stackName,
      currentVersion: current ?? 'none',
      targets: listed.map((target, index) => ({ targetId: target.id, state: target.state, reasonCode: target.reasonCode ?? null, version: versions[index] ?? null })),
      lock: activeLock ?? null,
      history,
    }));
    return ExitCode.success;
  }
  const { stdout } = environment;
  stdout(`${args.local ? `backend ${args.local.backend}` : args.stackName}: current version ${current ?? 'none'}`);
  stdout('Targets:');
  for (const [index, target] of listed.entries()) {
    stdout(`  ${target.id}  ${target.state.padEnd(9)} ${String(versions[index] ?? '?').padEnd(16)} ${target.reasonCode ?? ''}`.trimEnd());
  }
  stdout(activeLock ? `Lock: held by ${activeLock.holder} releasing ${activeLock.version} since ${new Date(activeLock.acquiredAt).toISOString()}` : 'Lock: free');
  stdout('Recent releases:');
  if (history.length === 0) stdout('  (none)');
  for (const record of history) {
    const took = record.finishedAt ? formatDuration(record.finishedAt - record.startedAt) : 'running';
    stdout(`  ${new Date(record.startedAt).toISOString()}  ${record.version.padEnd(16)} ${String(record.outcome ?? 'running').padEnd(15)} ${took.padEnd(7)} ${record.holder}${record.failure ? `  [${record.failure.reasonCode}] ${record.failure.targetId ?? ''}` : ''}`);
  }
  return ExitCode.success;
}
