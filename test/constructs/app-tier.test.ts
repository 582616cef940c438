import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Capture, Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { beforeAll, describe, expect, it } from 'vitest';
import { AppTier, type AppTierSettings } from '../../lib/constructs/app-tier/app-tier.ts';
import { parseCliArgs } from '../../lib/runtime/release/cli/parse-args.ts';
import { BadInputError } from '../../lib/runtime/release/errors.ts';
import { testApp } from '../helpers/synth.ts';

function appTierStack(settings: AppTierSettings = {}, env?: { account: string; region: string }) {
  const stack = new Stack(testApp(), 'TestStack', { env });
  const appTier = new AppTier(stack, 'AppTier', {
    ...settings,
    accessLogsBucket: new s3.Bucket(stack, 'Logs'),
    artifactBucket: new s3.Bucket(stack, 'Artifacts'),
    currentVersionParameter: new ssm.StringParameter(stack, 'Version', { stringValue: 'none' }),
  });
  return { stack, appTier, template: Template.fromStack(stack) };
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

    it('logs rejected flows', () => {
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

    it('have a role limited to SSM, reading releases and the current-version parameter', () => {
      template.hasResourceProperties('AWS::IAM::Role', {
        AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'ec2.amazonaws.com' } })] },
        ManagedPolicyArns: [{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/AmazonSSMManagedInstanceCore']] }],
      });
      const statements = new Capture();
      template.hasResourceProperties('AWS::IAM::Policy', { Roles: [{ Ref: Match.stringLikeRegexp('AppTierInstanceRole') }], PolicyDocument: { Statement: statements } });
      const actions = (statements.asArray() as { Action: string | string[] }[]).flatMap((statement) => statement.Action);
      expect(actions.sort()).toEqual(['s3:GetObject', 'ssm:DescribeParameters', 'ssm:GetParameter', 'ssm:GetParameterHistory', 'ssm:GetParameters'].sort());
      expect(JSON.stringify(statements.asArray())).toContain('/releases/*');
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

  describe('metrics', () => {
    it('expresses 5xx as a percentage of requests, zero when there are none', () => {
      const { appTier } = appTierStack();
      const rate = appTier.metricElb5xxRate();
      expect(rate.expression).toBe('IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)');
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

    it('rejects a health check path that is not a path', () => {
      expect(() => appTierStack({ healthCheckPath: 'health' })).toThrow('healthCheckPath must be a URL path starting with "/" (at most 1024 characters) (given "health")');
    });
  });
});
