// One stage's feature-flag configuration as the AppConfig control plane holds it: which hosted
// version is deployed (the newest COMPLETE deployment of the profile: a ROLLED_BACK or REVERTED one
// left the one before it in force), what is deploying now, and the calls that change it. Throttling
// and server errors are retried with back-off on the injected clock.
import {
  type AppConfigClient,
  CreateHostedConfigurationVersionCommand,
  type DeploymentState,
  type DeploymentSummary,
  type GetDeploymentCommandOutput,
  GetDeploymentCommand,
  GetHostedConfigurationVersionCommand,
  ListDeploymentsCommand,
  StartDeploymentCommand,
  StopDeploymentCommand,
} from '@aws-sdk/client-appconfig';
import { exponentialBackoff } from '../../backoff.ts';
import type { Clock } from '../../clock.ts';
import { isTransientAwsError } from '../../transient-aws-error.ts';
import { FlagsError } from '../flags-error.ts';
import { type HostedFlagsDocument, parseHostedFlagsDocument } from './hosted-flags-document.ts';

/** The AppConfig resources of a stage's flags (stack outputs Flags*, or the CLI's overrides). */
export interface FlagsTarget {
  readonly applicationId: string;
  readonly environmentId: string;
  readonly configurationProfileId: string;
  readonly allAtOnceStrategyId: string;
  readonly gradualStrategyId: string;
}

export interface DeployedFlags {
  readonly deploymentNumber: number;
  readonly version: string;
  readonly document: HostedFlagsDocument;
}

export interface EnvironmentState {
  /** What clients are given now; undefined before the profile's first COMPLETE deployment. */
  readonly deployed?: DeployedFlags;
  /** The environment's deployment still running (of any profile: AppConfig runs one at a time per environment). */
  readonly inProgress?: DeploymentSummary;
  /** The profile's newest deployment, whatever its state. */
  readonly latest?: DeploymentSummary;
}

/** StartDeployment refused: another deployment is running in the environment. Nothing was deployed. */
export class DeploymentInProgressError extends FlagsError {
  constructor(readonly deploymentNumber: number | undefined, detail: string) {
    super(`another deployment${deploymentNumber !== undefined ? ` (${deploymentNumber})` : ''} is in progress in the environment: ${detail}; wait for it (sluice flags list shows it) and rerun`, 'DeploymentInProgress');
    this.name = 'DeploymentInProgressError';
  }
}

export const IN_PROGRESS_STATES: ReadonlySet<string> = new Set<DeploymentState>(['VALIDATING', 'DEPLOYING', 'BAKING', 'ROLLING_BACK']);

/** How often a deployment is looked at while it runs. */
const FOLLOW_INTERVAL_MS = 5000;
const MAX_ATTEMPTS = 6;

export class AppConfigFlagsEnvironment {
  private written = false;

  constructor(
    private readonly client: AppConfigClient,
    readonly target: FlagsTarget,
    private readonly clock: Clock,
  ) {}

  /** Whether a hosted version was created: from then on, a failure is no longer "nothing changed". */
  get hasWritten(): boolean {
    return this.written;
  }

  async readState(): Promise<EnvironmentState> {
    const { applicationId, environmentId, configurationProfileId } = this.target;
    let inProgress: DeploymentSummary | undefined;
    let latest: DeploymentSummary | undefined;
    let nextToken: string | undefined;
    let first = true;
    // Newest first (ListDeployments's order): the scan stops at the profile's newest COMPLETE one.
    do {
      const page = await this.call('ListDeployments', () => this.client.send(new ListDeploymentsCommand({ ApplicationId: applicationId, EnvironmentId: environmentId, NextToken: nextToken })));
      for (const summary of page.Items ?? []) {
        if (first && IN_PROGRESS_STATES.has(summary.State ?? '')) inProgress = summary;
        first = false;
        if (summary.ConfigurationProfileId !== undefined && summary.ConfigurationProfileId !== configurationProfileId) continue;
        latest ??= summary;
        if (summary.State === 'COMPLETE' && summary.ConfigurationVersion !== undefined && summary.DeploymentNumber !== undefined) {
          const document = await this.readVersion(summary.ConfigurationVersion);
          return { deployed: { deploymentNumber: summary.DeploymentNumber, version: summary.ConfigurationVersion, document }, ...(inProgress ? { inProgress } : {}), latest };
        }
      }
      nextToken = page.NextToken;
    } while (nextToken);
    return { ...(inProgress ? { inProgress } : {}), ...(latest ? { latest } : {}) };
  }

  async readVersion(version: string): Promise<HostedFlagsDocument> {
    const { applicationId, configurationProfileId } = this.target;
    const answer = await this.call('GetHostedConfigurationVersion', () =>
      this.client.send(new GetHostedConfigurationVersionCommand({ ApplicationId: applicationId, ConfigurationProfileId: configurationProfileId, VersionNumber: Number(version) })),
    );
    return parseHostedFlagsDocument(new TextDecoder().decode(answer.Content ?? new Uint8Array()), `hosted configuration version ${version}`);
  }

