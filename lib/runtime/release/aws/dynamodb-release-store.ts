// The release table in DynamoDB: the lock, the waiting queue, the journal of the running release and
// the history, all in the stack's table (partition key `pk`, sort key `sk`, TTL attribute `expiresAt`).
//
// Item layout (times are ms since epoch unless the name says otherwise):
//
//   pk        sk                            attributes
//   lock      lock                          releaseId, version, holder, requestedAt, acquiredAt,
//                                           heartbeatAt, expiresAtMs
//   queue     <requestedAt:16>#<releaseId>  releaseId, version, holder, requestedAt, expiresAtMs,
//                                           expiresAt (TTL, epoch seconds)
//   journal   current                       releaseId, status (running | finished), release (map),
//                                           targets (map: targetId → JournalTarget)
//   history   <startedAt:16>#<releaseId>    releaseId, release (map)
//
// Sort keys hold zero-padded times, so a Query returns the queue oldest first and the history newest
// first (ScanIndexForward false). The lock and the queue keep their expiry in `expiresAtMs`, read by
// the conditions and filters: the table's TTL attribute `expiresAt` is in seconds and TTL deletes
// whenever it gets round to it, so it only collects garbage (abandoned queue entries).
//
// The journal is one item with a map of targets rather than an item per target: each step is one
// conditional UpdateItem that only lands while this release owns the journal (a release that lost
// its lock cannot write into its successor's journal), the journal reads back in one consistent
// GetItem, and closing it leaves no per-target items behind. A target entry is under 200 bytes, so
// the 400 KB item limit allows about 2,000 targets.
//
// dynalite (the tests' DynamoDB) has no transactions, so finishRelease makes two single writes in an
// order that is safe to repeat: history first (a Put to a fixed key), then the journal is closed. A
// crash in between leaves the journal open, and the rerun that repairs it writes the same history
// item again.

