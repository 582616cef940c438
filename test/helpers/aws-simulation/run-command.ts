import type {
  CancelCommandCommandInput,
  CommandInvocationStatus,
  GetCommandInvocationCommandInput,
  GetCommandInvocationCommandOutput,
  SendCommandCommandInput,
  SendCommandCommandOutput,
} from '@aws-sdk/client-ssm';
import { RELEASE_VERSION_PATTERN } from '../../../lib/runtime/release/release-version.ts';
import type { SimulatedArtifactBucket } from './artifact-bucket.ts';
import { awsError } from './aws-errors.ts';
import type { Fleet } from './fleet.ts';
import type { SimulationContext } from './simulation-context.ts';

export interface RunCommandSettings {
  /** How long `sluice-install` takes on an instance; its app is stopped all that time. @default 20 seconds */
  readonly installDurationMs?: number;
  /** How long `sluice-install` waits for a bad version to report healthy before exit 4. @default 60 seconds */
  readonly installHealthTimeoutMs?: number;
  /** GetCommandInvocation answers InvocationDoesNotExist this long after SendCommand. @default 500 milliseconds */
  readonly invocationVisibleAfterMs?: number;
  /** The invocation stays Pending this long before the agent starts it. @default 1 second */
  readonly deliveryMs?: number;
}

/** An injected install failure for one (instance, version). */
export interface InstallFailure {
  /** 3 fails while downloading (the app is not touched); others after the app was restarted. @default 1 */
  readonly exitCode?: number;
  /** What the script prints to stderr. @default - a tar error */
  readonly output?: string;
}

type Status = CommandInvocationStatus | 'Pending';

interface Invocation {
  readonly commandId: string;
  readonly instanceId: string;
  readonly commandLine: string;
  readonly visibleAt: number;
  readonly executionTimeoutMs: number;
  status: Status;
  statusDetails: string;
  responseCode: number;
  stdout: string;
  stderr: string;
  startedAt?: number;
  endedAt?: number;
  /** The script's pending steps, cancelled when it is killed. */
  readonly timers: Array<() => void>;
  /** Puts the instance back the way a killed script leaves it. */
  onKill?: () => void;
}

/** GetCommandInvocation returns at most this much of each output stream. */
const OUTPUT_LIMIT = 24_000;
const APP_PORT = 8080;
const HEALTH_CHECK_PATH = '/health';

/**
 * SSM Run Command with `AWS-RunShellScript`, running a model of what the instance would do:
 * `sluice-install <version>` (download, stop, switch, restart, wait healthy; exit 0/2/3/4) and the
 * local health-endpoint read. Anything else fails as `command not found`.
 */
export class SimulatedRunCommand {
  /** Injected failures by `${instanceId} ${version}`. */
  readonly failures = new Map<string, InstallFailure>();
  private readonly invocations = new Map<string, Invocation>();
  private readonly installDurationMs: number;
  private readonly installHealthTimeoutMs: number;
  private readonly invocationVisibleAfterMs: number;
  private readonly deliveryMs: number;
  private commandCount = 0;

  constructor(
    private readonly context: SimulationContext,
    private readonly fleet: Fleet,
    private readonly bucket: SimulatedArtifactBucket,
    settings: RunCommandSettings = {},
  ) {
    this.installDurationMs = settings.installDurationMs ?? 20_000;
    this.installHealthTimeoutMs = settings.installHealthTimeoutMs ?? 60_000;
    this.invocationVisibleAfterMs = settings.invocationVisibleAfterMs ?? 500;
    this.deliveryMs = settings.deliveryMs ?? 1000;
  }

