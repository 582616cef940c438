// The app's view of its feature flags: a background loop reads the deployed configuration through
// AppConfig Data (a session, then GetLatestConfiguration with the token the previous answer gave,
// never sooner than the interval it named), and isEnabled decides from what it last received. An
// empty answer means unchanged. When AppConfig cannot be reached, the last configuration received
// stays in force; before any was received, the code defaults from the flag file do.
import { type AppConfigDataClient, GetLatestConfigurationCommand, StartConfigurationSessionCommand } from '@aws-sdk/client-appconfigdata';
import { exponentialBackoff, withJitter } from '../backoff.ts';
import { type Clock, systemClock } from '../clock.ts';
import { type Logger, silentLogger } from '../json-logger.ts';
import { formatProblems, Problems } from '../problems.ts';
import { TypedEmitter } from '../typed-emitter.ts';
import { parseDeployedFlagValues } from './deployed-flag-values.ts';
import type { FlagDefinition } from './flag-definition.ts';
import { type FlagContext, FlagEvaluator } from './flag-evaluator.ts';
import { FlagsError } from './flags-error.ts';

/** Which AppConfig configuration to read: the instance's FLAGS_* environment variables name it. */
export interface FlagsConfigurationIds {
  readonly applicationId: string;
  readonly environmentId: string;
  readonly configurationProfileId: string;
}

export interface FlagsClientOptions extends FlagsConfigurationIds {
  readonly client: AppConfigDataClient;
  /** The flag file's declarations: each flag's kind and code default. */
  readonly definitions: readonly FlagDefinition[];
  /**
   * RequiredMinimumPollIntervalInSeconds of the session, 15–86400. The minimum AppConfig allows, so a
   * kill switch reaches every instance within 15 seconds of its deployment; at 4 calls a minute per
   * instance that costs about 3.5 US cents a month per instance.
   * @default 15
   */
  readonly pollIntervalSeconds?: number;
  /** How long one AppConfig Data call may take, SDK retries included, before it counts as failed. @default 5000 */
  readonly requestTimeoutMs?: number;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default silentLogger */
  readonly logger?: Logger;
}

/** Where the answers come from right now. */
export type FlagsSource = 'code-defaults' | 'appconfig';

export interface FlagsStatus {
  readonly source: FlagsSource;
  /** When AppConfig last answered (changed or not), ms since the epoch; undefined if it never has. */
  readonly lastRefreshedAt?: number;
  /** The hosted configuration version label of the configuration in use, when AppConfig gave one. */
  readonly versionLabel?: string;
  /** Failed refreshes since the last success. */
  readonly consecutiveFailures: number;
}

export interface FlagsClientEvents extends Record<string, unknown> {
  /** AppConfig answered; `changed` when it delivered a configuration (the first one included). */
  refreshed: { readonly at: number; readonly changed: boolean; readonly versionLabel?: string };
  refreshFailed: { readonly at: number; readonly error: unknown; readonly consecutiveFailures: number };
}

/** AppConfig's bounds for RequiredMinimumPollIntervalInSeconds. */
const MIN_POLL_SECONDS = 15;
const MAX_POLL_SECONDS = 86_400;

/** Decides feature flags per user from the configuration AppConfig deployed, without I/O per call. */
export class FlagsClient extends TypedEmitter<FlagsClientEvents> {
  private readonly options: FlagsClientOptions;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly pollIntervalSeconds: number;
  private readonly evaluator: FlagEvaluator;
  private readonly stopping = new AbortController();
  private token?: string;
  private lastRefreshedAt?: number;
  private versionLabel?: string;
  private consecutiveFailures = 0;
  private loop?: Promise<void>;
  private firstAttempt?: Promise<void>;

  constructor(options: FlagsClientOptions) {
    super();
    const problems = new Problems();
    problems.wholeNumber('pollIntervalSeconds', options.pollIntervalSeconds, MIN_POLL_SECONDS, MAX_POLL_SECONDS, 'seconds');
    problems.wholeNumber('requestTimeoutMs', options.requestTimeoutMs, 1, 60_000);
    for (const [name, value] of Object.entries({ applicationId: options.applicationId, environmentId: options.environmentId, configurationProfileId: options.configurationProfileId })) {
      problems.check(typeof value === 'string' && value !== '', `${name} must name the AppConfig ${name.replace(/Id$/, '')} (given ${JSON.stringify(value)})`);
    }
    problems.throwIfAny((list) => new FlagsError(`invalid flags client options:\n${formatProblems(list)}`, 'BadOptions'));
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.pollIntervalSeconds = options.pollIntervalSeconds ?? MIN_POLL_SECONDS;
    this.evaluator = new FlagEvaluator(options.definitions, this.logger);
  }

  /**
   * Starts polling. Resolves once the first refresh has succeeded or failed (never rejects), so a
   * server can wait for real values before it reports healthy without depending on AppConfig being
   * up. Safe to call twice.
   */
  start(): Promise<void> {
    if (this.loop === undefined) {
      let attempted!: () => void;
      this.firstAttempt = new Promise<void>((resolve) => {
        attempted = resolve;
      });
      this.loop = this.run(attempted);
    }
    return this.firstAttempt!;
  }

