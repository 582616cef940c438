import { Duration, Names, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { throwIfInvalid } from '../settings-validation.ts';
import { validateWorkQueueSettings } from './validate-work-queue-settings.ts';

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

export interface WorkQueueProps extends WorkQueueSettings {}

/**
 * The SQS queue for work that must reach an external API at least once, with its dead-letter queue.
 * Both are encrypted (SSE-SQS) and refuse requests that are not over TLS.
 */
export class WorkQueue extends Construct {
  public readonly queue: sqs.Queue;
  public readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: WorkQueueProps = {}) {
    super(scope, id);
    throwIfInvalid('work queue', validateWorkQueueSettings(props));

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
      visibilityTimeout: props.queueVisibilityTimeout ?? Duration.seconds(60),
      retentionPeriod: props.queueRetention ?? Duration.days(4),
      // Long polling: fewer empty receives, lower cost, messages seen as soon as they arrive.
      receiveMessageWaitTime: Duration.seconds(20),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount ?? 5 },
      // Nothing may use the work queue itself as a dead-letter queue.
      redriveAllowPolicy: { redrivePermission: sqs.RedrivePermission.DENY_ALL },
    });
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
   * Lets `grantee` enqueue work: sqs:SendMessage, sqs:GetQueueAttributes, sqs:GetQueueUrl.
   */
  grantSend(grantee: iam.IGrantable): iam.Grant {
    return this.queue.grantSendMessages(grantee);
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
