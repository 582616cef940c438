// The outputs of a deployed stage's stack, read with CloudFormation DescribeStacks. Shared by the
// CLIs (`sluice release|status`, `sluice stream`): each takes the names it needs from here unless a
// flag gives them. Throttling and server errors are retried with capped exponential back-off on the
// injected clock; anything else says which call failed and what to check.
import { type CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { exponentialBackoff } from './backoff.ts';
import { type Clock, systemClock } from './clock.ts';
import { isTransientAwsError } from './transient-aws-error.ts';

/** The stack does not exist in the client's region; a CLI reports it as bad input. */
export class StackNotFoundError extends Error {
  constructor(readonly stackName: string, readonly region: string) {
    const stage = stackName.startsWith('sluice-') ? stackName.slice('sluice-'.length) : '<stage>';
    super(`stack ${stackName} not found in ${region}; deploy it with npx cdk deploy -c stage=${stage}, or pass every output as a flag`);
    this.name = 'StackNotFoundError';
  }
}

/** DescribeStacks failed for a reason retrying does not fix, or kept being throttled. */
export class StackOutputsError extends Error {
  constructor(readonly stackName: string, readonly awsCode: string, detail: string, hint: string, options?: ErrorOptions) {
    super(`DescribeStacks for stack ${stackName} failed: ${awsCode}: ${detail}; ${hint}`, options);
    this.name = 'StackOutputsError';
  }
}

export interface ReadStackOutputsOptions {
  /** Waits between throttled retries. @default systemClock */
  readonly clock?: Clock;
  /** @default 8 (about 30 seconds of back-off in total) */
  readonly maxAttempts?: number;
  readonly signal?: AbortSignal;
}

/** The outputs of a deployed stage's stack, by output key (see StackOutputs in stack-contract.ts). */
export async function readStackOutputs(client: CloudFormationClient, stackName: string, options: ReadStackOutputsOptions = {}): Promise<Record<string, string>> {
  const { clock = systemClock, maxAttempts = 8, signal } = options;
  for (let attempt = 1; ; attempt += 1) {
    try {
      const response = await client.send(new DescribeStacksCommand({ StackName: stackName }), { abortSignal: signal });
      const outputs: Record<string, string> = {};
      for (const output of response.Stacks?.[0]?.Outputs ?? []) {
        if (output.OutputKey && output.OutputValue !== undefined) outputs[output.OutputKey] = output.OutputValue;
      }
      return outputs;
    } catch (error) {
      if (isAbort(error)) throw error;
      signal?.throwIfAborted();
      if (error instanceof Error && isMissingStack(error)) throw new StackNotFoundError(stackName, await regionOf(client));
      if (!isTransientAwsError(error) || attempt >= maxAttempts) throw explain(stackName, error, attempt);
      // No jitter: one person or CI job reads a stage's outputs at a time, there is no herd to spread out.
      await clock.sleep(exponentialBackoff(attempt, { initial: 200, max: 10_000 }), signal);
    }
  }
}

/** DescribeStacks answers a missing stack with ValidationError "Stack with id X does not exist". */
function isMissingStack(error: Error): boolean {
  return error.name === 'StackNotFoundException' || (error.name === 'ValidationError' && /does not exist/.test(error.message));
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError');
}

function explain(stackName: string, error: unknown, attempts: number): StackOutputsError {
  const code = error instanceof Error ? error.name : 'UnknownError';
  const detail = error instanceof Error ? error.message : String(error);
  const hint = isTransientAwsError(error)
    ? `still failing after ${attempts} attempts; wait a minute and rerun`
    : /AccessDenied|Unauthorized|ExpiredToken|InvalidClientTokenId|SignatureDoesNotMatch|CredentialsProviderError/.test(code)
      ? 'check that the AWS credentials in use are valid and allow DescribeStacks'
      : 'check the AWS credentials and region, then rerun';
  return new StackOutputsError(stackName, code, detail, hint, { cause: error });
}

async function regionOf(client: CloudFormationClient): Promise<string> {
  try {
    return await client.config.region();
  } catch {
    return 'the configured region';
  }
}
