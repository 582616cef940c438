import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import { Construct } from 'constructs';
import { durableTableProps } from '../durable-table.ts';
import { throwIfInvalid } from '../settings-validation.ts';
import { EVENT_STREAM_DEFAULTS } from './event-stream-defaults.ts';
import { validateEventStreamSettings } from './validate-event-stream-settings.ts';

/** The tunable settings of the event stream. */
export interface EventStreamSettings {
  /**
   * Capacity mode of the stream.
   * @default StreamMode.ON_DEMAND — no shard planning; scales with traffic
   */
  readonly streamMode?: kinesis.StreamMode;
  /**
   * Shards of a PROVISIONED stream (each: 1 MB/s or 1000 records/s in, 2 MB/s out).
   * @default 1 when streamMode is PROVISIONED; not allowed with ON_DEMAND
   */
  readonly shardCount?: number;
  /**
   * How long records stay readable, and so how far back a replay can go.
   * @default 7 days
   */
  readonly streamRetention?: Duration;
}

export interface EventStreamProps extends EventStreamSettings {
  /**
   * Keep the checkpoint table when the stack is deleted, and protect it from deletion.
   * @default false
   */
  readonly retainCheckpoints?: boolean;
}

/**
 * A Kinesis data stream (a replayable log) and the DynamoDB table its consumers keep KCL-style
 * leases and checkpoints in, one item per shard keyed by `leaseKey`.
 */
export class EventStream extends Construct {
  public readonly stream: kinesis.Stream;
  public readonly checkpointTable: dynamodb.Table;

  constructor(scope: Construct, id: string, props: EventStreamProps = {}) {
    super(scope, id);
    throwIfInvalid('event stream', validateEventStreamSettings(props));

    const streamMode = props.streamMode ?? EVENT_STREAM_DEFAULTS.streamMode;
    this.stream = new kinesis.Stream(this, 'Stream', {
      streamMode,
      shardCount: streamMode === kinesis.StreamMode.PROVISIONED ? props.shardCount ?? EVENT_STREAM_DEFAULTS.shardCount : undefined,
      retentionPeriod: props.streamRetention ?? EVENT_STREAM_DEFAULTS.streamRetention,
      // The AWS-managed key: encrypted at rest with no key policy to keep in step with consumers.
      encryption: kinesis.StreamEncryption.MANAGED,
    });

    // KCL lease schema: leaseKey (shard id) is the hash key; leaseOwner, leaseCounter, checkpoint,
    // checkpointSubSequenceNumber, ownerSwitchesSinceCheckpoint, parentShardId and childShardIds
    // are plain attributes written with conditions on leaseCounter.
    this.checkpointTable = new dynamodb.Table(this, 'CheckpointTable', {
      partitionKey: { name: 'leaseKey', type: dynamodb.AttributeType.STRING },
      ...durableTableProps(props.retainCheckpoints ?? false),
    });
  }

  /**
   * Lets `grantee` consume the stream and keep its leases and checkpoints:
   * kinesis:DescribeStreamSummary, kinesis:GetRecords, kinesis:GetShardIterator, kinesis:ListShards,
   * kinesis:SubscribeToShard, kinesis:DescribeStream, kinesis:ListStreams, kinesis:DescribeStreamConsumer
   * on the stream; dynamodb:BatchGetItem, GetItem, Query, Scan, ConditionCheckItem, GetRecords,
   * GetShardIterator, DescribeTable, BatchWriteItem, PutItem, UpdateItem, DeleteItem on the table.
   */
  grantConsume(grantee: iam.IGrantable): iam.Grant {
    return this.stream.grantRead(grantee).combine(this.checkpointTable.grantReadWriteData(grantee));
  }

  /** Lets `grantee` put records: kinesis:PutRecord, kinesis:PutRecords, kinesis:ListShards, kinesis:DescribeStreamSummary. */
  grantWrite(grantee: iam.IGrantable): iam.Grant {
    return this.stream.grantWrite(grantee);
  }

  /** How far behind the newest record the consumers read (maximum per minute). */
  metricIteratorAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.stream.metricGetRecordsIteratorAgeMilliseconds({ statistic: 'Maximum', period: Duration.minutes(1), ...props });
  }

  /** Records producers had rejected for exceeding the stream's throughput (sum per minute). */
  metricWriteThrottles(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.stream.metricWriteProvisionedThroughputExceeded({ statistic: 'Sum', period: Duration.minutes(1), ...props });
  }

  /** Throttled lease and checkpoint requests on the checkpoint table (sum per minute). */
  metricCheckpointThrottles(): cloudwatch.IMetric {
    return this.checkpointTable.metricThrottledRequestsForOperations({
      operations: [
        dynamodb.Operation.GET_ITEM,
        dynamodb.Operation.PUT_ITEM,
        dynamodb.Operation.UPDATE_ITEM,
        dynamodb.Operation.DELETE_ITEM,
        dynamodb.Operation.SCAN,
        dynamodb.Operation.QUERY,
      ],
      period: Duration.minutes(1),
    });
  }
}
