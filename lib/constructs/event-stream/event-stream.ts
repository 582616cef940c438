import { Duration, Validations } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { KinesisEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { consumerFunction } from '../consumer-function.ts';
import { durableTableProps } from '../durable-table.ts';
import type { LogGroupSettings } from '../log-groups/log-group-settings.ts';
import { acknowledgeControl } from '../policy-checks/control-tower.ts';
import { throwIfInvalid } from '../settings-validation.ts';
import { EVENT_STREAM_DEFAULTS, EVENT_STREAM_LAMBDA_CONSUMER_DEFAULTS, MAX_RECORD_AGE_LIMIT } from './event-stream-defaults.ts';
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

/**
 * A Lambda function that reads the stream, running the app's record processor
 * (lib/runtime/app/event-handler.ts) through lambda/stream-consumer.ts with partial batch responses.
 * Records that still fail after the retries go to the failure queue as Lambda reports them: the
 * shard and the sequence-number range, without the data (which stays readable in the stream).
 */
export interface EventStreamLambdaConsumerProps {
  /**
   * Records per invocation (1–10000), all from one shard. A smaller batch is retried and split
   * sooner: a poison record is alone after log2(batchSize) splits.
   * @default 100
   */
  readonly batchSize?: number;
  /**
   * Retries of a failing batch (0–10000) before it goes to the failure queue; splitting a batch in
   * two does not count. Bounded, so that a poison record cannot stall its shard.
   * @default 3 — as many as the instance consumer's processorRetries
   */
  readonly retryAttempts?: number;
  /**
   * Records older than this (60 seconds – 7 days, at most streamRetention) are not processed but
   * reported to the failure queue, so that a consumer that fell far behind moves on.
   * @default - the stream's retention, at most 7 days: nothing still in the stream is skipped for its age
   */
  readonly maxRecordAge?: Duration;
  /**
   * The function's timeout (1–900 seconds); the shard waits for its batch meanwhile. The
   * processor's signal is aborted shortly before it.
   * @default 60 seconds
   */
  readonly timeout?: Duration;
}

export interface EventStreamProps extends EventStreamSettings, LogGroupSettings {
  /**
   * Keep the checkpoint table when the stack is deleted, and protect it from deletion.
   * @default false
   */
  readonly retainCheckpoints?: boolean;
  /**
   * Read the stream with a Lambda function as well as, or instead of, the instance worker.
   * @default - no Lambda consumer
   */
  readonly lambdaConsumer?: EventStreamLambdaConsumerProps;
}

/** The Lambda consumer's props with the defaults applied. */
type ResolvedLambdaConsumer = Required<EventStreamLambdaConsumerProps>;

/**
 * A Kinesis data stream (a replayable log), the DynamoDB table its consumers keep KCL-style leases
 * and checkpoints in (one item per shard keyed by `leaseKey`), and the failure queue that receives
 * records which still fail after the bounded retries. Optionally a Lambda function reads the stream
 * (`lambdaConsumer`), beside or instead of the instance worker.
 */
export class EventStream extends Construct {
  public readonly stream: kinesis.Stream;
  public readonly checkpointTable: dynamodb.Table;
  /** Records that kept failing: the instance consumer's messages (with the data) and Lambda's on-failure records. */
  public readonly failureQueue: sqs.Queue;
  /** The Lambda consumer, when `lambdaConsumer` is given. */
  public readonly consumerFunction?: nodejs.NodejsFunction;

  constructor(scope: Construct, id: string, props: EventStreamProps = {}) {
    super(scope, id);
    const streamRetention = props.streamRetention ?? EVENT_STREAM_DEFAULTS.streamRetention;
    const consumer: ResolvedLambdaConsumer | undefined = props.lambdaConsumer && {
      batchSize: props.lambdaConsumer.batchSize ?? EVENT_STREAM_LAMBDA_CONSUMER_DEFAULTS.batchSize,
      retryAttempts: props.lambdaConsumer.retryAttempts ?? EVENT_STREAM_LAMBDA_CONSUMER_DEFAULTS.retryAttempts,
      maxRecordAge: props.lambdaConsumer.maxRecordAge ?? defaultMaxRecordAge(streamRetention),
      timeout: props.lambdaConsumer.timeout ?? EVENT_STREAM_LAMBDA_CONSUMER_DEFAULTS.timeout,
    };
    throwIfInvalid('event stream', validateEventStreamSettings({ ...props, lambdaConsumer: consumer }));

    const streamMode = props.streamMode ?? EVENT_STREAM_DEFAULTS.streamMode;
    this.stream = new kinesis.Stream(this, 'Stream', {
      streamMode,
      shardCount: streamMode === kinesis.StreamMode.PROVISIONED ? props.shardCount ?? EVENT_STREAM_DEFAULTS.shardCount : undefined,
      retentionPeriod: streamRetention,
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

    // --- failure queue -----------------------------------------------------------------------------
    this.failureQueue = new sqs.Queue(this, 'FailureQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // The longest SQS allows: time to find, fix and replay a poison record.
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.failureQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'The failure queue is the stream\'s dead-letter queue: records land here after their bounded retries, from the instance consumer and from Lambda\'s on-failure destination; a queue behind it would only hold the same records again.',
    });
    acknowledgeControl(this.failureQueue, 'CT.SQS.PR.1', 'the failure queue is the stream\'s dead-letter queue (records land here after their bounded retries, no SQS queue redrives into it); a queue behind it would only hold the same records again.');

    if (consumer) this.consumerFunction = this.addLambdaConsumer(consumer, props.logRetention);
  }

  /**
   * Lets `grantee` run the instance consumer (lib/runtime/stream/), exactly the calls it makes:
   * kinesis:GetRecords, kinesis:GetShardIterator and kinesis:ListShards on the stream;
   * dynamodb:GetItem, dynamodb:Scan and dynamodb:UpdateItem (every lease write, creation included, is
   * a conditional UpdateItem) on the checkpoint table; sqs:SendMessage (which SendMessageBatch
   * needs) on the failure queue.
   */
  grantConsume(grantee: iam.IGrantable): iam.Grant {
    return this.stream.grant(grantee, 'kinesis:GetRecords', 'kinesis:GetShardIterator', 'kinesis:ListShards')
      .combine(this.checkpointTable.grant(grantee, 'dynamodb:GetItem', 'dynamodb:Scan', 'dynamodb:UpdateItem'))
      .combine(this.failureQueue.grant(grantee, 'sqs:SendMessage'));
  }

  /**
   * Lets `grantee` put events on the stream (the web app's `POST /events`), exactly the calls a
   * producer makes: kinesis:PutRecord and kinesis:PutRecords on the stream. No KMS permission: the
   * AWS-managed key (aws/kinesis) needs none in the producer's role. (The stream's own grantWrite
   * adds ListShards and DescribeStreamSummary, which a producer never calls.)
   */
  grantProduce(grantee: iam.IGrantable): iam.Grant {
    return this.stream.grant(grantee, 'kinesis:PutRecord', 'kinesis:PutRecords');
  }

  // --- Lambda consumer ---------------------------------------------------------------------------
  private addLambdaConsumer(consumer: ResolvedLambdaConsumer, logRetention: LogGroupSettings['logRetention']): nodejs.NodejsFunction {
    const streamConsumerFunction = consumerFunction(this, {
      entry: 'lambda/stream-consumer.ts',
      description: 'sluice event-stream consumer: runs the record processor per shard batch, reports the first record not done',
      roleDescription: 'sluice event-stream Lambda consumer: writes its log group, reads the stream, reports failures to the failure queue',
      timeout: consumer.timeout,
      logRetention,
    });

    // The event source grants the function the stream reads its polling needs, and the on-failure
    // destination sending to the failure queue.
    streamConsumerFunction.addEventSource(new KinesisEventSource(this.stream, {
      // As the instance consumer's default: a new consumer starts at the oldest record, so nothing
      // still in the stream is skipped (moving a stage to Lambda processes the retained records again).
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: consumer.batchSize,
      // One batch per shard at a time: records reach the processor in order, as its contract says.
      parallelizationFactor: 1,
      // The handler names the first record not done: Lambda checkpoints just before it.
      reportBatchItemFailures: true,
      // A batch with nothing done fails the invocation; splitting it isolates the poison record, so
      // that only it goes to the failure queue and the good records behind it are processed.
      bisectBatchOnError: true,
      // Bounded, so that a poison record cannot stall its shard for the stream's retention.
      retryAttempts: consumer.retryAttempts,
      // By default the stream's retention: a record about to expire unprocessed (the consumer fell
      // that far behind) is reported in the failure queue instead of vanishing without a word.
      maxRecordAge: consumer.maxRecordAge,
      onFailure: new SqsDlq(this.failureQueue),
    }));
    return streamConsumerFunction;
  }

  /** How far behind the newest record the consumers read (maximum per minute). */
  metricIteratorAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.stream.metricGetRecordsIteratorAgeMilliseconds({ statistic: 'Maximum', period: Duration.minutes(1), ...props });
  }

  /** Records producers had rejected for exceeding the stream's throughput (sum per minute). */
  metricWriteThrottles(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.stream.metricWriteProvisionedThroughputExceeded({ statistic: 'Sum', period: Duration.minutes(1), ...props });
  }

  /** Records waiting in the failure queue (maximum per minute). */
  metricFailureQueueDepth(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.failureQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: Duration.minutes(1), ...props });
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

/** The stream's retention, at most what Lambda allows: no record still in the stream is skipped for its age. */
function defaultMaxRecordAge(streamRetention: Duration): Duration {
  if (streamRetention.isUnresolved()) return MAX_RECORD_AGE_LIMIT;
  return streamRetention.toSeconds() < MAX_RECORD_AGE_LIMIT.toSeconds() ? streamRetention : MAX_RECORD_AGE_LIMIT;
}
