import {
  CancelCommandCommand,
  GetCommandInvocationCommand,
  type GetCommandInvocationCommandOutput,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import type { Clock } from '../../clock.ts';
import { PollCadence } from '../poll-cadence.ts';
import { callAws, type RetryPolicy } from './aws-call.ts';

export interface SsmShellCommandRunnerProps {
  readonly client: SSMClient;
  readonly clock: Clock;
  /** @default 1000 milliseconds */
  readonly pollIntervalMs?: number;
  /** @default - see RetryPolicy */
  readonly retry?: RetryPolicy;
}

export interface ShellCommand {
  readonly instanceId: string;
  readonly commands: readonly string[];
  /** Becomes the command's executionTimeout; the runner gives up (and cancels) a little after it. */
  readonly timeoutMs: number;
  /** Shown in the SSM console's command history. */
  readonly comment: string;
  readonly signal?: AbortSignal;
}

export interface ShellCommandResult {
  readonly commandId: string;
  /** `Success`, `Failed`, `TimedOut` or `Cancelled`; `TimedOut` also when the runner's own deadline passed. */
  readonly status: string;
  /** E.g. `ExecutionTimedOut`, `DeliveryTimedOut`, `Undeliverable`; `DeadlineExceeded` for the runner's own deadline. */
  readonly statusDetails: string;
  /** The script's exit code; -1 when it did not finish. */
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

const TERMINAL_STATUSES = new Set(['Success', 'Failed', 'TimedOut', 'Cancelled']);

/**
 * SendCommand makes the invocation visible to GetCommandInvocation only after a moment (eventual
 * consistency: InvocationDoesNotExist). It usually takes about a second; this allows a slow region
 * without hiding a command that really is gone for a whole install timeout.
 */
const INVOCATION_VISIBILITY_GRACE_MS = 30_000;

/**
 * The agent enforces executionTimeout itself and then reports the output; the runner waits this much
 * longer before it cancels on its own, which only matters when the agent does not answer at all.
 */
const AGENT_TIMEOUT_ALLOWANCE_MS = 5_000;

/** Runs a shell script on one instance through SSM Run Command (`AWS-RunShellScript`) and waits for it. */
export class SsmShellCommandRunner {
  private readonly client: SSMClient;
  private readonly clock: Clock;
  private readonly pollIntervalMs: number;
  private readonly retry?: RetryPolicy;

  constructor(props: SsmShellCommandRunnerProps) {
    this.client = props.client;
    this.clock = props.clock;
    this.pollIntervalMs = props.pollIntervalMs ?? 1000;
    this.retry = props.retry;
  }

  /**
   * Resolves with the final invocation, whatever its status. An abort stops the waiting but leaves the
   * script running: killing an install half-way could leave the instance with its services stopped.
   */
  async run(command: ShellCommand): Promise<ShellCommandResult> {
    const { instanceId, signal } = command;
    const timeoutSeconds = Math.max(1, Math.ceil(command.timeoutMs / 1000));
    const sent = await this.call('SendCommand', instanceId, signal, (abortSignal) =>
      this.client.send(
        new SendCommandCommand({
          DocumentName: 'AWS-RunShellScript',
          InstanceIds: [instanceId],
          Comment: command.comment.slice(0, 100),
          Parameters: { commands: [...command.commands], executionTimeout: [String(timeoutSeconds)] },
          // Delivery timeout: how long SSM keeps trying to reach an agent that is offline (at least 30 s).
          TimeoutSeconds: Math.max(30, timeoutSeconds),
        }),
        { abortSignal },
      ),
    );
    const commandId = sent.Command?.CommandId;
    if (!commandId) throw new Error(`SendCommand for ${instanceId} returned no command id`);

    const sentAt = this.clock.now();
    const deadline = sentAt + command.timeoutMs + AGENT_TIMEOUT_ALLOWANCE_MS;
    const cadence = new PollCadence(this.clock, this.pollIntervalMs);
    for (;;) {
      const invocation = await this.invocation(commandId, instanceId, this.clock.now() - sentAt < INVOCATION_VISIBILITY_GRACE_MS, signal);
      if (invocation?.Status && TERMINAL_STATUSES.has(invocation.Status)) return toResult(commandId, invocation);
      const remainingMs = deadline - this.clock.now();
      if (remainingMs <= 0) {
        await this.cancel(commandId, instanceId, signal);
        return { ...toResult(commandId, invocation ?? {}), status: 'TimedOut', statusDetails: 'DeadlineExceeded' };
      }
      await cadence.wait(deadline, signal);
    }
  }

  /** The invocation, or undefined while it is not visible yet and `tolerateMissing` holds. */
  private async invocation(
    commandId: string,
    instanceId: string,
    tolerateMissing: boolean,
    signal?: AbortSignal,
  ): Promise<GetCommandInvocationCommandOutput | undefined> {
    const notYetVisible = (error: unknown) => tolerateMissing && error instanceof Error && error.name === 'InvocationDoesNotExist';
    try {
      return await this.call(
        'GetCommandInvocation',
        `command ${commandId} on ${instanceId}`,
        signal,
        (abortSignal) => this.client.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }), { abortSignal }),
        notYetVisible,
      );
    } catch (error) {
      if (notYetVisible(error)) return undefined;
      throw error;
    }
  }

  private async cancel(commandId: string, instanceId: string, signal?: AbortSignal): Promise<void> {
    // Best effort: the command already counts as timed out, and a failed cancel must not hide that.
    await this.call('CancelCommand', `command ${commandId} on ${instanceId}`, signal, (abortSignal) =>
      this.client.send(new CancelCommandCommand({ CommandId: commandId, InstanceIds: [instanceId] }), { abortSignal }),
    ).catch(() => undefined);
  }

  private call<T>(
    operation: string,
    subject: string,
    signal: AbortSignal | undefined,
    send: (signal?: AbortSignal) => Promise<T>,
    expected?: (error: unknown) => boolean,
  ): Promise<T> {
    const hint = 'check that the instance is running and managed by SSM (its agent online, its role allowing Run Command), then rerun';
    return callAws({ clock: this.clock, operation, subject, hint, signal, retry: this.retry, expected }, send);
  }
}

function toResult(commandId: string, invocation: Partial<GetCommandInvocationCommandOutput>): ShellCommandResult {
  return {
    commandId,
    status: invocation.Status ?? 'Pending',
    // Without spaces, whichever spelling arrives: the documentation writes e.g. "Execution Timed Out".
    statusDetails: (invocation.StatusDetails ?? '').replace(/\s+/g, ''),
    exitCode: invocation.ResponseCode ?? -1,
    stdout: invocation.StandardOutputContent ?? '',
    stderr: invocation.StandardErrorContent ?? '',
  };
}
