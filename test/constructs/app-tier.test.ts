import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Capture, Match, Template } from 'aws-cdk-lib/assertions';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { beforeAll, describe, expect, it } from 'vitest';
import { AppTier, type AppTierProps, type AppTierSettings } from '../../lib/constructs/app-tier/app-tier.ts';
import { signalOnExitCommands, waitForLoadBalancerCommands } from '../../lib/constructs/app-tier/instance-user-data.ts';
import { parseCliArgs } from '../../lib/runtime/release/cli/parse-args.ts';
import { BadInputError } from '../../lib/runtime/release/errors.ts';
import { bootScript, cloudWatchAgentConfig, referencedLogicalId } from '../helpers/instance-user-data.ts';
import { testApp } from '../helpers/synth.ts';

/** What `cdk synth` with the account's credentials records in cdk.context.json for the default AMI. */
const amiContextKey = (account: string, region: string, parameter = 'al2023-ami-kernel-6.1-x86_64') =>
  `ssm:account=${account}:parameterName=/aws/service/ami-amazon-linux-latest/${parameter}:region=${region}`;
const RECORDED_AMI = 'ami-0abcdef1234567890';

/**
 * The app tier in a stack of its own; with an account and region, cdk.context.json holds `recordedAmi`
 * for the default AMI parameter (null: nothing recorded).
 */
function appTierStack(settings: AppTierSettings & Pick<AppTierProps, 'logRetention' | 'logGroupNamePrefix'> & { deletionProtection?: boolean } = {}, env?: { account: string; region: string }, recordedAmi: string | null = RECORDED_AMI, app = testApp()) {
  if (env && recordedAmi) app.node.setContext(amiContextKey(env.account, env.region), recordedAmi);
  const stack = new Stack(app, 'TestStack', { env });
  const appTier = new AppTier(stack, 'AppTier', {
    ...settings,
    accessLogsBucket: new s3.Bucket(stack, 'Logs'),
    artifactBucket: new s3.Bucket(stack, 'Artifacts'),
    currentVersionParameter: new ssm.StringParameter(stack, 'Version', { stringValue: 'none' }),
  });
  return { stack, appTier, template: Template.fromStack(stack) };
}

/** The rule IDs acknowledged anywhere in `scope`, for cdk-nag and the Control Tower checks alike. */
function acknowledgedRules(scope: Stack): string[] {
  return scope.node.findAll().flatMap((construct) => construct.node.metadata
    .filter((entry) => entry.type === 'aws:cdk:acknowledged-rules')
    .flatMap((entry) => Object.keys(entry.data as object)));
}

