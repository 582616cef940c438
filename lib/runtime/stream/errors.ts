// Errors of the stream consumer. Each says what failed, why, and what happens next; subclasses carry
// the context (shard, AWS operation, AWS error code) that events and logs report.

export class StreamConsumerError extends Error {
  /** Machine-readable reason, e.g. `LeaseLost`, `StopDeadline`, `ProvisionedThroughputExceededException`. */
  readonly reasonCode: string;
  constructor(message: string, reasonCode: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StreamConsumerError';
    this.reasonCode = reasonCode;
  }
}

/** The consumer was given options it cannot work with; lists every problem. */
export class InvalidStreamConsumerOptionsError extends StreamConsumerError {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid StreamConsumer options:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`, 'InvalidOptions');
    this.name = 'InvalidStreamConsumerOptionsError';
  }
}

/**
 * Another worker took the shard's lease, a replay moved it, or it could not be renewed in time. The
 * shard stops at once and is not checkpointed: whoever holds the lease now resumes from its checkpoint.
 */
export class LeaseLostError extends StreamConsumerError {
  constructor(readonly shardId: string, readonly detail: string) {
    super(`the lease of ${shardId} was lost (${detail}); this worker stopped reading it without a checkpoint, its new owner resumes from the last checkpoint`, 'LeaseLost');
    this.name = 'LeaseLostError';
  }
}

/** The stop deadline passed while a batch was still being processed; it is not checkpointed. */
export class StopDeadlineError extends StreamConsumerError {
  constructor(readonly shardId: string, readonly deadlineMs: number) {
    super(`the consumer is stopping and a batch of ${shardId} was still being processed ${deadlineMs} ms after stop(); it is not checkpointed, the next owner processes it again`, 'StopDeadline');
    this.name = 'StopDeadlineError';
  }
}

/** A Kinesis, DynamoDB or SQS call failed; `retrying` says whether the consumer tries again. */
export class StreamCallError extends StreamConsumerError {
  constructor(
    readonly service: 'Kinesis' | 'DynamoDB' | 'SQS',
    readonly operation: string,
    readonly awsCode: string,
    detail: string,
    readonly shardId?: string,
    options?: ErrorOptions,
  ) {
    super(`${service} ${operation}${shardId ? ` for ${shardId}` : ''} failed (${awsCode}: ${detail}); the consumer retries with back-off`, awsCode, options);
    this.name = 'StreamCallError';
  }
}

/**
 * AWS refused the consumer itself: bad credentials, a missing permission, or no such stream or lease
 * table. Retrying cannot help, so the consumer stops.
 */
export class StreamAccessError extends StreamConsumerError {
  constructor(readonly service: 'Kinesis' | 'DynamoDB', readonly operation: string, readonly awsCode: string, detail: string, options?: ErrorOptions) {
    super(
      `${service} ${operation} was refused (${awsCode}: ${detail}); ${
        awsCode === 'ResourceNotFoundException'
          ? 'check the stream name and lease table name the consumer is configured with'
          : `check that the worker's AWS credentials are valid and allow ${service === 'Kinesis' ? 'kinesis' : 'dynamodb'}:${operation}`
      }. The consumer stopped.`,
      awsCode,
      options,
    );
    this.name = 'StreamAccessError';
  }
}

/** Turns anything thrown into an Error (processors may throw strings). */
export function asError(thrown: unknown): Error {
  return thrown instanceof Error ? thrown : new Error(String(thrown));
}

/** A replay was refused before anything was written; lists every problem. */
export class ReplayRefusedError extends StreamConsumerError {
  constructor(readonly problems: readonly string[]) {
    super(`Replay refused, nothing was changed:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`, 'ReplayRefused');
    this.name = 'ReplayRefusedError';
  }
}
