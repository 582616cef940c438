// Real SDK clients whose `send` is answered by the simulated services (aws-sdk-client-mock), after the
// injected API faults and an optional per-call latency. Commands the simulation does not model fail
// loudly instead of returning undefined.
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeInstanceRefreshesCommand,
  ResumeProcessesCommand,
  SuspendProcessesCommand,
} from '@aws-sdk/client-auto-scaling';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, DescribeAlarmsCommand, GetMetricDataCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  DeregisterTargetsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CancelCommandCommand, GetCommandInvocationCommand, GetParameterCommand, PutParameterCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import type { AwsClients } from '../../../lib/runtime/release/cli/run-cli.ts';
import type { ApiFaults } from './api-faults.ts';
import type { SimulatedAlarms } from './alarms.ts';
import type { SimulatedArtifactBucket } from './artifact-bucket.ts';
import type { SimulatedMetrics } from './metrics.ts';
import type { SimulatedAutoScalingGroup } from './auto-scaling-group.ts';
import { awsError, internalError, type ServiceName, throttlingError } from './aws-errors.ts';
import type { SimulatedStacks } from './cloudformation-stacks.ts';
import type { SimulatedParameterStore } from './parameter-store.ts';
import type { SimulatedRunCommand } from './run-command.ts';
import type { SimulationContext } from './simulation-context.ts';
import type { SimulatedTargetGroup } from './target-group.ts';

/** The CLI's AwsClients without DynamoDB (the release table runs on dynalite). */
export type SimulatedClients = Omit<AwsClients, 'dynamoDb'>;

export interface SimulatedServices {
  readonly targetGroup: SimulatedTargetGroup;
  readonly runCommand: SimulatedRunCommand;
  readonly parameters: SimulatedParameterStore;
  readonly alarms: SimulatedAlarms;
  readonly autoScalingGroup: SimulatedAutoScalingGroup;
  readonly stacks: SimulatedStacks;
  readonly bucket: SimulatedArtifactBucket;
  readonly metrics: SimulatedMetrics;
}

/** One API call as the simulation answered it. */
export interface ApiCall {
  readonly at: number;
  readonly service: ServiceName;
  /** Without `Command`, e.g. `DescribeTargetHealth`. */
  readonly operation: string;
  readonly input: unknown;
  /** The error name when the call failed (throttling included). */
  readonly error?: string;
}

export interface MockClientOptions {
  readonly region: string;
  readonly callLatencyMs: number;
}

// The client config `send` gets through a stub is never used; credentials only keep the SDK from looking for real ones.
const clientConfig = (region: string) => ({ region, maxAttempts: 1, credentials: { accessKeyId: 'AKIASIMULATION', secretAccessKey: 'simulation' } });

