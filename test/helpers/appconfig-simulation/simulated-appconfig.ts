// AWS AppConfig for one application, environment and feature-flag profile, over virtual time: the
// control plane (hosted versions numbered from 1, deployments that go DEPLOYING → BAKING → COMPLETE
// by their strategy, one at a time per environment or ConflictException, the environment's alarm
// monitor rolling a deployment back while any of its alarms is in ALARM, StopDeployment with and
// without AllowRevert) and the data plane (sessions, single-use tokens valid 24 h, BadRequestException
// "Request too early" before the poll interval, an empty answer when the session already has the
// version, and a gradual deployment reaching a growing share of sessions).
import type { DeploymentSummary, GetDeploymentCommandOutput } from '@aws-sdk/client-appconfig';
import { awsError } from '../aws-simulation/aws-errors.ts';
import type { SimulatedAlarms } from '../aws-simulation/alarms.ts';
import type { Random } from '../aws-simulation/seeded-random.ts';
import type { VirtualClock } from '../virtual-clock.ts';

export interface SimulatedStrategy {
  readonly id: string;
  /** Time from the first step to 100 %. */
  readonly durationMinutes: number;
  /** Percentage added per step (LINEAR growth). */
  readonly growthFactor: number;
  /** Time at 100 % before COMPLETE, still monitored. */
  readonly finalBakeMinutes: number;
}

export interface SimulatedAppConfigProps {
  readonly clock: VirtualClock;
  readonly random: Random;
  readonly alarms: SimulatedAlarms;
  /** The environment's monitors: a deployment rolls back while any is in ALARM or INSUFFICIENT_DATA. */
  readonly monitorAlarmNames: readonly string[];
  readonly strategies: readonly SimulatedStrategy[];
  /** The hosted document the stack's own deployment put in place (version 1, deployment 1, COMPLETE). */
  readonly initialDocument: string;
  /** @default 2 (small, so that readers must follow NextToken) */
  readonly listPageSize?: number;
  /** AppConfig's own latency: to serve a deployment's first step, and to finish a rollback. @default 2000 */
  readonly latencyMs?: number;
  /** How often the monitor looks at its alarms during a deployment. @default 10000 */
  readonly monitorIntervalMs?: number;
}

export const SIMULATED_IDS = { applicationId: 'app1234', environmentId: 'env5678', configurationProfileId: 'prof9012' } as const;
/** The same ids as control-plane requests spell them. */
export const CONTROL_PLANE_IDS = { ApplicationId: SIMULATED_IDS.applicationId, EnvironmentId: SIMULATED_IDS.environmentId, ConfigurationProfileId: SIMULATED_IDS.configurationProfileId } as const;

const IN_PROGRESS = new Set(['DEPLOYING', 'BAKING', 'ROLLING_BACK']);
const TOKEN_LIFETIME_MS = 24 * 3_600_000;
const REVERT_WINDOW_MS = 72 * 3_600_000;

interface Deployment {
  readonly number: number;
  readonly version: string;
  readonly strategy: SimulatedStrategy;
  readonly description?: string;
  readonly startedAt: number;
  /** What clients were given before it started: a rollback or a revert serves this again. */
  readonly previousVersion: string | undefined;
  state: string;
  percentage: number;
  completedAt?: number;
  readonly events: Array<{ at: number; description: string }>;
  readonly timers: Array<() => void>;
}

interface Session {
  /** Where the session sits in a gradual deployment's growing share: served once the share passes it. */
  readonly position: number;
  readonly intervalSeconds: number;
  lastVersion?: string;
}

interface Token {
  readonly session: Session;
  readonly issuedAt: number;
  readonly initial: boolean;
  used: boolean;
}

export class SimulatedAppConfig {
  readonly versions = new Map<number, { readonly content: string; readonly description?: string }>();
  readonly deployments: Deployment[] = [];
  /** Data-plane answers, for assertions: when each GetLatestConfiguration was answered and with what. */
  readonly polls: Array<{ at: number; changed: boolean; error?: string }> = [];
  /** While false, every data-plane call fails with InternalServerException (AppConfig Data unreachable). */
  dataPlaneUp = true;
  private current: string | undefined;
  private readonly sessions: Session[] = [];
  private readonly tokens = new Map<string, Token>();
  private tokenCounter = 0;
  private readonly latencyMs: number;
  private readonly monitorIntervalMs: number;