describe('AppTier', () => {
  let template: Template;
  let stack: Stack;
  beforeAll(() => {
    ({ template, stack } = appTierStack());
  });

  describe('network', () => {
    it('spans two AZs with public subnets for the ALB and private ones for instances', () => {
      template.resourceCountIs('AWS::EC2::Subnet', 4);
      const subnets = template.findResources('AWS::EC2::Subnet');
      for (const subnet of Object.values(subnets)) {
        expect(subnet.Properties.MapPublicIpOnLaunch).toBe(false);
      }
      template.resourceCountIs('AWS::EC2::NatGateway', 1);
    });

    it('keeps S3 and DynamoDB traffic on gateway endpoints', () => {
      template.resourceCountIs('AWS::EC2::VPCEndpoint', 2);
      template.hasResourceProperties('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Gateway', ServiceName: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith(['.s3'])]) }) });
      template.hasResourceProperties('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Gateway', ServiceName: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith(['.dynamodb'])]) }) });
    });

    it('logs rejected flows to a log group kept a year and encrypted with the stack\'s log key (Control Tower CT.CLOUDWATCH.PR.2/3)', () => {
      template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365, KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^LogEncryptionKey'), 'Arn'] } });
      template.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'REJECT', LogDestinationType: 'cloud-watch-logs' });
    });

    it('uses one NAT gateway per AZ when asked', () => {
      appTierStack({ natGateways: 2 }).template.resourceCountIs('AWS::EC2::NatGateway', 2);
    });
  });

  describe('load balancer', () => {
    it('is internet-facing, drops invalid headers and writes access logs', () => {
      template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
        Scheme: 'internet-facing',
        LoadBalancerAttributes: Match.arrayWith([
          { Key: 'routing.http.drop_invalid_header_fields.enabled', Value: 'true' },
          { Key: 'access_logs.s3.enabled', Value: 'true' },
          { Key: 'access_logs.s3.prefix', Value: 'alb' },
        ]),
      });
    });

    it('lets ELB log delivery write into the log bucket in any region, before logging is enabled', () => {
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Action: 's3:PutObject',
              Principal: {
                Service: 'logdelivery.elasticloadbalancing.amazonaws.com',
                AWS: { 'Fn::If': Match.arrayWith([Match.stringLikeRegexp('^AppTierRegionHasElbLogAccount')]) },
              },
            }),
          ]),
        },
      });
      const mappings = template.findMappings('*');
      const regions = Object.values(mappings)[0] as Record<string, Record<string, string>>;
      expect(Object.values(regions['eu-west-1'] ?? {})).toContain('156460612806');
      const dependsOn = Object.values(template.findResources('AWS::ElasticLoadBalancingV2::LoadBalancer'))[0].DependsOn as string[];
      expect(dependsOn.some((id) => id.startsWith('LogsPolicy'))).toBe(true);
    });

    it('uses the regional ELB account directly when the region is known', () => {
      const { template: regional } = appTierStack({}, { account: '123456789012', region: 'eu-west-1' });
      regional.hasResourceProperties('AWS::S3::BucketPolicy', {
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Principal: { AWS: 'arn:aws:iam::156460612806:root' } })]) },
      });
    });

    it('acknowledges the HTTPS-redirect and deletion-protection controls only for a stage without a certificate or data protection', () => {
      expect(acknowledgedRules(stack)).toEqual(expect.arrayContaining([
        'cdk-validator-cfnguard::alb_http_to_https_redirection_check',
        'cdk-validator-cfnguard::elbv2_deletion_protection_enabled_check',
      ]));
      const protectedHttps = appTierStack({ certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abcd-1234', deletionProtection: true });
      const rules = acknowledgedRules(protectedHttps.stack);
      expect(rules).not.toContain('cdk-validator-cfnguard::alb_http_to_https_redirection_check');
      expect(rules).not.toContain('cdk-validator-cfnguard::elbv2_deletion_protection_enabled_check');
    });

    it('serves HTTP only, with a warning, when no certificate is given', () => {
      template.resourceCountIs('AWS::ElasticLoadBalancingV2::Listener', 1);
      template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 80, Protocol: 'HTTP', DefaultActions: [Match.objectLike({ Type: 'forward' })] });
      Annotations.fromStack(stack).hasWarning('/TestStack/AppTier', Match.stringLikeRegexp('No certificateArn'));
    });

    it('serves HTTPS with a modern TLS policy and redirects HTTP when a certificate is given', () => {
      const certificateArn = 'arn:aws:acm:eu-west-1:123456789012:certificate/1234-abcd';
      const { template: https, stack: httpsStack } = appTierStack({ certificateArn });
      https.resourceCountIs('AWS::ElasticLoadBalancingV2::Listener', 2);
      https.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
        Port: 443,
        Protocol: 'HTTPS',
        Certificates: [{ CertificateArn: certificateArn }],
        SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
      });
      https.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
        Port: 80,
        DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } }],
      });
      https.hasResourceProperties('AWS::EC2::SecurityGroup', {
        SecurityGroupIngress: Match.arrayWith([Match.objectLike({ FromPort: 443, CidrIp: '0.0.0.0/0' })]),
      });
      Annotations.fromStack(httpsStack).hasNoWarning('/TestStack/AppTier', Match.stringLikeRegexp('No certificateArn'));
    });
  });

  describe('target group', () => {
    it('has the tuned health check and a 30 s deregistration delay by default', () => {
      template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
        Port: 8080,
        Protocol: 'HTTP',
        TargetType: 'instance',
        HealthCheckPath: '/health',
        HealthCheckIntervalSeconds: 5,
        HealthCheckTimeoutSeconds: 4,
        HealthyThresholdCount: 2,
        UnhealthyThresholdCount: 3,
        Matcher: { HttpCode: '200' },
        TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: '30' }]),
      });
    });

    it('takes every health-check setting from the props', () => {
      const { template: tuned } = appTierStack({
        appPort: 3000,
        healthCheckPath: '/ready',
        healthCheckInterval: Duration.seconds(10),
        healthCheckTimeout: Duration.seconds(5),
        healthyThreshold: 3,
        unhealthyThreshold: 4,
        deregistrationDelay: Duration.seconds(10),
      });
      tuned.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
        Port: 3000,
        HealthCheckPath: '/ready',
        HealthCheckIntervalSeconds: 10,
        HealthCheckTimeoutSeconds: 5,
        HealthyThresholdCount: 3,
        UnhealthyThresholdCount: 4,
        TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: '10' }]),
      });
    });

    it('warns that a long deregistration delay slows every release', () => {
      const { stack: slow } = appTierStack({ deregistrationDelay: Duration.seconds(600) });
      Annotations.fromStack(slow).hasWarning('/TestStack/AppTier', Match.stringLikeRegexp('deregistrationDelay is 600 seconds'));
    });
  });

  describe('instances', () => {
    it('launch Amazon Linux 2023 with IMDSv2 required, encrypted EBS and no public IP', () => {
      template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
        LaunchTemplateData: Match.objectLike({
          ImageId: { Ref: Match.stringLikeRegexp('al2023') },
          InstanceType: 't3.small',
          MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 1 },
          BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { Encrypted: true, VolumeType: 'gp3', VolumeSize: 20, DeleteOnTermination: true } }],
          NetworkInterfaces: [Match.objectLike({ AssociatePublicIpAddress: false, DeviceIndex: 0 })],
        }),
      });
      const parameters = template.findParameters('*', { Default: Match.stringLikeRegexp('/aws/service/ami-amazon-linux-latest/al2023') });
      expect(Object.keys(parameters)).toHaveLength(1);
    });

    it('form a group of at least two in private subnets, replaced on failed ELB health checks after a grace period', () => {
      template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
        MinSize: '2',
        MaxSize: '4',
        HealthCheckType: 'ELB',
        HealthCheckGracePeriod: 300,
        TargetGroupARNs: [{ Ref: Match.stringLikeRegexp('AppTierTargetGroup') }],
        VPCZoneIdentifier: Match.arrayWith([{ Ref: Match.stringLikeRegexp('AppTierVpcappSubnet1') }]),
      });
      const group = Object.values(template.findResources('AWS::AutoScaling::AutoScalingGroup'))[0];
      expect(group.Properties.DesiredCapacity).toBeUndefined();
    });

    it('may launch either of two equivalent types, preferring the first, every instance on-demand (Control Tower CT.AUTOSCALING.PR.6)', () => {
      const group = Object.values(template.findResources('AWS::AutoScaling::AutoScalingGroup'))[0].Properties;
      expect(group.LaunchTemplate).toBeUndefined();
      expect(group.MixedInstancesPolicy).toEqual({
        LaunchTemplate: {
          LaunchTemplateSpecification: { LaunchTemplateId: { Ref: expect.stringMatching(/^AppTierLaunchTemplate/) }, Version: expect.anything() },
          Overrides: [{ InstanceType: 't3.small' }, { InstanceType: 't3a.small' }],
        },
        // No Spot: a reclaimed instance in the middle of a release would take capacity below minCapacity.
        InstancesDistribution: { OnDemandAllocationStrategy: 'prioritized', OnDemandBaseCapacity: 2, OnDemandPercentageAboveBaseCapacity: 100 },
      });
      const prodLike = appTierStack({ instanceTypes: ['t3.medium', 't3a.medium'], minCapacity: 3, maxCapacity: 6 }).template;
      prodLike.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
        MixedInstancesPolicy: {
          LaunchTemplate: Match.objectLike({ Overrides: [{ InstanceType: 't3.medium' }, { InstanceType: 't3a.medium' }] }),
          InstancesDistribution: Match.objectLike({ OnDemandBaseCapacity: 3, OnDemandPercentageAboveBaseCapacity: 100 }),
        },
      });
      prodLike.hasResourceProperties('AWS::EC2::LaunchTemplate', { LaunchTemplateData: Match.objectLike({ InstanceType: 't3.medium' }) });
    });

    it('turn detailed monitoring on only when asked (Control Tower CT.EC2.PR.10), acknowledging the control otherwise', () => {
      const launchTemplateData = (t: Template) => Object.values(t.findResources('AWS::EC2::LaunchTemplate'))[0].Properties.LaunchTemplateData;
      expect(launchTemplateData(template).Monitoring).toEqual({ Enabled: false });
      expect(acknowledgedRules(stack)).toContain('cdk-validator-cfnguard::ec2_launch_template_monitoring_enabled_check');
      const monitored = appTierStack({ detailedMonitoring: true });
      expect(launchTemplateData(monitored.template).Monitoring).toEqual({ Enabled: true });
      expect(acknowledgedRules(monitored.stack)).not.toContain('cdk-validator-cfnguard::ec2_launch_template_monitoring_enabled_check');
    });

    it('sets the desired capacity only when configured', () => {
      appTierStack({ minCapacity: 3, desiredCapacity: 4, maxCapacity: 6 }).template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
        MinSize: '3', DesiredCapacity: '4', MaxSize: '6',
      });
    });

    it('admit only the load balancer, on the app port', () => {
      const ingress = template.findResources('AWS::EC2::SecurityGroupIngress');
      const toInstances = Object.values(ingress).filter((rule) => JSON.stringify(rule.Properties.GroupId).includes('InstanceSecurityGroup'));
      expect(toInstances).toHaveLength(1);
      expect(toInstances[0].Properties).toMatchObject({
        IpProtocol: 'tcp',
        FromPort: 8080,
        ToPort: 8080,
        SourceSecurityGroupId: { 'Fn::GetAtt': [expect.stringMatching(/^AppTierLoadBalancerSecurityGroup/), 'GroupId'] },
      });
      template.hasResourceProperties('AWS::EC2::SecurityGroup', {
        GroupDescription: 'sluice app instances: app port from the ALB only',
        SecurityGroupIngress: Match.absent(),
      });
    });

    it('have a role limited to SSM, reading releases and the current-version parameter, writing their log groups, and signalling readiness', () => {
      template.hasResourceProperties('AWS::IAM::Role', {
        AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'ec2.amazonaws.com' } })] },
        ManagedPolicyArns: [{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/AmazonSSMManagedInstanceCore']] }],
      });
      const statements = new Capture();
      template.hasResourceProperties('AWS::IAM::Policy', { Roles: [{ Ref: Match.stringLikeRegexp('AppTierInstanceRole') }], PolicyDocument: { Statement: statements } });
      const actions = (statements.asArray() as { Action: string | string[] }[]).flatMap((statement) => statement.Action);
      expect(actions.sort()).toEqual([
        'cloudformation:SignalResource',
        'elasticloadbalancing:DescribeTargetHealth',
        'logs:CreateLogStream', 'logs:PutLogEvents',
        's3:GetObject',
        'ssm:DescribeParameters', 'ssm:GetParameter', 'ssm:GetParameterHistory', 'ssm:GetParameters',
      ]);
      expect(JSON.stringify(statements.asArray())).toContain('/releases/*');
      // The signal goes to this stack only.
      expect(statements.asArray()).toContainEqual(expect.objectContaining({ Action: 'cloudformation:SignalResource', Resource: { Ref: 'AWS::StackId' } }));
    });

    it('boot into the current release with sluice-install and graceful systemd services', () => {
      const userData = JSON.stringify(Object.values(template.findResources('AWS::EC2::LaunchTemplate'))[0].Properties.LaunchTemplateData.UserData);
      expect(userData).toContain('dnf install -y nodejs22');
      expect(userData).toContain('/opt/sluice/bin/sluice-install');
      expect(userData).toContain('sluice-worker.service');
      expect(userData).toContain('TimeoutStopSec=60');
      expect(userData).toContain('ExecStart=/usr/bin/node-22 --enable-source-maps server.mjs');
      expect(userData).toContain('ExecStart=/usr/bin/node-22 --enable-source-maps worker.mjs');
      expect(userData).toContain('APP_PORT=8080');
      expect(userData).toContain('aws ssm get-parameter');
      // Before the first release: a placeholder that passes the health check, so the group keeps the instance.
      expect(userData).toContain('/opt/sluice/releases/none/server.mjs');
      expect(userData).toContain("version: 'none'");
    });

    it('fit in the 16 KB EC2 allows for user data', () => {
      const userData = Object.values(template.findResources('AWS::EC2::LaunchTemplate'))[0].Properties.LaunchTemplateData.UserData['Fn::Base64'];
      const parts: unknown[] = typeof userData === 'string' ? [userData] : userData['Fn::Join'][1];
      // Each token (bucket name, region, …) counted as 128 bytes, more than any of them resolves to.
      const bytes = parts.reduce<number>((sum, part) => sum + (typeof part === 'string' ? Buffer.byteLength(part) : 128), 0);
      expect(bytes).toBeLessThan(16 * 1024);
    });

    it('sluice-install refuses exactly the versions the release CLI refuses, before it touches anything', () => {
      // The script's own check (shell cannot share the TypeScript pattern), run on its own.
      const script = readFileSync(new URL('../../lib/constructs/app-tier/sluice-install.sh', import.meta.url), 'utf8');
      const versionCheck = /^version=.*?\nfi\n/ms.exec(script)?.[0];
      expect(versionCheck).toContain('exit 2');
      const exitCode = (version: string) => spawnSync('bash', ['-c', `${versionCheck}exit 0`, 'sluice-install', version]).status;
      for (const version of ['1', 'abc123', '2.0.0+build.7', 'v1_rc-2', `a${'b'.repeat(127)}`]) {
        expect(exitCode(version)).toBe(0);
        expect(() => parseCliArgs(['release', '--', version])).not.toThrow();
      }
      for (const version of ['', '-v1', '.hidden', 'v1/../x', 'v 1', "v1'", '$(id)', `a${'b'.repeat(128)}`]) {
        expect(exitCode(version)).toBe(2);
        expect(() => parseCliArgs(['release', '--', version])).toThrow(BadInputError);
      }
    });
  });

  describe('service logs', () => {
    const logGroups = (t: Template) => t.findResources('AWS::Logs::LogGroup', { Properties: { LogGroupName: Match.anyValue() } });

    it('are one encrypted log group per service, named after the stack, kept one year by default', () => {
      const groups = Object.values(logGroups(template)).map((group) => group.Properties);
      expect(groups.map((group) => group.LogGroupName).sort()).toEqual(['/TestStack/web', '/TestStack/worker']);
      for (const group of groups) {
        expect(group).toMatchObject({ RetentionInDays: 365, KmsKeyId: { 'Fn::GetAtt': [expect.stringMatching(/^LogEncryptionKey/), 'Arn'] } });
      }
    });

    it('take the name prefix and the retention from the props', () => {
      const { template: tuned } = appTierStack({ logGroupNamePrefix: '/sluice/prod', logRetention: 3653 });
      const groups = Object.values(logGroups(tuned)).map((group) => group.Properties);
      expect(groups.map((group) => [group.LogGroupName, group.RetentionInDays]).sort()).toEqual([['/sluice/prod/web', 3653], ['/sluice/prod/worker', 3653]]);
    });

    it('are what the CloudWatch agent ships: every file it collects goes to a log group of the stack, one stream per instance', () => {
      const collected = cloudWatchAgentConfig(bootScript(template)).logs.logs_collected.files.collect_list;
      expect(collected.map((file) => file.file_path).sort()).toEqual(['/var/log/sluice/web.log', '/var/log/sluice/worker.log']);
      const groups = logGroups(template);
      for (const file of collected) {
        const logicalId = referencedLogicalId(file.log_group_name);
        expect(Object.keys(groups)).toContain(logicalId);
        // Each service's file goes to that service's group.
        expect(groups[logicalId].Properties.LogGroupName).toBe(`/TestStack/${/\/(\w+)\.log$/.exec(file.file_path)![1]}`);
        expect(file.log_stream_name).toBe('{instance_id}');
        // The stack owns retention; the agent would need logs:PutRetentionPolicy.
        expect(file.retention_in_days).toBeUndefined();
      }
    });

    it('are the files the services write: each systemd unit appends its output to the file the agent ships', () => {
      const script = bootScript(template);
      const collected = cloudWatchAgentConfig(script).logs.logs_collected.files.collect_list.map((file) => file.file_path).sort();
      const appended = [...script.matchAll(/^StandardOutput=append:(\S+)$/gm)].map((match) => match[1]).sort();
      expect(appended).toEqual(collected);
      expect(script).not.toMatch(/^StandardError=(?!inherit)/m);
    });

    it('are shipped by an agent installed and started before any service runs, with no metrics or socket listener of its own', () => {
      const script = bootScript(template);
      const at = (text: string) => {
        expect(script).toContain(text);
        return script.indexOf(text);
      };
      expect(at('dnf install -y nodejs22 amazon-cloudwatch-agent')).toBeLessThan(at('amazon-cloudwatch-agent-ctl -a fetch-config'));
      expect(at('amazon-cloudwatch-agent-ctl -a fetch-config')).toBeLessThan(at('systemctl start sluice-web.service'));
      expect(at('amazon-cloudwatch-agent-ctl -a fetch-config')).toBeLessThan(at('/opt/sluice/bin/sluice-install "$version"'));
      const config = cloudWatchAgentConfig(script);
      expect(config.metrics).toBeUndefined();
      expect(config.logs.metrics_collected).toBeUndefined();
      // Rotated locally with copytruncate: the services keep their file open.
      expect(script).toMatch(/\/etc\/logrotate\.d\/sluice[^]*copytruncate/);
    });

    it('may be written by the instances, and no other log group: CreateLogStream and PutLogEvents on exactly their ARNs', () => {
      const policies = Object.values(template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: Match.stringLikeRegexp('AppTierInstanceRole') }] } }));
      const statements = policies.flatMap((policy) => policy.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);
      const logStatements = statements.filter((statement) => [statement.Action].flat().some((action) => action.startsWith('logs:')));
      expect(logStatements).toHaveLength(1);
      expect([logStatements[0].Action].flat().sort()).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
      const resources = [logStatements[0].Resource].flat() as { 'Fn::GetAtt': [string, string] }[];
      expect(resources.map((resource) => resource['Fn::GetAtt']).sort()).toEqual(Object.keys(logGroups(template)).sort().map((id) => [id, 'Arn']));
      // Nor the managed agent policy, which may create and write any group.
      expect(JSON.stringify(template.findResources('AWS::IAM::Role'))).not.toContain('CloudWatchAgentServerPolicy');
    });

    it('refuse a retention CloudWatch does not offer and a prefix that is not a log group name', () => {
      expect(() => appTierStack({ logRetention: 42 as RetentionDays, logGroupNamePrefix: 'sluice dev' })).toThrow(
        'Invalid app tier settings:\n'
          + '  - logRetention must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653 days, the periods CloudWatch Logs allows (given 42)\n'
          + '  - logGroupNamePrefix must start with "/" and hold only letters, digits and "_-/.#" (given "sluice dev")',
      );
    });
  });

  describe('infrastructure changes', () => {
    const group = (t: Template) => Object.values(t.findResources('AWS::AutoScaling::AutoScalingGroup'))[0];

    it('replace the instances one at a time, never fewer than minCapacity in service, each waiting for its signal', () => {
      expect(group(template).UpdatePolicy.AutoScalingRollingUpdate).toEqual({
        MaxBatchSize: 1,
        MinInstancesInService: 2,
        // Every new instance must signal success, within instanceReadyTimeout (10 minutes).
        MinSuccessfulInstancesPercent: 100,
        WaitOnResourceSignals: true,
        PauseTime: 'PT10M',
        // What AWS recommends suspending during a rolling update, and any instance refresh; Launch,
        // Terminate and AddToLoadBalancer do the update.
        SuspendProcesses: ['HealthCheck', 'ReplaceUnhealthy', 'AZRebalance', 'AlarmNotification', 'ScheduledActions', 'InstanceRefresh'],
      });
      // No replacing update: the group (and its name, a stack output) stays.
      expect(group(template).UpdatePolicy.AutoScalingReplacingUpdate).toBeUndefined();
    });

    it('keep the group at the size it scaled to: the template sets no desired capacity to reset it to', () => {
      expect(group(template).Properties.DesiredCapacity).toBeUndefined();
      const scaledStage = appTierStack({ minCapacity: 3, maxCapacity: 8 }).template;
      expect(group(scaledStage).UpdatePolicy.AutoScalingRollingUpdate).toMatchObject({ MinInstancesInService: 3, MaxBatchSize: 1 });
    });

    it('wait for the first instances to signal when the group is created, after the listener exists', () => {
      expect(group(template).CreationPolicy).toEqual({
        AutoScalingCreationPolicy: { MinSuccessfulInstancesPercent: 100 },
        ResourceSignal: { Count: 2, Timeout: 'PT10M' },
      });
      // Targets of a target group without a listener stay `unused` and could never turn healthy.
      expect(group(template).DependsOn).toEqual([expect.stringMatching(/^AppTierLoadBalancerHttp/)]);
      const https = appTierStack({ certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/1234-abcd' }).template;
      expect(group(https).DependsOn).toEqual([expect.stringMatching(/^AppTierLoadBalancerHttps/)]);
    });

    it('take instanceReadyTimeout as the signal timeout of both', () => {
      const slow = group(appTierStack({ instanceReadyTimeout: Duration.minutes(20) }).template);
      expect(slow.UpdatePolicy.AutoScalingRollingUpdate.PauseTime).toBe('PT20M');
      expect(slow.CreationPolicy.ResourceSignal.Timeout).toBe('PT20M');
    });

    it('signal from the boot script: trap first, then the install, then the load balancer check', () => {
      const userData = JSON.stringify(Object.values(template.findResources('AWS::EC2::LaunchTemplate'))[0].Properties.LaunchTemplateData.UserData);
      const at = (text: string) => {
        expect(userData).toContain(text);
        return userData.indexOf(text);
      };
      expect(at("trap 'signal_cloudformation $?' EXIT")).toBeLessThan(at('dnf install -y nodejs22'));
      expect(at('/opt/sluice/bin/sluice-install \\"$version\\"')).toBeLessThan(at('aws elbv2 describe-target-health'));
      // To this stack's group, under its logical ID, about this instance.
      const groupId = Object.keys(template.findResources('AWS::AutoScaling::AutoScalingGroup'))[0];
      expect(userData).toContain(`--stack-name ",{"Ref":"AWS::StackName"}," --logical-resource-id ${groupId} --unique-id \\"$instance_id\\"`);
      expect(userData).toMatch(/--target-group-arn ",\{"Ref":"AppTierTargetGroup/);
      // healthyThreshold (2) × interval (5 s), plus a minute for the registration.
      expect(userData).toContain('healthy_deadline=$((SECONDS + 70))');
    });
  });

  describe('boot signal, run in bash with stand-ins for the AWS CLI and the instance metadata', () => {
    const readiness = { region: 'eu-west-1', stackName: 'sluice-dev', logicalResourceId: 'AppTierGroupASG', targetGroupArn: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/abc', loadBalancerTimeoutSeconds: 2, pollSeconds: 0.2 };
    let bin: string;
    beforeAll(() => {
      bin = mkdtempSync(join(tmpdir(), 'sluice-boot-'));
      writeFileSync(join(bin, 'curl'), '#!/bin/bash\ncase "$*" in *api/token*) echo token ;; *instance-id*) echo i-0123456789abcdef0 ;; *) exit 22 ;; esac\n', { mode: 0o755 });
      // `aws`: logs each call; describe-target-health answers the next state from $STATES (the last one repeats).
      writeFileSync(join(bin, 'aws'), [
        '#!/bin/bash',
        'echo "$*" >> "$LOG"',
        'if [[ "$1" == elbv2 ]]; then state="$(head -n1 "$STATES")"; [[ $(wc -l < "$STATES") -gt 1 ]] && sed -i 1d "$STATES"; echo "$state"; fi',
        'if [[ "$1" == cloudformation ]]; then exit "${SIGNAL_EXIT:-0}"; fi',
      ].join('\n'), { mode: 0o755 });
    });

    /** The boot's signal and load-balancer wait around `install`, as the user data runs them. */
    function boot(install: string, states: readonly string[], env: Record<string, string> = {}) {
      const dir = mkdtempSync(join(tmpdir(), 'sluice-boot-run-'));
      const log = join(dir, 'aws.log');
      writeFileSync(log, '');
      writeFileSync(join(dir, 'states'), `${states.join('\n')}\n`);
      const script = ['set -euo pipefail', ...signalOnExitCommands(readiness), install, ...waitForLoadBalancerCommands(readiness)].join('\n');
      const run = spawnSync('bash', ['-c', script], { env: { PATH: `${bin}:${process.env.PATH}`, LOG: log, STATES: join(dir, 'states'), ...env }, encoding: 'utf8' });
      const calls = readFileSync(log, 'utf8').trim().split('\n').filter(Boolean);
      rmSync(dir, { recursive: true, force: true });
      return { status: run.status, stderr: run.stderr, calls };
    }
    const signal = (status: string) => `cloudformation signal-resource --region eu-west-1 --stack-name sluice-dev --logical-resource-id AppTierGroupASG --unique-id i-0123456789abcdef0 --status ${status}`;

    it('signals SUCCESS only after the install and once the load balancer calls the instance healthy', () => {
      const run = boot('echo installed', ['initial', 'unhealthy', 'healthy']);
      expect(run.status).toBe(0);
      expect(run.calls.filter((call) => call.startsWith('elbv2'))).toHaveLength(3);
      expect(run.calls[0]).toContain('--target-group-arn arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/abc --targets Id=i-0123456789abcdef0');
      expect(run.calls.at(-1)).toBe(signal('SUCCESS'));
      expect(run.calls.filter((call) => call.startsWith('cloudformation'))).toHaveLength(1);
    });

    it('signals FAILURE at once when the install fails, keeping its exit status, and never waits for the load balancer', () => {
      const run = boot('exit 3', ['healthy']);
      expect(run.status).toBe(3);
      expect(run.calls).toEqual([signal('FAILURE')]);
    });

    it('signals FAILURE when the load balancer never calls the instance healthy within its time', () => {
      const run = boot('true', ['unhealthy']);
      expect(run.status).toBe(1);
      expect(run.stderr).toContain('the load balancer did not report i-0123456789abcdef0 healthy within 2s');
      expect(run.calls.at(-1)).toBe(signal('FAILURE'));
    });

    it('boots anyway when no CloudFormation operation waits for the signal (a scale-out)', () => {
      const run = boot('true', ['healthy'], { SIGNAL_EXIT: '254' });
      expect(run.status).toBe(0);
      expect(run.stderr).toContain('signal not accepted (nothing waits for this instance)');
    });
  });

  describe('machine image', () => {
    const imageId = (t: Template) => Object.values(t.findResources('AWS::EC2::LaunchTemplate'))[0].Properties.LaunchTemplateData.ImageId;
    const env = { account: '123456789012', region: 'eu-west-1' };

    it('with the account and region known (every deploy), is the AMI recorded in cdk.context.json, not a deploy-time parameter', () => {
      const { template: deployable } = appTierStack({}, env);
      expect(imageId(deployable)).toBe(RECORDED_AMI);
      expect(Object.keys(deployable.findParameters('*', { Type: Match.stringLikeRegexp('AWS::EC2::Image::Id') }))).toEqual([]);
    });

    it('changes only when the recorded AMI changes, and then the template shows the new ImageId', () => {
      expect(imageId(appTierStack({}, env).template)).toBe(imageId(appTierStack({ instanceTypes: ['t3.large', 't3a.large'] }, env).template));
      expect(imageId(appTierStack({}, env, 'ami-0fedcba9876543210').template)).toBe('ami-0fedcba9876543210');
    });

    it('asks for the AMI to be recorded when it is not, naming the cdk.context.json key', () => {
      // The CloudFormation validator would reject the placeholder CDK uses meanwhile; the CLI looks the key up first.
      const app = new App({ context: { ...testApp().node.getAllContext(), '@aws-cdk/core:validateAgainstDefaultRules': false } });
      appTierStack({}, env, null, app);
      // (A bare stack with an account also looks its AZs up; the stage stack does not.)
      expect(app.synth().manifest.missing?.map((missing) => missing.key)).toContain(amiContextKey('123456789012', 'eu-west-1'));
    });

    it('is the arm64 image for a Graviton instance type', () => {
      expect(imageId(appTierStack({ instanceTypes: ['m7g.medium', 'm6g.medium'] }, env, null, (() => {
        const app = testApp();
        app.node.setContext(amiContextKey('123456789012', 'eu-west-1', 'al2023-ami-kernel-6.1-arm64'), 'ami-0aaaabbbbccccdddd');
        return app;
      })()).template)).toBe('ami-0aaaabbbbccccdddd');
    });

    it('is pinned by amiId, with or without an account and region', () => {
      expect(imageId(appTierStack({ amiId: 'ami-0123456789abcdef0' }).template)).toBe('ami-0123456789abcdef0');
      expect(imageId(appTierStack({ amiId: 'ami-12345678' }, env, null).template)).toBe('ami-12345678');
    });
  });

  describe('metrics', () => {
    it('expresses 5xx as a percentage of requests, zero when there are none', () => {
      const { appTier } = appTierStack();
      const rate = appTier.metricElb5xxRate();
      expect(rate.expression).toBe('IF(requests > 0, 100 * FILL(elb5xx, 0) / requests, 0)');
      expect(appTier.metricTarget5xxRate().expression).toBe('IF(requests > 0, 100 * FILL(target5xx, 0) / requests, 0)');
      expect(rate.period.toSeconds()).toBe(60);
      expect(appTier.metricTargetResponseTimeP99().statistic).toBe('p99');
      expect(appTier.metricHealthyHosts().statistic).toBe('Minimum');
    });
  });

  describe('validation', () => {
    it('lists every problem in one error', () => {
      expect(() => appTierStack({ minCapacity: 1, deregistrationDelay: Duration.seconds(4000), healthyThreshold: 11, natGateways: 3 })).toThrow(
        'Invalid app tier settings:\n'
          + '  - minCapacity must be a whole number between 2 and 100 (given 1)\n'
          + '  - healthyThreshold must be a whole number between 2 and 10 (given 11)\n'
          + '  - deregistrationDelay must be between 0 and 3600 seconds (given 4000)\n'
          + '  - natGateways must be a whole number between 1 and 2 (given 3)',
      );
    });

    it('rejects an AMI id that is not one, a group that cannot roll, and a ready timeout shorter than the waits before the signal', () => {
      expect(() => appTierStack({ amiId: 'ami-123', minCapacity: 3, maxCapacity: 3, instanceReadyTimeout: Duration.seconds(70) })).toThrow(
        'Invalid app tier settings:\n'
          + '  - amiId must be an AMI id: "ami-" and 8 or 17 lower-case hex digits (given "ami-123")\n'
          + '  - maxCapacity must be more than minCapacity (3), so a rolling update can launch a replacement before it terminates an instance (given 3)\n'
          + '  - instanceReadyTimeout must be longer than installHealthTimeout plus healthyThreshold × healthCheckInterval (70 seconds), the waits a new instance makes before it signals (given 70)',
      );
      expect(() => appTierStack({ instanceReadyTimeout: Duration.hours(2) })).toThrow('instanceReadyTimeout must be between 60 and 3600 seconds (given 7200)');
      expect(() => appTierStack({ amiId: 'ami-0123456789ABCDEF0' })).toThrow(/amiId must be an AMI id/);
    });

    it('wants at least two instance types, well formed, distinct and of one architecture', () => {
      expect(() => appTierStack({ instanceTypes: ['t3.small'] })).toThrow(
        'instanceTypes must list between 2 and 40 EC2 instance types of the same size, so that the group still launches when one type is short in an AZ, e.g. ["t3.small", "t3a.small"] (given ["t3.small"])',
      );
      expect(() => appTierStack({ instanceTypes: ['t3.small', 'T3A small', 't3.small'] })).toThrow(
        'Invalid app tier settings:\n'
          + '  - instanceTypes must be EC2 instance types such as t3.small (not "T3A small")\n'
          + '  - instanceTypes must not repeat a type (t3.small appears more than once)',
      );
      expect(() => appTierStack({ instanceTypes: ['t3.small', 't4g.small'] })).toThrow(
        'instanceTypes must all have one architecture, since one AMI serves the group: Graviton (arm64) and x86_64 types cannot be mixed (given ["t3.small","t4g.small"])',
      );
    });

    it('rejects a health check path that is not a path', () => {
      expect(() => appTierStack({ healthCheckPath: 'health' })).toThrow('healthCheckPath must be a URL path starting with "/" (at most 1024 characters) (given "health")');
    });
  });
});