import type { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  paginateQuery,
  PutCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { isAbort, LockLostError, ReleaseError } from '../errors.ts';
import type { JournalTarget, LockAttempt, LockHolder, LockState, ReleaseRecord, ReleaseStore } from '../ports.ts';
import {
  historySortKey,
  journalTargetsInOrder,
  mayTakeLock,
  newLock,
  pickHolder,
  queueSortKey,
  takenOverFrom,
  UnfinishedJournalError,
} from '../release-store-rules.ts';

export { UnfinishedJournalError };

export interface DynamoDbReleaseStoreProps {
  /** A document client (numbers as JS numbers, the default); the caller owns and destroys it. */
  readonly client: DynamoDBDocumentClient;
  /** The stack's release table (output `ReleaseTableName`, or `--release-table`). */
  readonly tableName: string;
}

/** The release table is missing, unreachable, or refused a request. */
export class ReleaseTableError extends ReleaseError {
  constructor(readonly tableName: string, readonly operation: string, message: string, reasonCode: string, options?: ErrorOptions) {
    super(message, reasonCode, options);
    this.name = 'ReleaseTableError';
  }
}

const LOCK_KEY = { pk: 'lock', sk: 'lock' } as const;
const JOURNAL_KEY = { pk: 'journal', sk: 'current' } as const;
const QUEUE_PARTITION = 'queue';
const HISTORY_PARTITION = 'history';

/** TTL is garbage collection only: the margin keeps clock skew between hosts from removing a live entry. */
const QUEUE_TTL_MARGIN_SECONDS = 3_600;

/** A read between a failed conditional put and the next attempt can find the lock gone or expired; retry a few times. */
const MAX_ACQUIRE_ATTEMPTS = 5;

interface LockItem {
  readonly pk: string;
  readonly sk: string;
  readonly releaseId: string;
  readonly version: string;
  readonly holder: string;
  readonly requestedAt: number;
  readonly acquiredAt: number;
  readonly heartbeatAt: number;
  readonly expiresAtMs: number;
}

type JournalStatus = 'running' | 'finished';

interface JournalItem {
  readonly releaseId: string;
  readonly status: JournalStatus;
  readonly release: ReleaseRecord;
  readonly targets: Record<string, JournalTarget>;
}

export class DynamoDbReleaseStore implements ReleaseStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(props: DynamoDbReleaseStoreProps) {
    this.client = props.client;
    this.tableName = props.tableName;
  }

  // --- lock ----------------------------------------------------------------------------------------

  async tryAcquireLock(holder: LockHolder, ttlMs: number, now: number): Promise<LockAttempt> {
    const lock = newLock(holder, ttlMs, now);
    for (let attempt = 1; ; attempt++) {
      try {
        // One conditional put decides every race: free, expired (a takeover) or already ours.
        const { Attributes } = await this.call('tryAcquireLock', () =>
          this.client.send(new PutCommand({
            TableName: this.tableName,
            Item: lockItem(lock),
            ConditionExpression: 'attribute_not_exists(pk) OR expiresAtMs < :now OR releaseId = :releaseId',
            ExpressionAttributeValues: { ':now': now, ':releaseId': holder.releaseId },
            ReturnValues: 'ALL_OLD',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          })),
        );
        const previous = takenOverFrom(Attributes ? lockFromItem(Attributes as LockItem) : undefined, holder.releaseId);
        return previous ? { acquired: true, lock, tookOverFrom: previous } : { acquired: true, lock };
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
        // DynamoDB returns the item that failed the condition; dynalite does not, so read it then.
        const returned = lockFromReturnedItem(error);
        if (returned) return { acquired: false, heldBy: returned };
        const current = await this.readLock();
        if (current && !mayTakeLock(current, holder.releaseId, now)) return { acquired: false, heldBy: current };
        if (attempt >= MAX_ACQUIRE_ATTEMPTS) {
          throw this.failure('tryAcquireLock', `the lock kept changing hands during ${attempt} attempts; rerun the release`, 'LockContention');
        }
      }
    }
  }

  async heartbeat(lock: LockState, ttlMs: number, now: number): Promise<LockState> {
    const extended: LockState = { ...lock, heartbeatAt: now, expiresAt: now + ttlMs };
    const stillOurs = await this.writeIf('heartbeat', () =>
      this.client.send(new UpdateCommand({
        TableName: this.tableName,
        Key: LOCK_KEY,
        UpdateExpression: 'SET heartbeatAt = :now, expiresAtMs = :expiresAt',
        ConditionExpression: 'releaseId = :releaseId',
        ExpressionAttributeValues: { ':now': now, ':expiresAt': extended.expiresAt, ':releaseId': lock.releaseId },
      })),
    );
    if (!stillOurs) throw new LockLostError(lock.releaseId);
    return extended;
  }

  /** A no-op when someone took the lock over (or it is gone): nothing of ours to release. */
  async releaseLock(lock: LockState): Promise<void> {
    await this.writeIf('releaseLock', () =>
      this.client.send(new DeleteCommand({
        TableName: this.tableName,
        Key: LOCK_KEY,
        ConditionExpression: 'releaseId = :releaseId',
        ExpressionAttributeValues: { ':releaseId': lock.releaseId },
      })),
    );
  }

  async readLock(): Promise<LockState | undefined> {
    const item = await this.getItem('readLock', LOCK_KEY);
    return item ? lockFromItem(item as unknown as LockItem) : undefined;
  }

  // --- queue ---------------------------------------------------------------------------------------

  async joinQueue(holder: LockHolder, now: number, ttlMs: number): Promise<void> {
    const expiresAtMs = now + ttlMs;
    // Joining again with the same holder overwrites the entry: that is how a waiter refreshes it.
    await this.call('joinQueue', () =>
      this.client.send(new PutCommand({
        TableName: this.tableName,
        Item: {
          ...queueKey(holder),
          ...pickHolder(holder),
          expiresAtMs,
          expiresAt: Math.ceil(expiresAtMs / 1000) + QUEUE_TTL_MARGIN_SECONDS,
        },
      })),
    );
  }

  async leaveQueue(holder: LockHolder): Promise<void> {
    await this.call('leaveQueue', () => this.client.send(new DeleteCommand({ TableName: this.tableName, Key: queueKey(holder) })));
  }

  async listQueue(now: number): Promise<LockHolder[]> {
    const items = await this.query('listQueue', {
      KeyConditionExpression: 'pk = :pk',
      FilterExpression: 'expiresAtMs > :now',
      ExpressionAttributeValues: { ':pk': QUEUE_PARTITION, ':now': now },
    });
    return items.map((item) => pickHolder(item as unknown as LockHolder));
  }

  // --- journal and history -------------------------------------------------------------------------

  async readJournal(): Promise<{ readonly release: ReleaseRecord; readonly targets: JournalTarget[] } | undefined> {
    const item = (await this.getItem('readJournal', JOURNAL_KEY)) as JournalItem | undefined;
    if (!item || item.status !== 'running') return undefined;
    const targets = journalTargetsInOrder(Object.values(item.targets ?? {}));
    return { release: item.release, targets };
  }

  async startJournal(release: ReleaseRecord): Promise<void> {
    const started = await this.writeIf('startJournal', () =>
      this.client.send(new PutCommand({
        TableName: this.tableName,
        Item: { ...JOURNAL_KEY, releaseId: release.releaseId, status: 'running', release: plain(release), targets: {} },
        ConditionExpression: 'attribute_not_exists(pk) OR #status = :finished',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':finished': 'finished' },
      })),
    );
    if (started) return;
    // An open journal: if it is ours, starting again is a retry and must keep the steps recorded so far.
    const restarted = await this.updateOpenJournal('startJournal', release.releaseId, 'SET #release = :release', { ':release': plain(release) }, {
      '#release': 'release',
    });
    if (restarted) return;
    const open = await this.readJournal();
    // Between the writes the other journal may have been finished: start ours then.
    if (!open) return this.startJournal(release);
    throw new UnfinishedJournalError(open.release, release.releaseId);
  }

  async recordStep(releaseId: string, target: JournalTarget): Promise<void> {
    const recorded = await this.updateOpenJournal('recordStep', releaseId, 'SET #targets.#target = :target', { ':target': plain(target) }, {
      '#targets': 'targets',
      '#target': target.targetId,
    });
    if (recorded) return;
    const open = await this.readJournal();
    // Another release replaced our journal, which it may only do after taking our lock over.
    if (open && open.release.releaseId !== releaseId) throw new LockLostError(releaseId);
    throw this.failure('recordStep', `release ${releaseId} has no open journal; call startJournal before recording steps`, 'JournalNotStarted');
  }

  async finishRelease(release: ReleaseRecord): Promise<void> {
    // History first: if we stop between the two writes, the journal stays open and the repair writes
    // this same item again.
    await this.call('finishRelease', () =>
      this.client.send(new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: HISTORY_PARTITION,
          sk: historySortKey(release),
          releaseId: release.releaseId,
          release: plain(release),
        },
      })),
    );
    // Without a journal of ours (never started, e.g. superseded while waiting, or already replaced)
    // the history entry is all there is to write.
    await this.writeIf('finishRelease', () =>
      this.client.send(new UpdateCommand({
        TableName: this.tableName,
        Key: JOURNAL_KEY,
        UpdateExpression: 'SET #status = :finished, #release = :release',
        ConditionExpression: 'releaseId = :releaseId',
        ExpressionAttributeNames: { '#status': 'status', '#release': 'release' },
        ExpressionAttributeValues: { ':finished': 'finished', ':release': plain(release), ':releaseId': release.releaseId },
      })),
    );
  }

  async listHistory(limit: number): Promise<ReleaseRecord[]> {
    if (limit <= 0) return [];
    const items = await this.query(
      'listHistory',
      {
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': HISTORY_PARTITION },
        ScanIndexForward: false,
      },
      limit,
    );
    return items.map((item) => item.release as ReleaseRecord);
  }

  // --- plumbing ------------------------------------------------------------------------------------

  private async getItem(operation: string, key: Readonly<Record<string, string>>): Promise<Record<string, unknown> | undefined> {
    const { Item } = await this.call(operation, () =>
      this.client.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true })),
    );
    return Item;
  }

  /** Applies `update` to the journal only while it is open and belongs to `releaseId`; false otherwise. */
  private async updateOpenJournal(
    operation: string,
    releaseId: string,
    update: string,
    values: Record<string, unknown>,
    names: Record<string, string> = {},
  ): Promise<boolean> {
    return this.writeIf(operation, () =>
      this.client.send(new UpdateCommand({
        TableName: this.tableName,
        Key: JOURNAL_KEY,
        UpdateExpression: update,
        ConditionExpression: 'releaseId = :releaseId AND #status = :running',
        // DynamoDB rejects names and values that the expressions do not use.
        ExpressionAttributeNames: { '#status': 'status', ...names },
        ExpressionAttributeValues: { ...values, ':releaseId': releaseId, ':running': 'running' },
      })),
    );
  }

  /** A conditional write: false when its condition failed and nothing was written. */
  private async writeIf(operation: string, request: () => Promise<unknown>): Promise<boolean> {
    try {
      await this.call(operation, request);
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  /** All items of a consistent Query, up to `limit`, following pages. */
  private async query(operation: string, input: Omit<QueryCommandInput, 'TableName'>, limit = Infinity): Promise<Record<string, unknown>[]> {
    return this.call(operation, async () => {
      const items: Record<string, unknown>[] = [];
      const pages = paginateQuery(
        { client: this.client },
        { ...input, TableName: this.tableName, ConsistentRead: true, ...(Number.isFinite(limit) ? { Limit: limit } : {}) },
      );
      for await (const page of pages) {
        items.push(...(page.Items ?? []));
        if (items.length >= limit) break;
      }
      return items.slice(0, limit);
    });
  }

  /**
   * Runs one request. A failed condition is rethrown untouched for the caller to interpret; any other
   * failure becomes a ReleaseTableError that names the table, the operation and what to check.
   */
  private async call<T>(operation: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      if (isConditionalCheckFailed(error) || isAbort(error) || error instanceof ReleaseError) throw error;
      if (error instanceof Error && error.name === 'ResourceNotFoundException') {
        throw new ReleaseTableError(
          this.tableName,
          operation,
          `release table ${this.tableName} not found: deploy the stack or pass --release-table`,
          'ReleaseTableNotFound',
          { cause: error },
        );
      }
      const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw this.failure(
        operation,
        `${detail}; check the table name (stack output ReleaseTableName or --release-table), the region, and that ` +
          'the credentials allow dynamodb:GetItem, PutItem, UpdateItem, DeleteItem and Query on it',
        'ReleaseTableError',
        error,
      );
    }
  }

  private failure(operation: string, problem: string, reasonCode: string, cause?: unknown): ReleaseTableError {
    return new ReleaseTableError(
      this.tableName,
      operation,
      `${operation} on release table ${this.tableName} failed: ${problem}`,
      reasonCode,
      cause === undefined ? undefined : { cause },
    );
  }
}