  constructor(private readonly props: SimulatedAppConfigProps) {
    this.latencyMs = props.latencyMs ?? 2000;
    this.monitorIntervalMs = props.monitorIntervalMs ?? 10_000;
    this.versions.set(1, { content: props.initialDocument, description: 'cdk deploy' });
    const now = props.clock.now();
    this.deployments.push({
      number: 1, version: '1', strategy: props.strategies[0]!, description: 'cdk deploy', startedAt: now, previousVersion: undefined,
      state: 'COMPLETE', percentage: 100, completedAt: now, events: [{ at: now, description: 'Deployment completed' }], timers: [],
    });
    this.current = '1';
  }

  // --- control plane ---------------------------------------------------------------------------

  createHostedConfigurationVersion(input: { ApplicationId?: string; ConfigurationProfileId?: string; Content?: Uint8Array; ContentType?: string; Description?: string }) {
    this.requireProfile(input.ApplicationId, input.ConfigurationProfileId);
    if (input.ContentType !== 'application/json') throw awsError('appConfig', 'BadRequestException', `ContentType must be application/json for an AWS.AppConfig.FeatureFlags profile (given ${input.ContentType})`);
    const content = new TextDecoder().decode(input.Content ?? new Uint8Array());
    const problem = featureFlagsProblem(content);
    if (problem) throw awsError('appConfig', 'BadRequestException', `The content is not a valid AWS.AppConfig.FeatureFlags document: ${problem}`);
    const number = this.versions.size + 1;
    this.versions.set(number, { content, ...(input.Description ? { description: input.Description } : {}) });
    return { ApplicationId: input.ApplicationId, ConfigurationProfileId: input.ConfigurationProfileId, VersionNumber: number, ContentType: 'application/json' };
  }

  getHostedConfigurationVersion(input: { ApplicationId?: string; ConfigurationProfileId?: string; VersionNumber?: number }) {
    this.requireProfile(input.ApplicationId, input.ConfigurationProfileId);
    const version = this.versions.get(input.VersionNumber ?? -1);
    if (!version) throw awsError('appConfig', 'ResourceNotFoundException', `Hosted configuration version ${input.VersionNumber} not found`, 404);
    return { VersionNumber: input.VersionNumber, Content: new TextEncoder().encode(version.content), ContentType: 'application/json', Description: version.description };
  }

  listDeployments(input: { ApplicationId?: string; EnvironmentId?: string; NextToken?: string; MaxResults?: number }) {
    this.requireEnvironment(input.ApplicationId, input.EnvironmentId);
    const newestFirst = [...this.deployments].reverse();
    const start = input.NextToken === undefined ? 0 : Number(Buffer.from(input.NextToken, 'base64').toString().replace('deployments:', ''));
    if (!Number.isInteger(start)) throw awsError('appConfig', 'BadRequestException', 'Invalid NextToken');
    const size = Math.min(input.MaxResults ?? 50, this.props.listPageSize ?? 2);
    const items: DeploymentSummary[] = newestFirst.slice(start, start + size).map((deployment) => ({
      DeploymentNumber: deployment.number,
      ConfigurationProfileId: SIMULATED_IDS.configurationProfileId,
      ConfigurationName: 'flags',
      ConfigurationVersion: deployment.version,
      DeploymentDurationInMinutes: deployment.strategy.durationMinutes,
      GrowthType: 'LINEAR',
      GrowthFactor: deployment.strategy.growthFactor,
      FinalBakeTimeInMinutes: deployment.strategy.finalBakeMinutes,
      State: deployment.state as DeploymentSummary['State'],
      PercentageComplete: deployment.percentage,
      StartedAt: new Date(deployment.startedAt),
      ...(deployment.completedAt !== undefined ? { CompletedAt: new Date(deployment.completedAt) } : {}),
    }));
    const next = start + size < newestFirst.length ? Buffer.from(`deployments:${start + size}`).toString('base64') : undefined;
    return { Items: items, ...(next ? { NextToken: next } : {}) };
  }

