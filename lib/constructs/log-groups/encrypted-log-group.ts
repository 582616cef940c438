import { Aws, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { allowGrantsForAwsServicesOnly } from '../kms/grants-for-aws-services-only.ts';

/**
 * How long every log group of the stack keeps its events unless a stage says otherwise: one year,
 * the least AWS Control Tower's CT.CLOUDWATCH.PR.2 accepts. Storage is $0.03/GB-month, so a year
 * of a small service's logs costs cents; a shorter retention saves little and loses the history an
 * incident review reaches for.
 */
export const DEFAULT_LOG_RETENTION = logs.RetentionDays.ONE_YEAR;

const KEY_ID = 'LogEncryptionKey';

/**
 * The stack's one KMS key for CloudWatch Logs (CT.CLOUDWATCH.PR.3: log groups encrypted with a
 * customer managed key), created on first use. One key for all groups: a key costs $1 a month, and
 * every group belongs to the same stage and the same readers. Only CloudWatch Logs may use it, and
 * only for log groups of this account and region (the encryption-context condition AWS documents).
 */
export function logEncryptionKey(scope: Construct): kms.Key {
  const stack = Stack.of(scope);
  const existing = stack.node.tryFindChild(KEY_ID);
  if (existing) return existing as kms.Key;
  const key = new kms.Key(stack, KEY_ID, {
    description: `${stack.stackName}: encrypts the stack's CloudWatch Logs log groups`,
    enableKeyRotation: true,
    removalPolicy: RemovalPolicy.RETAIN,
    pendingWindow: Duration.days(30),
  });
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'CloudWatchLogsUse',
      principals: [new iam.ServicePrincipal(`logs.${Aws.REGION}.amazonaws.com`)],
      actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      resources: ['*'],
      conditions: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:*` } },
    }),
  );
  allowGrantsForAwsServicesOnly(key);
  return key;
}

export interface EncryptedLogGroupProps {
  /** @default DEFAULT_LOG_RETENTION */
  readonly retention?: logs.RetentionDays;
  /** @default - a name CloudFormation generates */
  readonly logGroupName?: string;
  /** @default RemovalPolicy.DESTROY: the events are kept for their retention, not beyond the stack */
  readonly removalPolicy?: RemovalPolicy;
}

/** A log group encrypted with the stack's log key, kept for the stage's retention. */
export function encryptedLogGroup(scope: Construct, id: string, props: EncryptedLogGroupProps = {}): logs.LogGroup {
  return new logs.LogGroup(scope, id, {
    logGroupName: props.logGroupName,
    retention: props.retention ?? DEFAULT_LOG_RETENTION,
    encryptionKey: logEncryptionKey(scope),
    removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
  });
}