export function mockAwsClients(
  services: SimulatedServices,
  context: SimulationContext,
  faults: ApiFaults,
  calls: ApiCall[],
  options: MockClientOptions,
): { readonly clients: SimulatedClients; readonly restore: () => void } {
  const serve =
    <I, O>(service: ServiceName, operation: string, handler: (input: I) => O) =>
    async (input: I): Promise<O> => {
      if (options.callLatencyMs > 0) await context.clock.sleep(options.callLatencyMs);
      const at = context.clock.now();
      try {
        const fault = faults.faultFor(service, operation);
        if (fault) throw fault === 'throttle' ? throttlingError(service) : internalError(service);
        const output = context.log.change(() => handler(input));
        calls.push({ at, service, operation, input });
        return output;
      } catch (error) {
        calls.push({ at, service, operation, input, error: error instanceof Error ? error.name : String(error) });
        throw error;
      }
    };
  const notSimulated = (service: ServiceName) => async (input: unknown) => {
    throw new Error(`the AWS simulation does not model this ${service} command (input ${JSON.stringify(input)})`);
  };
  const { targetGroup, runCommand, parameters, alarms, autoScalingGroup, stacks, bucket, metrics } = services;
  const requireTargetGroup = (arn: string | undefined) => {
    if (arn !== targetGroup.arn) throw awsError('elbv2', 'TargetGroupNotFoundException', 'One or more target groups not found');
  };
  const ids = (targets: ReadonlyArray<{ Id?: string }> | undefined) => (targets ?? []).map((target) => target.Id ?? '');

  const clients: SimulatedClients = {
    elbv2: new ElasticLoadBalancingV2Client(clientConfig(options.region)),
    ssm: new SSMClient(clientConfig(options.region)),
    cloudWatch: new CloudWatchClient(clientConfig(options.region)),
    autoScaling: new AutoScalingClient(clientConfig(options.region)),
    cloudFormation: new CloudFormationClient(clientConfig(options.region)),
    s3: new S3Client(clientConfig(options.region)),
  };

  const elbv2 = mockClient(clients.elbv2);
  elbv2.onAnyCommand().callsFake(notSimulated('elbv2'));
  elbv2.on(DescribeTargetGroupsCommand).callsFake(
    serve('elbv2', 'DescribeTargetGroups', (input: { TargetGroupArns?: string[] }) => {
      if (!input.TargetGroupArns?.every((arn) => arn === targetGroup.arn)) requireTargetGroup(undefined);
      return {
        TargetGroups: [
          {
            TargetGroupArn: targetGroup.arn,
            TargetGroupName: targetGroup.arn.split('/')[1],
            Protocol: 'HTTP',
            Port: 8080,
            TargetType: 'instance',
            HealthCheckPath: '/health',
            HealthCheckIntervalSeconds: targetGroup.intervalMs / 1000,
            HealthCheckTimeoutSeconds: targetGroup.timeoutSeconds,
            HealthyThresholdCount: targetGroup.healthyThreshold,
            UnhealthyThresholdCount: targetGroup.unhealthyThreshold,
          },
        ],
      };
    }),
  );
  elbv2.on(DescribeTargetGroupAttributesCommand).callsFake(
    serve('elbv2', 'DescribeTargetGroupAttributes', (input: { TargetGroupArn?: string }) => {
      requireTargetGroup(input.TargetGroupArn);
      return {
        Attributes: [
          { Key: 'deregistration_delay.timeout_seconds', Value: String(targetGroup.deregistrationDelayMs / 1000) },
          { Key: 'stickiness.enabled', Value: 'false' },
          { Key: 'load_balancing.algorithm.type', Value: 'round_robin' },
        ],
      };
    }),
  );
  elbv2.on(DescribeTargetHealthCommand).callsFake(
    serve('elbv2', 'DescribeTargetHealth', (input: { TargetGroupArn?: string; Targets?: Array<{ Id?: string }> }) => {
      requireTargetGroup(input.TargetGroupArn);
      return { TargetHealthDescriptions: targetGroup.describe(input.Targets ? ids(input.Targets) : undefined) };
    }),
  );
  elbv2.on(RegisterTargetsCommand).callsFake(
    serve('elbv2', 'RegisterTargets', (input: { TargetGroupArn?: string; Targets?: Array<{ Id?: string }> }) => {
      requireTargetGroup(input.TargetGroupArn);
      targetGroup.register(ids(input.Targets));
      return {};
    }),
  );
  elbv2.on(DeregisterTargetsCommand).callsFake(
    serve('elbv2', 'DeregisterTargets', (input: { TargetGroupArn?: string; Targets?: Array<{ Id?: string }> }) => {
      requireTargetGroup(input.TargetGroupArn);
      targetGroup.deregister(ids(input.Targets));
      return {};
    }),
  );

  const ssm = mockClient(clients.ssm);
  ssm.onAnyCommand().callsFake(notSimulated('ssm'));
  ssm.on(SendCommandCommand).callsFake(serve('ssm', 'SendCommand', (input) => runCommand.send(input)));
  ssm.on(GetCommandInvocationCommand).callsFake(serve('ssm', 'GetCommandInvocation', (input) => runCommand.get(input)));
  ssm.on(CancelCommandCommand).callsFake(serve('ssm', 'CancelCommand', (input) => (runCommand.cancel(input), {})));
  ssm.on(GetParameterCommand).callsFake(serve('ssm', 'GetParameter', (input: { Name?: string }) => parameters.get(input.Name)));
  ssm.on(PutParameterCommand).callsFake(serve('ssm', 'PutParameter', (input) => parameters.put(input)));

  const cloudWatch = mockClient(clients.cloudWatch);
  cloudWatch.onAnyCommand().callsFake(notSimulated('cloudWatch'));
  cloudWatch.on(DescribeAlarmsCommand).callsFake(serve('cloudWatch', 'DescribeAlarms', (input) => alarms.describe(input)));
  cloudWatch.on(PutMetricDataCommand).callsFake(serve('cloudWatch', 'PutMetricData', (input) => metrics.putMetricData(input)));
  cloudWatch.on(GetMetricDataCommand).callsFake(serve('cloudWatch', 'GetMetricData', (input) => metrics.getMetricData(input)));

  const autoScaling = mockClient(clients.autoScaling);
  autoScaling.onAnyCommand().callsFake(notSimulated('autoScaling'));
  autoScaling.on(SuspendProcessesCommand).callsFake(
    serve('autoScaling', 'SuspendProcesses', (input: { AutoScalingGroupName?: string; ScalingProcesses?: string[] }) => {
      autoScalingGroup.suspend(input.AutoScalingGroupName, input.ScalingProcesses);
      return {};
    }),
  );
  autoScaling.on(ResumeProcessesCommand).callsFake(
    serve('autoScaling', 'ResumeProcesses', (input: { AutoScalingGroupName?: string; ScalingProcesses?: string[] }) => {
      autoScalingGroup.resume(input.AutoScalingGroupName, input.ScalingProcesses);
      return {};
    }),
  );
  autoScaling.on(DescribeAutoScalingGroupsCommand).callsFake(
    serve('autoScaling', 'DescribeAutoScalingGroups', (input) => ({ AutoScalingGroups: autoScalingGroup.describeGroups(input) })),
  );
  autoScaling.on(DescribeAutoScalingInstancesCommand).callsFake(
    serve('autoScaling', 'DescribeAutoScalingInstances', (input) => autoScalingGroup.describeInstances(input)),
  );
  autoScaling.on(DescribeInstanceRefreshesCommand).callsFake(serve('autoScaling', 'DescribeInstanceRefreshes', (input) => autoScalingGroup.describeInstanceRefreshes(input)));

  const cloudFormation = mockClient(clients.cloudFormation);
  cloudFormation.onAnyCommand().callsFake(notSimulated('cloudFormation'));
  cloudFormation.on(DescribeStacksCommand).callsFake(serve('cloudFormation', 'DescribeStacks', (input: { StackName?: string }) => stacks.describe(input.StackName)));

  const s3 = mockClient(clients.s3);
  s3.onAnyCommand().callsFake(notSimulated('s3'));
  s3.on(HeadObjectCommand).callsFake(serve('s3', 'HeadObject', (input) => bucket.head(input)));
  s3.on(GetObjectCommand).callsFake(serve('s3', 'GetObject', (input) => bucket.get(input)));

  const mocks = [elbv2, ssm, cloudWatch, autoScaling, cloudFormation, s3];
  return { clients, restore: () => mocks.forEach((mock) => mock.restore()) };
}