function isConditionalCheckFailed(error: unknown): error is ConditionalCheckFailedException {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

function lockItem(lock: LockState): LockItem {
  const { expiresAt, ...rest } = lock;
  return { ...LOCK_KEY, ...pickHolder(rest), acquiredAt: rest.acquiredAt, heartbeatAt: rest.heartbeatAt, expiresAtMs: expiresAt };
}

function lockFromItem(item: LockItem): LockState {
  return {
    ...pickHolder(item),
    acquiredAt: item.acquiredAt,
    heartbeatAt: item.heartbeatAt,
    expiresAt: item.expiresAtMs,
  };
}

/**
 * The lock item DynamoDB sends with a failed condition (ReturnValuesOnConditionCheckFailure). The
 * document client leaves it in wire format; the lock item holds only strings and numbers.
 */
function lockFromReturnedItem(error: ConditionalCheckFailedException): LockState | undefined {
  if (!error.Item) return undefined;
  const decoded = Object.fromEntries(
    Object.entries(error.Item).map(([name, value]) => [name, value.N !== undefined ? Number(value.N) : value.S]),
  );
  return lockFromItem(decoded as unknown as LockItem);
}

function queueKey(holder: LockHolder): { pk: string; sk: string } {
  return { pk: QUEUE_PARTITION, sk: queueSortKey(holder) };
}

/** Drops undefined fields: the injected client may not be configured to remove them, and DynamoDB rejects them. */
function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