  send(input: SendCommandCommandInput): SendCommandCommandOutput {
    if (input.DocumentName !== 'AWS-RunShellScript') throw awsError('ssm', 'InvalidDocument', `Document ${input.DocumentName ?? ''} does not exist in your account.`);
    const instanceIds = input.InstanceIds ?? [];
    const unreachable = instanceIds.filter((id) => !this.fleet.get(id)?.running);
    if (instanceIds.length === 0 || unreachable.length > 0) {
      throw awsError('ssm', 'InvalidInstanceId', `Instances [[${unreachable.join(', ')}]] not in a valid state for account 123456789012`);
    }
    const commandLine = (input.Parameters?.commands ?? []).join('\n');
    const executionTimeoutMs = Number(input.Parameters?.executionTimeout?.[0] ?? 3600) * 1000;
    this.commandCount += 1;
    const commandId = `00000000-0000-4000-8000-${this.commandCount.toString(16).padStart(12, '0')}`;
    const now = this.context.clock.now();
    for (const instanceId of instanceIds) {
      const invocation: Invocation = {
        commandId,
        instanceId,
        commandLine,
        visibleAt: now + this.invocationVisibleAfterMs,
        executionTimeoutMs,
        status: 'Pending',
        statusDetails: 'Pending',
        responseCode: -1,
        stdout: '',
        stderr: '',
        timers: [],
      };
      this.invocations.set(key(commandId, instanceId), invocation);
      this.context.log.record('command', commandId, `sent to ${instanceId}: ${commandLine}`);
      invocation.timers.push(this.context.log.at(now + this.deliveryMs, () => this.start(invocation)));
    }
    return {
      $metadata: {},
      Command: { CommandId: commandId, DocumentName: input.DocumentName, InstanceIds: instanceIds, Parameters: input.Parameters, Status: 'Pending', RequestedDateTime: new Date(now) },
    };
  }

  get(input: GetCommandInvocationCommandInput): GetCommandInvocationCommandOutput {
    const invocation = this.invocations.get(key(input.CommandId ?? '', input.InstanceId ?? ''));
    // Right after SendCommand the invocation is not visible yet (eventual consistency).
    if (!invocation || this.context.clock.now() < invocation.visibleAt) throw awsError('ssm', 'InvocationDoesNotExist', '');
    return {
      $metadata: {},
      CommandId: invocation.commandId,
      InstanceId: invocation.instanceId,
      DocumentName: 'AWS-RunShellScript',
      PluginName: 'aws:runShellScript',
      Status: invocation.status as CommandInvocationStatus,
      StatusDetails: invocation.statusDetails,
      ResponseCode: invocation.responseCode,
      StandardOutputContent: invocation.stdout.slice(0, OUTPUT_LIMIT),
      StandardErrorContent: invocation.stderr.slice(0, OUTPUT_LIMIT),
      ExecutionStartDateTime: invocation.startedAt === undefined ? '' : new Date(invocation.startedAt).toISOString(),
      ExecutionEndDateTime: invocation.endedAt === undefined ? '' : new Date(invocation.endedAt).toISOString(),
    };
  }

  cancel(input: CancelCommandCommandInput): void {
    const matching = [...this.invocations.values()].filter(
      (invocation) => invocation.commandId === input.CommandId && (!input.InstanceIds?.length || input.InstanceIds.includes(invocation.instanceId)),
    );
    if (matching.length === 0) throw awsError('ssm', 'InvalidCommandId', '');
    for (const invocation of matching) {
      if (isFinished(invocation)) continue;
      this.kill(invocation);
      this.finish(invocation, 'Cancelled', 'Cancelled', -1);
    }
  }

  /** The agent is gone with its instance: the script stops, and nobody reports until the execution timeout. */
  instanceTerminated(instanceId: string): void {
    for (const invocation of this.invocations.values()) {
      if (invocation.instanceId !== instanceId || isFinished(invocation)) continue;
      for (const cancel of invocation.timers.splice(0)) cancel();
      invocation.onKill = undefined;
      this.after(invocation, invocation.executionTimeoutMs, () => this.finish(invocation, 'TimedOut', 'ExecutionTimedOut', -1));
    }
  }