  /** Stops polling (a call in flight is abandoned); the last values stay in force. Safe to call twice. */
  async stop(): Promise<void> {
    this.stopping.abort(new FlagsError('the flags client stopped', 'Stopped'));
    await this.loop;
  }

  /** See FlagEvaluator.isEnabled: the kill switch, then the user's sticky bucket; never throws, no I/O. */
  isEnabled(flag: string, context: FlagContext): boolean {
    return this.evaluator.isEnabled(flag, context);
  }

  status(): FlagsStatus {
    return {
      source: this.evaluator.hasDeployedValues ? 'appconfig' : 'code-defaults',
      ...(this.lastRefreshedAt !== undefined ? { lastRefreshedAt: this.lastRefreshedAt } : {}),
      ...(this.versionLabel !== undefined ? { versionLabel: this.versionLabel } : {}),
      consecutiveFailures: this.consecutiveFailures,
    };
  }

  private async run(attempted: () => void): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      let delayMs: number;
      try {
        delayMs = (await this.refresh(signal)) * 1000;
        if (this.consecutiveFailures > 0) this.logger.log('info', 'flags.refresh_recovered', { failures: this.consecutiveFailures });
        this.consecutiveFailures = 0;
      } catch (error) {
        if (signal.aborted) break;
        this.consecutiveFailures += 1;
        this.reportFailure(error);
        // Jittered: after an outage, every instance's retries spread out instead of arriving together.
        delayMs = withJitter(exponentialBackoff(this.consecutiveFailures, { initial: 1000, max: this.pollIntervalSeconds * 1000 }));
      }
      attempted();
      try {
        await this.clock.sleep(delayMs, signal);
      } catch {
        break;
      }
    }
    attempted();
  }

  /** One GetLatestConfiguration (after a new session when there is no token); returns the seconds to wait. */
  private async refresh(signal: AbortSignal): Promise<number> {
    const { client, applicationId, environmentId, configurationProfileId } = this.options;
    if (this.token === undefined) {
      const session = await client.send(
        new StartConfigurationSessionCommand({
          ApplicationIdentifier: applicationId,
          EnvironmentIdentifier: environmentId,
          ConfigurationProfileIdentifier: configurationProfileId,
          RequiredMinimumPollIntervalInSeconds: this.pollIntervalSeconds,
        }),
        { abortSignal: this.callSignal(signal) },
      );
      if (!session.InitialConfigurationToken) throw new FlagsError('StartConfigurationSession returned no token', 'NoToken');
      this.token = session.InitialConfigurationToken;
    }
    let answer;
    try {
      answer = await client.send(new GetLatestConfigurationCommand({ ConfigurationToken: this.token }), { abortSignal: this.callSignal(signal) });
    } catch (error) {
      // An expired (24 h), used or early token, or a configuration that moved: only a new session helps.
      if (error instanceof Error && (error.name === 'BadRequestException' || error.name === 'ResourceNotFoundException')) this.token = undefined;
      throw error;
    }
    // Each token is good for one call: the next call must use the one this answer carries.
    this.token = answer.NextPollConfigurationToken;
    const at = this.clock.now();
    this.lastRefreshedAt = at;
    const content = answer.Configuration;
    const changed = content !== undefined && content.length > 0;
    if (changed) this.apply(new TextDecoder().decode(content), answer.VersionLabel);
    this.emit('refreshed', { at, changed, ...(answer.VersionLabel ? { versionLabel: answer.VersionLabel } : {}) });
    return answer.NextPollIntervalInSeconds ?? this.pollIntervalSeconds;
  }

  /** A new configuration: used unless it holds no usable flag at all, in which case the last good one stays. */
  private apply(text: string, versionLabel: string | undefined): void {
    const { values, problems } = parseDeployedFlagValues(text);
    if (problems.length > 0) this.logger.log('error', 'flags.configuration_problems', { versionLabel, problems });
    if (values.size === 0 && problems.length > 0) return;
    this.evaluator.use(values);
    this.versionLabel = versionLabel;
    this.logger.log('info', 'flags.configuration_received', { versionLabel, flags: Object.fromEntries(values) });
  }

  private reportFailure(error: unknown): void {
    this.emit('refreshFailed', { at: this.clock.now(), error, consecutiveFailures: this.consecutiveFailures });
    // The first failure of an outage, then one line in 20 (every 5 minutes at the default interval), not one per poll.
    if (this.consecutiveFailures !== 1 && this.consecutiveFailures % 20 !== 0) return;
    const fallback = this.evaluator.hasDeployedValues ? `keeping the configuration received at ${new Date(this.lastRefreshedAt!).toISOString()}` : 'answering the code defaults';
    this.logger.log('warn', 'flags.refresh_failed', { error, consecutiveFailures: this.consecutiveFailures, fallback });
  }

  private callSignal(signal: AbortSignal): AbortSignal {
    return AbortSignal.any([signal, AbortSignal.timeout(this.options.requestTimeoutMs ?? 5000)]);
  }
}
