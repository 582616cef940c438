// The lease table in KCL 2.x's format: one item per shard, keyed by `leaseKey`. Every write is an
// UpdateItem of only the attributes that operation owns, conditional on `leaseCounter` (and on
// `leaseOwner` where only the owner may write), so attributes this code does not know (KCL 3.x's
// `checkpointOwner`, `throughputKBps`, …) survive, and a KCL application and sluice can hand a table
// to each other. Names and types follow KCL's DynamoDBLeaseSerializer; the conditions follow its
// DynamoDBLeaseRefresher (take/renew/update on the counter, evict on the owner).
//
// Exported for the CLI as well (`sluice stream status|replay`): list() and moveCheckpoint().
import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { AT_TIMESTAMP, type Checkpoint, type Lease, SHARD_END, TRIM_HORIZON } from './lease.ts';

type Item = Record<string, AttributeValue>;

/** A lease to create: a shard and where its reading starts. */
export interface NewLease {
  readonly leaseKey: string;
  readonly checkpoint: string;
  readonly checkpointTimestamp?: number;
  readonly parentShardIds?: readonly string[];
  readonly startingHashKey?: string;
  readonly endingHashKey?: string;
}

/** Where a replay moves a checkpoint. */
export type ReplayPosition =
  | { readonly kind: 'trim-horizon' }
  | { readonly kind: 'timestamp'; readonly timestamp: Date }
  /** Resumes after this record, as a checkpoint does. */
  | { readonly kind: 'after-sequence-number'; readonly sequenceNumber: string };

/** The attributes KCL 2.x writes for a pending two-phase checkpoint; a completed checkpoint clears them, as KCL's does. */
const PENDING_CHECKPOINT_ATTRIBUTES = ['pendingCheckpoint', 'pendingCheckpointSubSequenceNumber', 'pendingCheckpointState'];

export class LeaseTable {
  constructor(
    private readonly dynamodb: DynamoDBClient,
    readonly tableName: string,
  ) {}

