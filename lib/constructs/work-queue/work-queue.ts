import { Duration, Names, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { consumerFunction as createConsumerFunction } from '../consumer-function.ts';
import type { LogGroupSettings } from '../log-groups/log-group-settings.ts';
import { throwIfInvalid } from '../settings-validation.ts';
import { validateWorkQueueSettings } from './validate-work-queue-settings.ts';
import { WORK_QUEUE_DEFAULTS, WORK_QUEUE_LAMBDA_CONSUMER_DEFAULTS } from './work-queue-defaults.ts';

/** The tunable settings of the work queue. */
export interface WorkQueueSettings {
  /**
   * How long a received message stays hidden from other consumers; the worker's heartbeat extends it
   * for slow handlers, so this only bounds how soon a crashed worker's messages are redelivered.
   * @default 60 seconds
   */
  readonly queueVisibilityTimeout?: Duration;
  /**
   * Deliveries of one message before SQS moves it to the dead-letter queue.
   * @default 5
   */
  readonly maxReceiveCount?: number;
  /**
   * How long an unprocessed message is kept.
   * @default 4 days
   */
  readonly queueRetention?: Duration;
}

/**
 * A Lambda function that consumes the work queue, running the app's work handler
 * (lib/runtime/app/work-handler.ts) through lambda/queue-consumer.ts with partial batch responses.
 */
export interface WorkQueueLambdaConsumerProps {
  /**
   * Most concurrent invocations the event source starts (2–1000). Bounds the load on the external
   * API the way the instance worker's concurrency does.
   * @default 10
   */
  readonly maxConcurrency?: number;
  /**
   * Messages per invocation (1–10); the handlers of one batch run concurrently.
   * @default 10
   */
  readonly batchSize?: number;
  /**
   * How long Lambda may wait to fill a batch (0–300 seconds). Received messages wait invisible
   * meanwhile, so it counts towards the visibility-timeout rule.
   * @default - no batching window: a batch goes out as soon as messages arrive
   */
  readonly maxBatchingWindow?: Duration;
  /**
   * The function's timeout (1–900 seconds). queueVisibilityTimeout must be at least six times as
   * long (plus maxBatchingWindow), as AWS recommends. Handlers' signals are aborted shortly before it.
   * @default 10 seconds (the most the default 60-second queueVisibilityTimeout allows)
   */
  readonly timeout?: Duration;
}

export interface WorkQueueProps extends WorkQueueSettings, LogGroupSettings {
  /**
   * Consume the queue with a Lambda function as well as, or instead of, the instance worker.
   * @default - no Lambda consumer
   */
  readonly lambdaConsumer?: WorkQueueLambdaConsumerProps;
}

/** The Lambda consumer's props with the defaults applied. */
type ResolvedLambdaConsumer = Required<Omit<WorkQueueLambdaConsumerProps, 'maxBatchingWindow'>> & Pick<WorkQueueLambdaConsumerProps, 'maxBatchingWindow'>;

/**
 * The SQS queue for work that must reach an external API at least once, with its dead-letter queue.
 * Both are encrypted (SSE-SQS) and refuse requests that are not over TLS. Optionally a Lambda
 * function consumes the queue (`lambdaConsumer`), beside or instead of the instance worker.
 */
export class WorkQueue extends Construct {
  public readonly queue: sqs.Queue;
  public readonly deadLetterQueue: sqs.Queue;
  /** The Lambda consumer, when `lambdaConsumer` is given. */
  public readonly consumerFunction?: nodejs.NodejsFunction;

  constructor(scope: Construct, id: string, props: WorkQueueProps = {}) {
    super(scope, id);
    const queueVisibilityTimeout = props.queueVisibilityTimeout ?? WORK_QUEUE_DEFAULTS.queueVisibilityTimeout;
    const consumer: ResolvedLambdaConsumer | undefined = props.lambdaConsumer && {
      maxConcurrency: props.lambdaConsumer.maxConcurrency ?? WORK_QUEUE_LAMBDA_CONSUMER_DEFAULTS.maxConcurrency,
      batchSize: props.lambdaConsumer.batchSize ?? WORK_QUEUE_LAMBDA_CONSUMER_DEFAULTS.batchSize,
      maxBatchingWindow: props.lambdaConsumer.maxBatchingWindow,
      timeout: props.lambdaConsumer.timeout ?? WORK_QUEUE_LAMBDA_CONSUMER_DEFAULTS.timeout,
    };
    throwIfInvalid('work queue', validateWorkQueueSettings({ ...props, queueVisibilityTimeout, lambdaConsumer: consumer }));

    // The queue's name is fixed up front so that the dead-letter queue's redrive allow policy can
    // name it without a circular reference (the queue's redrive policy names the DLQ).
    const queueName = Names.uniqueResourceName(this, { maxLength: 72, separator: '-', allowedSpecialCharacters: '-_' });
    const queueArn = Stack.of(this).formatArn({ service: 'sqs', resource: queueName });

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      queueName: `${queueName}-dlq`,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // The longest SQS allows: time to find, fix and redrive a poison message.
      retentionPeriod: Duration.days(14),
      redriveAllowPolicy: {
        redrivePermission: sqs.RedrivePermission.BY_QUEUE,
        sourceQueues: [sqs.Queue.fromQueueArn(this, 'SourceQueue', queueArn)],
      },
    });

    this.queue = new sqs.Queue(this, 'Queue', {
      queueName,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: queueVisibilityTimeout,
      retentionPeriod: props.queueRetention ?? WORK_QUEUE_DEFAULTS.queueRetention,
      // Long polling: fewer empty receives, lower cost, messages seen as soon as they arrive.
      receiveMessageWaitTime: Duration.seconds(20),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount ?? WORK_QUEUE_DEFAULTS.maxReceiveCount },
      // Nothing may use the work queue itself as a dead-letter queue.
      redriveAllowPolicy: { redrivePermission: sqs.RedrivePermission.DENY_ALL },
    });

    if (consumer) this.consumerFunction = this.addLambdaConsumer(consumer, props.logRetention);
  }

  /**
   * Lets `grantee` receive, delete and extend the visibility of work-queue messages:
   * sqs:ReceiveMessage, sqs:ChangeMessageVisibility, sqs:GetQueueUrl, sqs:DeleteMessage,
   * sqs:GetQueueAttributes.
   */
  grantConsume(grantee: iam.IGrantable): iam.Grant {
    return this.queue.grantConsumeMessages(grantee);
  }

  /**
   * Lets `grantee` enqueue work (the web app's `POST /jobs`), exactly the call it makes:
   * sqs:SendMessage on the work queue. No KMS permission: the queue is encrypted with SSE-SQS.
   * (The queue's own grantSendMessages adds GetQueueAttributes and GetQueueUrl, which a producer
   * given the queue URL never calls.)
   */
  grantSend(grantee: iam.IGrantable): iam.Grant {
    return this.queue.grant(grantee, 'sqs:SendMessage');
  }

  // --- Lambda consumer ---------------------------------------------------------------------------
  private addLambdaConsumer(consumer: ResolvedLambdaConsumer, logRetention: LogGroupSettings['logRetention']): nodejs.NodejsFunction {
    const consumerFunction = createConsumerFunction(this, {
      entry: 'lambda/queue-consumer.ts',
      description: 'sluice work-queue consumer: runs the work handler per message, reports failures by message id',
      roleDescription: 'sluice work-queue Lambda consumer: writes its log group and consumes the work queue',
      timeout: consumer.timeout,
      logRetention,
    });

    // The event source grants the function consume rights on the queue (and nothing else).
    consumerFunction.addEventSource(new SqsEventSource(this.queue, {
      batchSize: consumer.batchSize,
      maxBatchingWindow: consumer.maxBatchingWindow,
      maxConcurrency: consumer.maxConcurrency,
      reportBatchItemFailures: true,
    }));
    return consumerFunction;
  }

  /** Age of the oldest message waiting in the work queue (maximum per minute). */
  metricOldestMessageAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: Duration.minutes(1), ...props });
  }

  /** Messages waiting in the dead-letter queue (maximum per minute). */
  metricDeadLetterDepth(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: Duration.minutes(1), ...props });
  }
}