  getDeployment(input: { ApplicationId?: string; EnvironmentId?: string; DeploymentNumber?: number }): GetDeploymentCommandOutput {
    this.requireEnvironment(input.ApplicationId, input.EnvironmentId);
    const deployment = this.requireDeployment(input.DeploymentNumber);
    return {
      $metadata: {},
      ApplicationId: SIMULATED_IDS.applicationId,
      EnvironmentId: SIMULATED_IDS.environmentId,
      ConfigurationProfileId: SIMULATED_IDS.configurationProfileId,
      DeploymentNumber: deployment.number,
      DeploymentStrategyId: deployment.strategy.id,
      ConfigurationVersion: deployment.version,
      ...(deployment.description ? { Description: deployment.description } : {}),
      State: deployment.state as GetDeploymentCommandOutput['State'],
      PercentageComplete: deployment.percentage,
      StartedAt: new Date(deployment.startedAt),
      ...(deployment.completedAt !== undefined ? { CompletedAt: new Date(deployment.completedAt) } : {}),
      EventLog: [...deployment.events].reverse().map((event) => ({ Description: event.description, OccurredAt: new Date(event.at) })),
    };
  }

  startDeployment(input: { ApplicationId?: string; EnvironmentId?: string; ConfigurationProfileId?: string; ConfigurationVersion?: string; DeploymentStrategyId?: string; Description?: string }) {
    this.requireEnvironment(input.ApplicationId, input.EnvironmentId);
    this.requireProfile(input.ApplicationId, input.ConfigurationProfileId);
    const strategy = this.props.strategies.find((candidate) => candidate.id === input.DeploymentStrategyId);
    if (!strategy) throw awsError('appConfig', 'ResourceNotFoundException', `Deployment strategy ${input.DeploymentStrategyId} not found`, 404);
    if (!this.versions.has(Number(input.ConfigurationVersion))) throw awsError('appConfig', 'ResourceNotFoundException', `Hosted configuration version ${input.ConfigurationVersion} not found`, 404);
    const running = this.deployments.find((deployment) => IN_PROGRESS.has(deployment.state));
    if (running) throw awsError('appConfig', 'ConflictException', `Deployment number ${running.number} is already in progress in environment ${SIMULATED_IDS.environmentId}`, 409);
    const now = this.props.clock.now();
    const deployment: Deployment = {
      number: this.deployments.length + 1, version: String(input.ConfigurationVersion), strategy, ...(input.Description ? { description: input.Description } : {}),
      startedAt: now, previousVersion: this.current, state: 'DEPLOYING', percentage: 0, events: [{ at: now, description: 'Deployment started' }], timers: [],
    };
    this.deployments.push(deployment);
    this.schedule(deployment);
    return { DeploymentNumber: deployment.number, State: deployment.state, ConfigurationVersion: deployment.version };
  }

  stopDeployment(input: { ApplicationId?: string; EnvironmentId?: string; DeploymentNumber?: number; AllowRevert?: boolean }) {
    this.requireEnvironment(input.ApplicationId, input.EnvironmentId);
    const deployment = this.requireDeployment(input.DeploymentNumber);
    const now = this.props.clock.now();
    if (IN_PROGRESS.has(deployment.state)) {
      this.finishRollback(deployment, 'Deployment stopped by StopDeployment');
    } else if (deployment.state === 'COMPLETE' && input.AllowRevert) {
      if (deployment !== this.deployments.at(-1)) throw awsError('appConfig', 'BadRequestException', `Deployment ${deployment.number} is not the latest deployment and cannot be reverted`);
      if (now - (deployment.completedAt ?? 0) > REVERT_WINDOW_MS) throw awsError('appConfig', 'BadRequestException', `Deployment ${deployment.number} completed more than 72 hours ago and cannot be reverted`);
      deployment.state = 'REVERTED';
      deployment.events.push({ at: now, description: 'Deployment reverted by StopDeployment with AllowRevert' });
      this.current = deployment.previousVersion;
    } else {
      throw awsError('appConfig', 'BadRequestException', `Deployment ${deployment.number} is ${deployment.state} and cannot be stopped${deployment.state === 'COMPLETE' ? ' (pass AllowRevert to revert it)' : ''}`);
    }
    return { DeploymentNumber: deployment.number, State: deployment.state };
  }

  // --- data plane ------------------------------------------------------------------------------