  private start(invocation: Invocation): void {
    invocation.status = 'InProgress';
    invocation.statusDetails = 'InProgress';
    invocation.startedAt = this.context.clock.now();
    this.context.log.record('command', invocation.commandId, `InProgress on ${invocation.instanceId}`);
    this.after(invocation, invocation.executionTimeoutMs, () => {
      this.kill(invocation);
      this.finish(invocation, 'TimedOut', 'ExecutionTimedOut', -1);
    });
    const version = /sluice-install\s+'([^']*)'/.exec(invocation.commandLine)?.[1] ?? /sluice-install\s+(\S+)/.exec(invocation.commandLine)?.[1];
    if (version !== undefined) this.install(invocation, version);
    else if (/curl\b.*127\.0\.0\.1/.test(invocation.commandLine)) this.readHealth(invocation);
    else this.after(invocation, 100, () => this.finish(invocation, 'Failed', 'Failed', 127, '', `sh: line 1: ${invocation.commandLine.split(/\s/)[0]}: command not found`));
  }

  private install(invocation: Invocation, version: string): void {
    const { instanceId } = invocation;
    if (!RELEASE_VERSION_PATTERN.test(version)) {
      const message = `sluice-install: invalid version '${version}' (letters, digits, '.', '_', '+', '-'; at most 128)`;
      this.after(invocation, 100, () => this.finish(invocation, 'Failed', 'Failed', 2, '', message));
      return;
    }
    const failure = this.failures.get(`${instanceId} ${version}`);
    if (!this.bucket.has(version) || failure?.exitCode === 3) {
      const message = failure?.output ?? `sluice-install: s3://${this.bucket.name}/releases/${version}.tgz could not be downloaded; upload the release artifact first`;
      this.after(invocation, this.installDurationMs / 4, () => this.finish(invocation, 'Failed', 'Failed', 3, '', message));
      return;
    }
    const previousVersion = this.fleet.get(instanceId)?.version;
    this.fleet.setAppUp(instanceId, false);
    invocation.onKill = () => this.fleet.setAppUp(instanceId, true);
    this.after(invocation, this.installDurationMs, () => {
      if (failure) {
        this.fleet.setVersion(instanceId, previousVersion);
        this.fleet.setAppUp(instanceId, true);
        this.finish(invocation, 'Failed', 'Failed', failure.exitCode ?? 1, '', failure.output ?? 'tar: Unexpected EOF in archive\ntar: Error is not recoverable: exiting now');
        return;
      }
      this.fleet.setVersion(instanceId, version);
      this.fleet.setAppUp(instanceId, true);
      invocation.onKill = undefined;
      if (!this.fleet.badVersions.has(version)) {
        this.finish(invocation, 'Success', 'Success', 0, `sluice-install: ${version} is live\n{"status":"ok","version":"${version}"}\n`);
        return;
      }
      this.after(invocation, this.installHealthTimeoutMs, () => {
        const seconds = Math.round(this.installHealthTimeoutMs / 1000);
        const journal = Array.from({ length: 40 }, (_, line) => `sluice-web[2211]: GET ${HEALTH_CHECK_PATH} 503 (${version}: check ${line + 1} failed)`);
        const stderr = [`sluice-install: http://127.0.0.1:${APP_PORT}${HEALTH_CHECK_PATH} did not report version ${version} within ${seconds}s`, ...journal].join('\n');
        this.finish(invocation, 'Failed', 'Failed', 4, '', `${stderr}\n`);
      });
    });
  }

  private readHealth(invocation: Invocation): void {
    this.after(invocation, 200, () => {
      const instance = this.fleet.get(invocation.instanceId);
      const answer = this.fleet.healthCheck(invocation.instanceId);
      if (answer === 'ok') {
        this.finish(invocation, 'Success', 'Success', 0, `{"status":"ok","version":"${instance?.version ?? ''}"}`);
      } else if (answer === 'error-status') {
        this.finish(invocation, 'Failed', 'Failed', 22, '', 'curl: (22) The requested URL returned error: 503');
      } else {
        this.finish(invocation, 'Failed', 'Failed', 7, '', `curl: (7) Failed to connect to 127.0.0.1 port ${APP_PORT} after 0 ms: Couldn't connect to server`);
      }
    });
  }

  private after(invocation: Invocation, delayMs: number, step: () => void): void {
    invocation.timers.push(this.context.log.at(this.context.clock.now() + delayMs, step));
  }

  private kill(invocation: Invocation): void {
    for (const cancel of invocation.timers.splice(0)) cancel();
    invocation.onKill?.();
    invocation.onKill = undefined;
  }

  private finish(invocation: Invocation, status: Status, statusDetails: string, responseCode: number, stdout = '', stderr = ''): void {
    if (isFinished(invocation)) return;
    for (const cancel of invocation.timers.splice(0)) cancel();
    Object.assign(invocation, { status, statusDetails, responseCode, stdout, stderr, endedAt: this.context.clock.now() });
    this.context.log.record('command', invocation.commandId, `${status} on ${invocation.instanceId} (exit ${responseCode})`);
  }
}

function key(commandId: string, instanceId: string): string {
  return `${commandId} ${instanceId}`;
}

function isFinished(invocation: Invocation): boolean {
  return ['Success', 'Failed', 'TimedOut', 'Cancelled'].includes(invocation.status);
}
