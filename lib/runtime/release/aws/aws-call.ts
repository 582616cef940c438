// One AWS API call as the release adapters make it: throttling and server errors are retried with
// capped exponential back-off on the injected clock (so tests run it in virtual time); any other
// failure surfaces as an AwsCallError that says which call failed, on what, and what to do.
import { exponentialBackoff } from '../../backoff.ts';
import { isTransientAwsError } from '../../transient-aws-error.ts';
import type { Clock } from '../../clock.ts';
import { isAbort, ReleaseError } from '../errors.ts';

/** An AWS call failed for a reason retrying does not fix (or it kept being throttled). */
export class AwsCallError extends ReleaseError {
  constructor(
    readonly operation: string,
    readonly subject: string,
    /** The AWS error code, e.g. `AccessDenied`, `TargetGroupNotFound`. */
    readonly awsCode: string,
    detail: string,
    hint: string,
    options?: ErrorOptions,
  ) {
    super(`${operation} for ${subject} failed: ${awsCode}: ${detail}; ${hint}`, awsCode, options);
    this.name = 'AwsCallError';
  }
}

export interface RetryPolicy {
  /** @default 8 (about 30 seconds of back-off in total) */
  readonly maxAttempts?: number;
  /** @default 200 milliseconds */
  readonly baseDelayMs?: number;
  /** @default 10 seconds */
  readonly maxDelayMs?: number;
}

export interface AwsCall {
  readonly clock: Clock;
  /** The API operation, e.g. `DescribeTargetHealth`. */
  readonly operation: string;
  /** What the call acts on, e.g. `target i-0abc in <target group ARN>`. */
  readonly subject: string;
  /** What the user should check when the call fails, e.g. `check the TargetGroupArn output`. */
  readonly hint: string;
  readonly signal?: AbortSignal;
  readonly retry?: RetryPolicy;
  /** Errors the caller handles itself (e.g. InvocationDoesNotExist): rethrown as they are. */
  readonly expected?: (error: unknown) => boolean;
}

export async function callAws<T>(call: AwsCall, send: (signal?: AbortSignal) => Promise<T>): Promise<T> {
  const maxAttempts = call.retry?.maxAttempts ?? 8;
  const baseDelayMs = call.retry?.baseDelayMs ?? 200;
  const maxDelayMs = call.retry?.maxDelayMs ?? 10_000;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await send(call.signal);
    } catch (error) {
      if (isAbort(error) || call.expected?.(error)) throw error;
      call.signal?.throwIfAborted();
      if (!isTransientAwsError(error) || attempt >= maxAttempts) throw explain(call, error, attempt);
      // No jitter: the release lock allows one release per stage, so there is no herd of clients to spread out.
      await call.clock.sleep(exponentialBackoff(attempt, { initial: baseDelayMs, max: maxDelayMs }), call.signal);
    }
  }
}

function explain(call: AwsCall, error: unknown, attempts: number): AwsCallError {
  const code = error instanceof Error ? error.name : 'UnknownError';
  const detail = error instanceof Error ? error.message : String(error);
  const hint = isTransientAwsError(error)
    ? `still failing after ${attempts} attempts; wait a minute and rerun (the release resumes where it stopped)`
    : /AccessDenied|Unauthorized|ExpiredToken|InvalidClientTokenId|SignatureDoesNotMatch|CredentialsProviderError/.test(code)
      ? `check that the AWS credentials in use are valid and allow ${call.operation}`
      : call.hint;
  return new AwsCallError(call.operation, call.subject, code, detail, hint, { cause: error });
}