  /** Every lease, read consistently (expiry is judged by counter changes, so stale reads would slow failover). */
  async list(signal?: AbortSignal): Promise<Lease[]> {
    const leases: Lease[] = [];
    let startKey: Item | undefined;
    do {
      const page = await this.dynamodb.send(new ScanCommand({ TableName: this.tableName, ConsistentRead: true, ExclusiveStartKey: startKey }), { abortSignal: signal });
      for (const item of page.Items ?? []) leases.push(leaseFromItem(item));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return leases.sort((a, b) => a.leaseKey.localeCompare(b.leaseKey));
  }

  async get(leaseKey: string): Promise<Lease | undefined> {
    const { Item } = await this.dynamodb.send(new GetItemCommand({ TableName: this.tableName, Key: { leaseKey: { S: leaseKey } }, ConsistentRead: true }));
    return Item ? leaseFromItem(Item) : undefined;
  }

  /** Creates an unowned lease unless one exists for the shard (`attribute_not_exists(leaseKey)`); true when created. */
  async create(lease: NewLease): Promise<boolean> {
    const set: Item = {
      leaseCounter: number(0),
      checkpoint: { S: lease.checkpoint },
      checkpointSubSequenceNumber: number(0),
      ownerSwitchesSinceCheckpoint: number(0),
    };
    if (lease.checkpointTimestamp !== undefined) set.checkpointTimestamp = number(lease.checkpointTimestamp);
    // DynamoDB has no empty sets: KCL leaves the attribute out for a shard with no parent.
    if (lease.parentShardIds && lease.parentShardIds.length > 0) set.parentShardId = { SS: [...lease.parentShardIds] };
    if (lease.startingHashKey !== undefined) set.startingHashKey = { S: lease.startingHashKey };
    if (lease.endingHashKey !== undefined) set.endingHashKey = { S: lease.endingHashKey };
    return (await this.update(lease.leaseKey, { set, condition: 'attribute_not_exists(#leaseKey)', conditionNames: ['leaseKey'] })) !== undefined;
  }

  /**
   * Takes a lease seen with `lease.leaseCounter`: owner = `owner`, counter + 1, and one more owner
   * switch when it had another owner. Resolves with the lease as written, or undefined when the
   * counter moved on (someone else renewed, took or moved it first).
   */
  async take(lease: Lease, owner: string): Promise<Lease | undefined> {
    const set: Item = { leaseOwner: { S: owner }, leaseCounter: number(lease.leaseCounter + 1) };
    const add: Item = lease.leaseOwner !== undefined && lease.leaseOwner !== owner ? { ownerSwitchesSinceCheckpoint: number(1) } : {};
    return this.update(lease.leaseKey, { set, add, ...counterIs(lease.leaseCounter) });
  }

  /** Renews a held lease (counter + 1); false when it is no longer this owner's at this counter. */
  async renew(leaseKey: string, counter: number, owner: string): Promise<boolean> {
    return (await this.update(leaseKey, { set: { leaseCounter: number(counter + 1) }, ...counterAndOwnerAre(counter, owner) })) !== undefined;
  }

  /**
   * Writes a checkpoint of a held lease, which renews it too (counter + 1), resets
   * ownerSwitchesSinceCheckpoint and clears a pending KCL checkpoint; at shard end also records the
   * children. With `release`, the owner is removed in the same write (KCL's evictLease), so other
   * workers can take the lease at once. False when the lease is no longer this owner's.
   */
  async checkpoint(
    leaseKey: string,
    counter: number,
    owner: string,
    checkpoint: Checkpoint,
    options: { readonly childShardIds?: readonly string[]; readonly release?: boolean } = {},
  ): Promise<boolean> {
    const set: Item = {
      checkpoint: { S: checkpoint.sequenceNumber },
      checkpointSubSequenceNumber: number(checkpoint.subSequenceNumber),
      ownerSwitchesSinceCheckpoint: number(0),
      leaseCounter: number(counter + 1),
    };
    if (options.childShardIds && options.childShardIds.length > 0) set.childShardIds = { SS: [...options.childShardIds] };
    const remove = [...PENDING_CHECKPOINT_ATTRIBUTES, ...(checkpoint.sequenceNumber === AT_TIMESTAMP ? [] : ['checkpointTimestamp']), ...(options.release ? ['leaseOwner'] : [])];
    return (await this.update(leaseKey, { set, remove, ...counterAndOwnerAre(counter, owner) })) !== undefined;
  }

  /** Removes the owner of a held lease (counter + 1) without touching its checkpoint; false when it is no longer this owner's. */
  async release(leaseKey: string, counter: number, owner: string): Promise<boolean> {
    return (await this.update(leaseKey, { set: { leaseCounter: number(counter + 1) }, remove: ['leaseOwner'], ...counterAndOwnerAre(counter, owner) })) !== undefined;
  }

  /**
   * Moves a lease's checkpoint for a replay, conditional on the counter it was read with: the owner is
   * removed and the counter bumped, so a running owner loses the lease at its next renewal (without
   * checkpointing) and any worker takes it at once and reads from the new position. Resolves with the
   * lease as written, or undefined when the counter moved on (read it again and retry).
   */
  async moveCheckpoint(lease: Lease, position: ReplayPosition): Promise<Lease | undefined> {
    const checkpoint = position.kind === 'trim-horizon' ? TRIM_HORIZON : position.kind === 'timestamp' ? AT_TIMESTAMP : position.sequenceNumber;
    const set: Item = {
      checkpoint: { S: checkpoint },
      checkpointSubSequenceNumber: number(0),
      ownerSwitchesSinceCheckpoint: number(0),
      leaseCounter: number(lease.leaseCounter + 1),
    };
    const remove = [...PENDING_CHECKPOINT_ATTRIBUTES, 'leaseOwner'];
    if (position.kind === 'timestamp') set.checkpointTimestamp = number(position.timestamp.getTime());
    else remove.push('checkpointTimestamp');
    return this.update(lease.leaseKey, { set, remove, ...counterIs(lease.leaseCounter) });
  }

  /** One UpdateItem; undefined when its condition failed. */
  private async update(
    leaseKey: string,
    change: {
      readonly set: Item;
      readonly add?: Item;
      readonly remove?: readonly string[];
      readonly condition: string;
      readonly conditionNames: readonly string[];
      readonly conditionValues?: Item;
    },
  ): Promise<Lease | undefined> {
    const names: Record<string, string> = {};
    const values: Item = { ...change.conditionValues };
    const clause = (keyword: string, parts: string[]) => (parts.length > 0 ? `${keyword} ${parts.join(', ')}` : '');
    const setParts = Object.entries(change.set).map(([name, value]) => {
      names[`#${name}`] = name;
      values[`:${name}`] = value;
      return `#${name} = :${name}`;
    });
    const addParts = Object.entries(change.add ?? {}).map(([name, value]) => {
      names[`#${name}`] = name;
      values[`:${name}`] = value;
      return `#${name} :${name}`;
    });
    const removeParts = (change.remove ?? []).map((name) => {
      names[`#${name}`] = name;
      return `#${name}`;
    });
    for (const name of change.conditionNames) names[`#${name}`] = name;
    try {
      const { Attributes } = await this.dynamodb.send(new UpdateItemCommand({
        TableName: this.tableName,
        Key: { leaseKey: { S: leaseKey } },
        UpdateExpression: [clause('SET', setParts), clause('ADD', addParts), clause('REMOVE', removeParts)].filter(Boolean).join(' '),
        ConditionExpression: change.condition,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      }));
      return leaseFromItem(Attributes ?? { leaseKey: { S: leaseKey } });
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') return undefined;
      throw error;
    }
  }
}

function counterIs(counter: number) {
  return { condition: '#leaseCounter = :expectedCounter', conditionNames: ['leaseCounter'], conditionValues: { ':expectedCounter': number(counter) } };
}

function counterAndOwnerAre(counter: number, owner: string) {
  return {
    condition: '#leaseCounter = :expectedCounter AND #leaseOwner = :expectedOwner',
    conditionNames: ['leaseCounter', 'leaseOwner'],
    conditionValues: { ':expectedCounter': number(counter), ':expectedOwner': { S: owner } },
  };
}

function number(value: number): AttributeValue {
  return { N: String(value) };
}

/** Reads an item as KCL does: missing numbers are 0, missing sets empty; a lease with no checkpoint starts at TRIM_HORIZON (nothing is skipped). */
export function leaseFromItem(item: Item): Lease {
  const text = (name: string) => item[name]?.S;
  const count = (name: string) => (item[name]?.N === undefined ? 0 : Number(item[name]!.N));
  const timestamp = item.checkpointTimestamp?.N;
  return {
    leaseKey: text('leaseKey') ?? '',
    ...(text('leaseOwner') !== undefined ? { leaseOwner: text('leaseOwner') } : {}),
    leaseCounter: count('leaseCounter'),
    checkpoint: { sequenceNumber: text('checkpoint') ?? TRIM_HORIZON, subSequenceNumber: count('checkpointSubSequenceNumber') },
    ownerSwitchesSinceCheckpoint: count('ownerSwitchesSinceCheckpoint'),
    parentShardIds: item.parentShardId?.SS ?? [],
    childShardIds: item.childShardIds?.SS ?? [],
    ...(text('startingHashKey') !== undefined ? { startingHashKey: text('startingHashKey') } : {}),
    ...(text('endingHashKey') !== undefined ? { endingHashKey: text('endingHashKey') } : {}),
    ...(timestamp !== undefined ? { checkpointTimestamp: Number(timestamp) } : {}),
  };
}

/** True when every parent of `lease` is at SHARD_END, or has no lease (expired from the stream, or never leased). */
export function parentsFinished(lease: Lease, byKey: ReadonlyMap<string, Lease>): boolean {
  return lease.parentShardIds.every((parent) => {
    const parentLease = byKey.get(parent);
    return parentLease === undefined || parentLease.checkpoint.sequenceNumber === SHARD_END;
  });
}