  startConfigurationSession(input: { ApplicationIdentifier?: string; EnvironmentIdentifier?: string; ConfigurationProfileIdentifier?: string; RequiredMinimumPollIntervalInSeconds?: number }) {
    this.requireDataPlane();
    if (input.ApplicationIdentifier !== SIMULATED_IDS.applicationId || input.EnvironmentIdentifier !== SIMULATED_IDS.environmentId || input.ConfigurationProfileIdentifier !== SIMULATED_IDS.configurationProfileId) {
      throw awsError('appConfigData', 'ResourceNotFoundException', 'Application, environment or configuration profile not found', 404);
    }
    const interval = input.RequiredMinimumPollIntervalInSeconds ?? 60;
    if (!Number.isInteger(interval) || interval < 15 || interval > 86_400) throw awsError('appConfigData', 'BadRequestException', `RequiredMinimumPollIntervalInSeconds must be between 15 and 86400 (given ${interval})`);
    const session: Session = { position: this.props.random(), intervalSeconds: interval };
    this.sessions.push(session);
    return { InitialConfigurationToken: this.issueToken(session, true) };
  }

  getLatestConfiguration(input: { ConfigurationToken?: string }) {
    const now = this.props.clock.now();
    try {
      this.requireDataPlane();
      const token = this.tokens.get(input.ConfigurationToken ?? '');
      if (!token) throw awsError('appConfigData', 'BadRequestException', 'Invalid ConfigurationToken');
      if (token.used) throw awsError('appConfigData', 'BadRequestException', 'ConfigurationToken has already been used');
      if (now - token.issuedAt > TOKEN_LIFETIME_MS) throw awsError('appConfigData', 'BadRequestException', 'ConfigurationToken has expired');
      if (!token.initial && now - token.issuedAt < token.session.intervalSeconds * 1000) throw awsError('appConfigData', 'BadRequestException', 'Request too early');
      token.used = true;
      const { session } = token;
      const version = this.servedVersion(session);
      const changed = version !== undefined && version !== session.lastVersion;
      session.lastVersion = version;
      this.polls.push({ at: now, changed });
      const content = changed ? new TextEncoder().encode(dataPlaneView(this.versions.get(Number(version))!.content)) : new Uint8Array();
      return { NextPollConfigurationToken: this.issueToken(session, false), NextPollIntervalInSeconds: session.intervalSeconds, ContentType: 'application/json', Configuration: content };
    } catch (error) {
      this.polls.push({ at: now, changed: false, error: (error as Error).name });
      throw error;
    }
  }

  /** Every token stops working (as after AppConfig forgot the sessions): a client must start a new session. */
  invalidateTokens(): void {
    this.tokens.clear();
  }

  /** The version a session would be given now. */
  private servedVersion(session: Session): string | undefined {
    const running = this.deployments.find((deployment) => deployment.state === 'DEPLOYING' || deployment.state === 'BAKING');
    if (running && session.position * 100 < running.percentage) return running.version;
    return this.current;
  }

  private issueToken(session: Session, initial: boolean): string {
    this.tokenCounter += 1;
    const token = `token-${this.tokenCounter}`;
    this.tokens.set(token, { session, issuedAt: this.props.clock.now(), initial, used: false });
    return token;
  }

  // --- deployments over time -------------------------------------------------------------------

  private schedule(deployment: Deployment): void {
    const { clock } = this.props;
    const { durationMinutes, growthFactor, finalBakeMinutes } = deployment.strategy;
    const steps = durationMinutes === 0 ? 1 : Math.ceil(100 / growthFactor);
    const stepMs = steps === 1 ? 0 : (durationMinutes * 60_000) / (steps - 1);
    const firstAt = deployment.startedAt + this.latencyMs;
    for (let step = 1; step <= steps; step += 1) {
      const at = firstAt + (step - 1) * stepMs;
      deployment.timers.push(clock.at(at, () => {
        if (!this.monitorAllowsProgress(deployment)) return;
        deployment.percentage = Math.min(100, steps === 1 ? 100 : step * growthFactor);
        deployment.events.push({ at, description: `Deployment reached ${deployment.percentage} %` });
        if (deployment.percentage < 100) return;
        if (finalBakeMinutes === 0) this.complete(deployment);
        else {
          deployment.state = 'BAKING';
          deployment.timers.push(clock.at(at + finalBakeMinutes * 60_000, () => {
            if (this.monitorAllowsProgress(deployment)) this.complete(deployment);
          }));
        }
      }));
    }
    const watch = () => {
      if (!IN_PROGRESS.has(deployment.state)) return;
      if (this.monitorAllowsProgress(deployment)) deployment.timers.push(clock.at(clock.now() + this.monitorIntervalMs, watch));
    };
    deployment.timers.push(clock.at(deployment.startedAt + this.monitorIntervalMs, watch));
  }

