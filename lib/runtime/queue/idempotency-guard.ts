// The public helper for your handlers whose side effects must not repeat: a record per message id
// in DynamoDB. SQS delivers at least once, so a message can arrive twice (a delete that failed, a
// visibility that lapsed, SQS's own duplicates). Before the handler runs, a conditional put claims
// the message id; a message already done is skipped (and deleted), one claimed by a live worker
// elsewhere fails and is retried later, and a claim whose worker died expires after `leaseMs`.
//
// Nothing in sluice itself uses it: the example work handler (app/work-handler.ts) has no side
// effect to protect, and the stack creates no table the app may write (the release table has the
// shape, but it holds the release lock, and instances get no access to it). To use it, add a table
// and grant the worker's role (and the Lambda consumer's, if any) dynamodb:PutItem, GetItem,
// UpdateItem and DeleteItem on it, then wrap the handler where the worker is built:
//
//   handler: withIdempotency(new IdempotencyGuard({ documentClient, tableName }), handleWork)
//
// Table shape: string partition key `pk` and sort key `sk`, TTL on `expiresAt` (epoch seconds).
// Items: pk `idempotency#<namespace>#<messageId>`, sk `claim`, with status (in-progress | done),
// token, leaseUntil (ms) and expiresAt. TTL deletes lazily, so the conditions read expiresAt themselves.
import { randomUUID } from 'node:crypto';
import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type Clock, systemClock } from '../clock.ts';
import { QueueProcessorError } from './errors.ts';
import type { QueueHandler } from './queue-message.ts';

export interface IdempotencyGuardOptions {
  /** The caller owns and destroys it. */
  readonly documentClient: DynamoDBDocumentClient;
  readonly tableName: string;
  /**
   * Separates queues that share a table.
   * @default 'queue'
   */
  readonly namespace?: string;
  /**
   * How long a done record keeps duplicates away. Duplicates come from retries and SQS's
   * at-least-once delivery, hours apart at most.
   * @default 24 hours
   */
  readonly retentionSeconds?: number;
  /**
   * How long a claim blocks other workers; a worker that dies mid-handler releases its claim after
   * this. Keep it above the processor's handlerTimeoutMs.
   * @default 16 minutes
   */
  readonly leaseMs?: number;
  /**
   * Tells the time that leases and retention are judged by.
   * @default systemClock
   */
  readonly clock?: Clock;
}

export type Claim = { readonly status: 'claimed'; readonly token: string } | { readonly status: 'already-done' };

/** Another worker is handling this message right now; it fails here and is retried after back-off. */
export class MessageInProgressError extends QueueProcessorError {
  constructor(readonly messageId: string, readonly leaseUntil: number) {
    super(`message ${messageId} is being handled by another worker until ${new Date(leaseUntil).toISOString()} at the latest; it will be retried`, 'InProgressElsewhere');
    this.name = 'MessageInProgressError';
  }
}

const IN_PROGRESS = 'in-progress';
const DONE = 'done';

export class IdempotencyGuard {
  private readonly namespace: string;
  private readonly retentionSeconds: number;
  private readonly leaseMs: number;
  private readonly clock: Clock;

  constructor(private readonly options: IdempotencyGuardOptions) {
    this.namespace = options.namespace ?? 'queue';
    this.retentionSeconds = options.retentionSeconds ?? 24 * 60 * 60;
    this.leaseMs = options.leaseMs ?? 16 * 60_000;
    this.clock = options.clock ?? systemClock;
  }

  /** Claims `messageId` for this worker, or reports it done; throws MessageInProgressError if a live claim exists. */
  async claim(messageId: string, signal?: AbortSignal): Promise<Claim> {
    const now = this.clock.now();
    const token = randomUUID();
    try {
      await this.options.documentClient.send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: { ...this.key(messageId), status: IN_PROGRESS, token, leaseUntil: now + this.leaseMs, expiresAt: this.expiresAt(now) },
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :nowSeconds OR (#status = :inProgress AND leaseUntil < :now)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':nowSeconds': Math.floor(now / 1000), ':inProgress': IN_PROGRESS, ':now': now },
        }),
        signal ? { abortSignal: signal } : {},
      );
      return { status: 'claimed', token };
    } catch (error) {
      if (!(error instanceof Error) || error.name !== 'ConditionalCheckFailedException') throw error;
    }
    const { Item } = await this.options.documentClient.send(
      new GetCommand({ TableName: this.options.tableName, Key: this.key(messageId), ConsistentRead: true }),
      signal ? { abortSignal: signal } : {},
    );
    if (Item?.status === DONE) return { status: 'already-done' };
    // The claim vanished or lapsed between the put and the read: whoever comes next may take it.
    throw new MessageInProgressError(messageId, typeof Item?.leaseUntil === 'number' ? Item.leaseUntil : now);
  }

  /** Marks `messageId` done, so that later deliveries are skipped until the retention ends. */
  async complete(messageId: string): Promise<void> {
    const now = this.clock.now();
    await this.options.documentClient.send(new UpdateCommand({
      TableName: this.options.tableName,
      Key: this.key(messageId),
      UpdateExpression: 'SET #status = :done, expiresAt = :expiresAt REMOVE leaseUntil, #token',
      ExpressionAttributeNames: { '#status': 'status', '#token': 'token' },
      ExpressionAttributeValues: { ':done': DONE, ':expiresAt': this.expiresAt(now) },
    }));
  }

  /** Drops this worker's claim after a failure so that the retry can claim it at once. */
  async release(messageId: string, token: string): Promise<void> {
    try {
      await this.options.documentClient.send(new DeleteCommand({
        TableName: this.options.tableName,
        Key: this.key(messageId),
        ConditionExpression: '#status = :inProgress AND #token = :token',
        ExpressionAttributeNames: { '#status': 'status', '#token': 'token' },
        ExpressionAttributeValues: { ':inProgress': IN_PROGRESS, ':token': token },
      }));
    } catch (error) {
      // Someone else's claim by now (ours lapsed): theirs to keep.
      if (!(error instanceof Error) || error.name !== 'ConditionalCheckFailedException') throw error;
    }
  }

  private key(messageId: string): { pk: string; sk: string } {
    return { pk: `idempotency#${this.namespace}#${messageId}`, sk: 'claim' };
  }

  private expiresAt(now: number): number {
    return Math.floor(now / 1000) + this.retentionSeconds;
  }
}

/**
 * Runs `handler` at most once per message id (while the record lasts): a message already done
 * resolves at once (and is deleted); a failure releases the claim so that the retry runs.
 */
export function withIdempotency<Body>(guard: IdempotencyGuard, handler: QueueHandler<Body>): QueueHandler<Body> {
  return async (message, context) => {
    const claim = await guard.claim(message.messageId, context.signal);
    if (claim.status === 'already-done') return;
    try {
      await handler(message, context);
    } catch (error) {
      await guard.release(message.messageId, claim.token).catch(() => undefined);
      throw error;
    }
    await guard.complete(message.messageId);
  };
}
