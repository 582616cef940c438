import { fileURLToPath } from 'node:url';
import type { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import { encryptedLogGroup } from './log-groups/encrypted-log-group.ts';
import { type LogGroupSettings, validateLogGroupSettings } from './log-groups/log-group-settings.ts';
import { throwIfInvalid } from './settings-validation.ts';
import { acknowledgeControl } from './policy-checks/control-tower.ts';

export interface ConsumerFunctionProps extends LogGroupSettings {
  /** The entry point under lambda/, e.g. `lambda/queue-consumer.ts`. */
  readonly entry: string;
  readonly description: string;
  /** What the role is for, shown in IAM. */
  readonly roleDescription: string;
  readonly timeout: Duration;
}

const repositoryRoot = new URL('../../', import.meta.url);

/**
 * The Lambda function of a consumer (the work queue's, the event stream's): a Node.js 24 arm64
 * function bundled with esbuild from an entry point in lambda/, with its own encrypted log group
 * (kept for the stage's logRetention; the metrics in its embedded-metric-format lines are extracted
 * there, with no agent) and a role
 * that may write only there. Created as `Consumer`, `ConsumerRole` and `ConsumerLogs` in `scope`; the
 * event source added by the caller grants what the function reads.
 */
export function consumerFunction(scope: Construct, props: ConsumerFunctionProps): nodejs.NodejsFunction {
  // An explicit log group and a role without managed policies: AWSLambdaBasicExecutionRole would
  // let the function create log groups and write to any of them.
  // Kept for the stage's retention (a year by default) and encrypted with the stack's log key (CT.CLOUDWATCH.PR.2/3).
  throwIfInvalid('consumer function', validateLogGroupSettings(props));
  const logGroup = encryptedLogGroup(scope, 'ConsumerLogs', { retention: props.logRetention });
  const role = new iam.Role(scope, 'ConsumerRole', {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: props.roleDescription,
  });
  logGroup.grantWrite(role);

  const fn = new nodejs.NodejsFunction(scope, 'Consumer', {
    description: props.description,
    entry: fileURLToPath(new URL(props.entry, repositoryRoot)),
    handler: 'handler',
    depsLockFilePath: fileURLToPath(new URL('package-lock.json', repositoryRoot)),
    // The latest Node.js runtime (cdk-nag AwsSolutions-L1); Graviton is cheaper per GB-second.
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    timeout: props.timeout,
    role,
    logGroup,
    environment: { NODE_OPTIONS: '--enable-source-maps' },
    bundling: { format: nodejs.OutputFormat.ESM, minify: true, sourceMap: true },
  });
  acknowledgeControl(fn, 'CT.LAMBDA.PR.3', 'the consumer reaches only AWS APIs (SQS, Kinesis, DynamoDB, CloudWatch Logs) and the external API over HTTPS; in the VPC it would add an ENI per subnet and send all of that through the NAT gateway ($0.045/GB) without reaching anything it cannot reach now.');
  return fn;
}