  /** A new hosted version; returns its number. */
  async createVersion(content: string, description: string): Promise<number> {
    const { applicationId, configurationProfileId } = this.target;
    this.written = true;
    const answer = await this.call('CreateHostedConfigurationVersion', () =>
      this.client.send(
        new CreateHostedConfigurationVersionCommand({
          ApplicationId: applicationId,
          ConfigurationProfileId: configurationProfileId,
          Content: new TextEncoder().encode(content),
          ContentType: 'application/json',
          Description: description,
        }),
      ),
    );
    if (answer.VersionNumber === undefined) throw new FlagsError('CreateHostedConfigurationVersion returned no version number', 'AwsError');
    return answer.VersionNumber;
  }

  /** Starts deploying `version`; returns the deployment number. ConflictException becomes DeploymentInProgressError. */
  async startDeployment(version: number, strategyId: string, description: string): Promise<number> {
    const { applicationId, environmentId, configurationProfileId } = this.target;
    try {
      const answer = await this.call('StartDeployment', () =>
        this.client.send(
          new StartDeploymentCommand({
            ApplicationId: applicationId,
            EnvironmentId: environmentId,
            ConfigurationProfileId: configurationProfileId,
            ConfigurationVersion: String(version),
            DeploymentStrategyId: strategyId,
            Description: description,
          }),
        ),
      );
      if (answer.DeploymentNumber === undefined) throw new FlagsError('StartDeployment returned no deployment number', 'AwsError');
      return answer.DeploymentNumber;
    } catch (error) {
      if (error instanceof FlagsError && error.cause instanceof Error && error.cause.name === 'ConflictException') throw new DeploymentInProgressError(undefined, error.cause.message);
      throw error;
    }
  }

  getDeployment(deploymentNumber: number): Promise<GetDeploymentCommandOutput> {
    const { applicationId, environmentId } = this.target;
    return this.call('GetDeployment', () => this.client.send(new GetDeploymentCommand({ ApplicationId: applicationId, EnvironmentId: environmentId, DeploymentNumber: deploymentNumber })));
  }

  /**
   * Looks at the deployment every 5 seconds until it is COMPLETE, ROLLED_BACK or REVERTED, calling
   * `onChange` each time its state or percentage moves; resolves with the last answer.
   */
  async follow(deploymentNumber: number, onChange: (deployment: GetDeploymentCommandOutput) => void, signal?: AbortSignal): Promise<GetDeploymentCommandOutput> {
    let seen = '';
    for (;;) {
      const deployment = await this.getDeployment(deploymentNumber);
      const now = `${deployment.State} ${deployment.PercentageComplete}`;
      if (now !== seen) onChange(deployment);
      seen = now;
      if (!IN_PROGRESS_STATES.has(deployment.State ?? '')) return deployment;
      await this.clock.sleep(FOLLOW_INTERVAL_MS, signal);
    }
  }

  /**
   * Puts back what the COMPLETE deployment replaced (StopDeployment with AllowRevert): AppConfig
   * ignores the alarm monitors for a revert, so it works while the gate is firing, which a new
   * deployment would not (the monitor would roll it back). Possible for 72 hours after it completed.
   */
  async revert(deploymentNumber: number): Promise<void> {
    const { applicationId, environmentId } = this.target;
    await this.call('StopDeployment', () =>
      this.client.send(new StopDeploymentCommand({ ApplicationId: applicationId, EnvironmentId: environmentId, DeploymentNumber: deploymentNumber, AllowRevert: true })),
    );
  }

  private async call<T>(operation: string, send: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await send();
      } catch (error) {
        if (!isTransientAwsError(error) || attempt >= MAX_ATTEMPTS) throw explain(operation, error, attempt);
        await this.clock.sleep(exponentialBackoff(attempt, { initial: 500, max: 8000 }));
      }
    }
  }
}

function explain(operation: string, error: unknown, attempts: number): FlagsError {
  const code = error instanceof Error ? error.name : 'UnknownError';
  const detail = error instanceof Error ? error.message : String(error);
  const hint = isTransientAwsError(error)
    ? `still failing after ${attempts} attempts; wait a minute and rerun`
    : code === 'ResourceNotFoundException'
      ? 'check the AppConfig ids (stack outputs FlagsApplicationId, FlagsEnvironmentId, FlagsConfigurationProfileId, or --application-id …)'
      : /AccessDenied|Unauthorized|ExpiredToken|InvalidClientTokenId|CredentialsProviderError/.test(code)
        ? `check that the AWS credentials in use are valid and allow appconfig:${operation}`
        : 'check the AWS credentials and region, then rerun';
  return new FlagsError(`AppConfig ${operation} failed: ${code}: ${detail}; ${hint}`, code, { cause: error });
}