  /** False (and the rollback started) when a monitor alarm is in ALARM or INSUFFICIENT_DATA. */
  private monitorAllowsProgress(deployment: Deployment): boolean {
    if (deployment.state !== 'DEPLOYING' && deployment.state !== 'BAKING') return false;
    const states = this.props.alarms.describe({ AlarmNames: [...this.props.monitorAlarmNames], AlarmTypes: ['CompositeAlarm', 'MetricAlarm'] });
    const bad = [...(states.MetricAlarms ?? []), ...(states.CompositeAlarms ?? [])].find((alarm) => alarm.StateValue === 'ALARM' || alarm.StateValue === 'INSUFFICIENT_DATA');
    if (!bad) return true;
    deployment.state = 'ROLLING_BACK';
    deployment.events.push({ at: this.props.clock.now(), description: `Rollback initiated by alarm ${bad.AlarmName} in ${bad.StateValue}` });
    for (const cancel of deployment.timers.splice(0)) cancel();
    deployment.timers.push(this.props.clock.at(this.props.clock.now() + this.latencyMs, () => this.finishRollback(deployment, 'Rollback completed')));
    return false;
  }

  private finishRollback(deployment: Deployment, description: string): void {
    for (const cancel of deployment.timers.splice(0)) cancel();
    deployment.state = 'ROLLED_BACK';
    deployment.events.push({ at: this.props.clock.now(), description });
  }

  private complete(deployment: Deployment): void {
    for (const cancel of deployment.timers.splice(0)) cancel();
    deployment.state = 'COMPLETE';
    deployment.completedAt = this.props.clock.now();
    deployment.events.push({ at: deployment.completedAt, description: 'Deployment completed' });
    this.current = deployment.version;
  }

  private requireDataPlane(): void {
    if (!this.dataPlaneUp) throw awsError('appConfigData', 'InternalServerException', 'We encountered an internal error. Please try again.', 500);
  }

  private requireEnvironment(applicationId: string | undefined, environmentId: string | undefined): void {
    if (applicationId !== SIMULATED_IDS.applicationId || environmentId !== SIMULATED_IDS.environmentId) throw awsError('appConfig', 'ResourceNotFoundException', `Environment ${environmentId} of application ${applicationId} not found`, 404);
  }

  private requireProfile(applicationId: string | undefined, profileId: string | undefined): void {
    if (applicationId !== SIMULATED_IDS.applicationId || profileId !== SIMULATED_IDS.configurationProfileId) throw awsError('appConfig', 'ResourceNotFoundException', `Configuration profile ${profileId} of application ${applicationId} not found`, 404);
  }

  private requireDeployment(number: number | undefined): Deployment {
    const deployment = this.deployments.find((candidate) => candidate.number === number);
    if (!deployment) throw awsError('appConfig', 'ResourceNotFoundException', `Deployment ${number} not found`, 404);
    return deployment;
  }
}

/** What AppConfig Data returns for a feature-flag document: each flag's value object, attributes beside `enabled`. */
function dataPlaneView(hosted: string): string {
  let document: { flags?: Record<string, unknown>; values?: Record<string, Record<string, unknown>> };
  try {
    document = JSON.parse(hosted);
  } catch {
    // Content only a test puts in the store: delivered as it is.
    return hosted;
  }
  return JSON.stringify(Object.fromEntries(Object.keys(document.flags ?? {}).map((flag) => [flag, { enabled: false, ...document.values?.[flag] }])));
}

/** The checks AppConfig makes of a FeatureFlags document that matter here. */
function featureFlagsProblem(content: string): string | undefined {
  let document: { version?: unknown; flags?: Record<string, unknown>; values?: Record<string, Record<string, unknown>> };
  try {
    document = JSON.parse(content);
  } catch {
    return 'not JSON';
  }
  if (document.version !== '1') return 'version must be "1"';
  for (const [flag, value] of Object.entries(document.values ?? {})) {
    if (!Object.hasOwn(document.flags ?? {}, flag)) return `values.${flag} has no flag definition`;
    if (typeof value.enabled !== 'boolean') return `values.${flag}.enabled must be a boolean`;
    if (value.percentage !== undefined && (typeof value.percentage !== 'number' || value.percentage < 0 || value.percentage > 100)) return `values.${flag}.percentage must be between 0 and 100`;
  }
  return undefined;
}
