import { Annotations, Aws, CfnCondition, type CfnElement, Duration, Fn, Lazy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { FactName } from 'aws-cdk-lib/region-info';
import type * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { encryptedLogGroup } from '../log-groups/encrypted-log-group.ts';
import { type LogGroupSettings, validateLogGroupSettings } from '../log-groups/log-group-settings.ts';
import { acknowledgeControl } from '../policy-checks/control-tower.ts';
import { throwIfInvalid } from '../settings-validation.ts';
import { APP_TIER_DEFAULTS } from './app-tier-defaults.ts';
import { cloudWatchAgentConfig } from './cloudwatch-agent-config.ts';
import { INSTANCE_SERVICES, type InstanceService, instanceUserData, serviceLogFile } from './instance-user-data.ts';
import { validateAppTierSettings } from './validate-app-tier-settings.ts';

/** The tunable settings of the app tier; every one has a default chosen for fast, safe releases. */
export interface AppTierSettings {
  /**
   * EC2 instance types of the app instances, in order of preference: at least two of the same size
   * (vCPUs and memory) and architecture, so that the group keeps its capacity when one type is short
   * in an AZ — in the middle of a release too (AWS Control Tower CT.AUTOSCALING.PR.6). A release
   * counts every instance alike, so the types must be equivalent.
   * @default ['t3.small', 't3a.small']
   */
  readonly instanceTypes?: readonly string[];
  /**
   * One-minute EC2 metrics (detailed monitoring) for the app instances (CT.EC2.PR.10), rather than
   * five-minute ones.
   * @default false — it costs about $2.10 per instance a month (seven metrics at $0.30)
   */
  readonly detailedMonitoring?: boolean;
  /**
   * Fewest instances in the group (at least 2, spread over 2 AZs).
   * @default 2
   */
  readonly minCapacity?: number;
  /**
   * Instances the group starts with.
   * @default - not set, so the group starts at minCapacity and a deploy never resets a group that scaled out
   */
  readonly desiredCapacity?: number;
  /**
   * Most instances in the group; more than minCapacity, so a rolling update of a group at its minimum
   * can launch a replacement before it terminates an instance.
   * @default 4
   */
  readonly maxCapacity?: number;
  /**
   * Port the web app listens on, behind the load balancer.
   * @default 8080
   */
  readonly appPort?: number;
  /**
   * Path the load balancer checks; it must answer 200 only when the instance can serve.
   * @default '/health'
   */
  readonly healthCheckPath?: string;
  /**
   * Time between two health checks of one target.
   * @default 5 seconds (AWS: 30) — a re-registered target becomes healthy in healthyThreshold × this
   */
  readonly healthCheckInterval?: Duration;
  /**
   * Time after which a health check without an answer fails; less than healthCheckInterval.
   * @default 4 seconds
   */
  readonly healthCheckTimeout?: Duration;
  /**
   * Consecutive passing checks before a target is healthy.
   * @default 2 (AWS: 5)
   */
  readonly healthyThreshold?: number;
  /**
   * Consecutive failing checks before a target is unhealthy.
   * @default 3 — one slow answer does not take a target out
   */
  readonly unhealthyThreshold?: number;
  /**
   * How long a deregistered target keeps serving its open requests before it is removed.
   * @default 30 seconds (AWS: 300) — every release waits this long per target
   */
  readonly deregistrationDelay?: Duration;
  /**
   * Time a new instance has to boot and install before failed health checks make the group replace it.
   * @default 300 seconds
   */
  readonly healthCheckGracePeriod?: Duration;
  /**
   * How long systemd waits for the worker to finish its in-flight work on stop before SIGKILL.
   * @default 60 seconds
   */
  readonly workerStopTimeout?: Duration;
  /**
   * How long `sluice-install` waits for the new version to report itself healthy.
   * @default 60 seconds
   */
  readonly installHealthTimeout?: Duration;
  /**
   * How long a new instance has, from launch, to install the current version and turn healthy in the
   * load balancer before CloudFormation counts it as failed: a stack creation fails, a rolling update
   * of the instances rolls the deploy back.
   * @default 10 minutes — boot, Node.js, the install and the health checks take 3–5 minutes
   */
  readonly instanceReadyTimeout?: Duration;
  /**
   * AMI of the app instances (`ami-` and 8 or 17 hex digits, in the stack's region). Changing it
   * replaces every instance through the rolling update.
   * @default - the public Amazon Linux 2023 parameter, read at synth time and recorded in
   * cdk.context.json, so a newer AMI arrives only as a reviewed change of that file
   */
  readonly amiId?: string;
  /**
   * NAT gateways for the instances' outbound traffic: 1 (cheaper) or 2 (one per AZ, survives an AZ outage).
   * @default 1
   */
  readonly natGateways?: number;
  /**
   * ACM certificate for HTTPS on the load balancer; HTTP then redirects to HTTPS.
   * @default - plain HTTP on port 80 (a synth warning says so)
   */
  readonly certificateArn?: string;
}

export interface AppTierProps extends AppTierSettings, LogGroupSettings {
  /** Bucket that receives the load balancer's access logs (SSE-S3, as ALB logging requires). */
  readonly accessLogsBucket: s3.IBucket;
  /** Bucket holding release artifacts at `releases/<version>.tgz`; instances may only read it. */
  readonly artifactBucket: s3.IBucket;
  /** Parameter naming the version a newly launched instance installs. */
  readonly currentVersionParameter: ssm.IStringParameter;
  /**
   * Protect the load balancer from deletion.
   * @default false
   */
  readonly deletionProtection?: boolean;
  /**
   * Environment variables for the web app and the worker (written to /etc/sluice/env), such as the
   * queue URL the worker consumes.
   * @default - none beyond sluice's own (APP_PORT, HEALTH_CHECK_PATH, AWS_REGION, …)
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * Add a pair of isolated subnets (no route out of the VPC) for a database. They come after the
   * existing subnets in the VPC's address range, so adding them later changes no existing subnet.
   * @default false
   */
  readonly isolatedSubnets?: boolean;
  /**
   * Start of the services' log group names: `<prefix>/web` and `<prefix>/worker`.
   * @default '/<stack name>'
   */
  readonly logGroupNamePrefix?: string;
}

/**
 * An internet-facing ALB in front of an Auto Scaling group of private, SSM-managed EC2 instances
 * across two AZs, each running the web app and the worker of one release.
 */
export class AppTier extends Construct {
  public readonly vpc: ec2.Vpc;
  public readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  public readonly targetGroup: elbv2.ApplicationTargetGroup;
  public readonly autoScalingGroup: autoscaling.AutoScalingGroup;
  public readonly instanceRole: iam.Role;
  public readonly instanceSecurityGroup: ec2.SecurityGroup;
  /** Fewest instances the group keeps; the healthy-host alarm is derived from it. */
  public readonly minCapacity: number;
  /** One log group per service on the instances, which the CloudWatch agent ships each service's output to. */
  public readonly serviceLogGroups: Readonly<Record<InstanceService, logs.LogGroup>>;

  constructor(scope: Construct, id: string, props: AppTierProps) {
    super(scope, id);
    const logGroupNamePrefix = props.logGroupNamePrefix ?? `/${Stack.of(this).stackName}`;
    throwIfInvalid('app tier', [
      ...validateAppTierSettings(props),
      ...validateLogGroupSettings(props),
      // The characters CloudWatch Logs allows in a log group name.
      ...(Token.isUnresolved(logGroupNamePrefix) || /^\/[A-Za-z0-9_\-/.#]{1,400}$/.test(logGroupNamePrefix) ? [] : [
        `logGroupNamePrefix must start with "/" and hold only letters, digits and "_-/.#" (given "${logGroupNamePrefix}")`,
      ]),
      ...Object.keys(props.environment ?? {})
        .filter((name) => !/^[A-Z_][A-Z0-9_]*$/.test(name))
        .map((name) => `environment variable names must be upper-case letters, digits and "_" (given "${name}")`),
    ]);

    const appPort = props.appPort ?? APP_TIER_DEFAULTS.appPort;
    const healthCheckPath = props.healthCheckPath ?? APP_TIER_DEFAULTS.healthCheckPath;
    const deregistrationDelay = props.deregistrationDelay ?? APP_TIER_DEFAULTS.deregistrationDelay;
    this.minCapacity = props.minCapacity ?? APP_TIER_DEFAULTS.minCapacity;

    // --- network -------------------------------------------------------------------------------
    // Instances need outbound internet for the external APIs the worker calls, so a NAT gateway is
    // unavoidable; with it in place, interface endpoints for SSM/SQS/Kinesis/CloudWatch would add
    // ~$7 per endpoint per AZ per month without adding reachability. The free gateway endpoints for
    // S3 and DynamoDB keep artifact downloads and checkpoint writes off the NAT (and its data charge).
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: props.natGateways ?? APP_TIER_DEFAULTS.natGateways,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        { name: 'app', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        ...(props.isolatedSubnets ? [{ name: 'data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }] : []),
      ],
      gatewayEndpoints: {
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
        DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
      },
    });
    // Rejected traffic only, kept a year and encrypted with the stack's log key (CT.CLOUDWATCH.PR.2/3):
    // ingestion ($0.50/GB) dwarfs a year's storage ($0.03/GB-month) of these few records.
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(encryptedLogGroup(this, 'FlowLogGroup')),
      trafficType: ec2.FlowLogTrafficType.REJECT,
    });
    // The VPC's custom resource that strips the default security group's rules runs CDK's own handler.
    const restrictDefaultSecurityGroupProvider = Stack.of(this).node.tryFindChild('Custom::VpcRestrictDefaultSGCustomResourceProvider');
    if (restrictDefaultSecurityGroupProvider !== undefined) {
      acknowledgeControl(restrictDefaultSecurityGroupProvider, 'CT.LAMBDA.PR.3', 'CDK\'s own handler that removes the default security group\'s rules at deploy time; it calls only the EC2 API, and CDK offers no way to place it in a VPC.');
    }

    // --- load balancer -------------------------------------------------------------------------
    const albSecurityGroup = new ec2.SecurityGroup(this, 'LoadBalancerSecurityGroup', {
      vpc: this.vpc,
      description: 'sluice ALB: HTTP(S) from the internet',
      allowAllOutbound: false,
    });
    Validations.of(albSecurityGroup).acknowledge({
      id: 'AwsSolutions-EC23',
      reason: 'The ALB is the public entry point of the web service: it must accept HTTP(S) from any address; instances admit only this group.',
    });
    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: this.vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      securityGroup: albSecurityGroup,
      dropInvalidHeaderFields: true,
      deletionProtection: props.deletionProtection ?? false,
    });
    this.logAccessLogs(props.accessLogsBucket, 'alb');
    if (!(props.deletionProtection ?? false)) {
      acknowledgeControl(this.loadBalancer, 'CT.ELASTICLOADBALANCING.PR.5', 'this stage does not protect its data (protectData false): it is meant to be torn down; stages with protectData turn deletion protection on.');
    }

    this.targetGroup = new elbv2.ApplicationTargetGroup(this, 'TargetGroup', {
      vpc: this.vpc,
      port: appPort,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targetType: elbv2.TargetType.INSTANCE,
      deregistrationDelay,
      healthCheck: {
        path: healthCheckPath,
        port: 'traffic-port',
        healthyHttpCodes: '200',
        interval: props.healthCheckInterval ?? APP_TIER_DEFAULTS.healthCheckInterval,
        timeout: props.healthCheckTimeout ?? APP_TIER_DEFAULTS.healthCheckTimeout,
        healthyThresholdCount: props.healthyThreshold ?? APP_TIER_DEFAULTS.healthyThreshold,
        unhealthyThresholdCount: props.unhealthyThreshold ?? APP_TIER_DEFAULTS.unhealthyThreshold,
      },
    });
    if (!deregistrationDelay.isUnresolved() && deregistrationDelay.toSeconds() > 300) {
      Annotations.of(this).addWarningV2('sluice:slowDrain', `deregistrationDelay is ${deregistrationDelay.toSeconds()} seconds: every rolling release waits that long for each target`);
    }
    this.addListeners(props.certificateArn, albSecurityGroup);

    // --- instances -----------------------------------------------------------------------------
    this.instanceSecurityGroup = new ec2.SecurityGroup(this, 'InstanceSecurityGroup', {
      vpc: this.vpc,
      description: 'sluice app instances: app port from the ALB only',
      // Outbound: the external APIs the worker calls and the AWS APIs, all over TLS.
      allowAllOutbound: true,
    });
    this.instanceSecurityGroup.addIngressRule(albSecurityGroup, ec2.Port.tcp(appPort), 'app port from the ALB');
    albSecurityGroup.addEgressRule(this.instanceSecurityGroup, ec2.Port.tcp(appPort), 'to the app instances');

    this.instanceRole = new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'sluice app instance: SSM management, release artifacts, its log groups, queue, stream and checkpoints',
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
    });
    Validations.of(this.instanceRole).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
      reason: 'AmazonSSMManagedInstanceCore is the minimum AWS documents for the SSM agent (Session Manager and Run Command, which releases use); instances have no SSH.',
    });
    // Only the one call `sluice-install` makes: GetObject on a release artifact.
    const releaseObjects = props.artifactBucket.arnForObjects('releases/*');
    this.instanceRole.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [releaseObjects] }));
    const artifactBucketLogicalId = Stack.of(this).getLogicalId(props.artifactBucket.node.defaultChild as CfnElement);
    Validations.of(this.instanceRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${artifactBucketLogicalId}.Arn>/releases/*]`,
      reason: 'Instances install whichever release version is current, so they may read any object under releases/ — and nothing else in the bucket.',
    });
    // The artifacts are encrypted with the bucket's KMS key: GetObject also needs kms:Decrypt on
    // exactly that key (S3 calls it on the instance's behalf).
    props.artifactBucket.encryptionKey?.grantDecrypt(this.instanceRole);
    props.currentVersionParameter.grantRead(this.instanceRole);

    // --- service logs --------------------------------------------------------------------------
    // One group per service, so a person reads the web app's requests or the worker's messages
    // without the other's lines in between. The agent writes exactly these groups: the role gets
    // logs:CreateLogStream and logs:PutLogEvents on them and nothing else in CloudWatch Logs (not
    // CloudWatchAgentServerPolicy, which may create and write any group and put any metric). No KMS
    // permission: CloudWatch Logs itself uses the log key.
    this.serviceLogGroups = Object.fromEntries(INSTANCE_SERVICES.map((service) => {
      const logGroup = encryptedLogGroup(this, `${service === 'web' ? 'Web' : 'Worker'}Logs`, {
        logGroupName: `${logGroupNamePrefix}/${service}`,
        retention: props.logRetention,
      });
      logGroup.grantWrite(this.instanceRole);
      return [service, logGroup];
    })) as Record<InstanceService, logs.LogGroup>;

    // Ready means serving: the signal a new instance sends (see instanceUserData) waits for its target.
    this.instanceRole.addToPolicy(new iam.PolicyStatement({ actions: ['cloudformation:SignalResource'], resources: [Aws.STACK_ID] }));
    this.instanceRole.addToPolicy(new iam.PolicyStatement({ actions: ['elasticloadbalancing:DescribeTargetHealth'], resources: ['*'] }));
    Validations.of(this.instanceRole).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'elasticloadbalancing:DescribeTargetHealth has no resource-level permissions; it is read-only, and a booting instance uses it to wait until its own target is healthy before it signals CloudFormation.',
    });

    const instanceTypes = (props.instanceTypes ?? APP_TIER_DEFAULTS.instanceTypes).map((name) => new ec2.InstanceType(name));
    // The launch template names the preferred type (and picks the AMI's architecture from it); the
    // group's mixed instances policy below may launch any of them.
    const [instanceType] = instanceTypes;
    const detailedMonitoring = props.detailedMonitoring ?? APP_TIER_DEFAULTS.detailedMonitoring;
    const instanceReadyTimeout = props.instanceReadyTimeout ?? APP_TIER_DEFAULTS.instanceReadyTimeout;
    const interval = props.healthCheckInterval ?? APP_TIER_DEFAULTS.healthCheckInterval;
    const healthyThreshold = props.healthyThreshold ?? APP_TIER_DEFAULTS.healthyThreshold;
    const launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      instanceType,
      machineImage: this.machineImage(props.amiId, instanceType),
      role: this.instanceRole,
      securityGroup: this.instanceSecurityGroup,
      requireImdsv2: true,
      detailedMonitoring,
      httpPutResponseHopLimit: 1,
      associatePublicIpAddress: false,
      blockDevices: [{
        deviceName: '/dev/xvda',
        volume: ec2.BlockDeviceVolume.ebs(20, { encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3, deleteOnTermination: true }),
      }],
      userData: instanceUserData({
        artifactBucketName: props.artifactBucket.bucketName,
        currentVersionParameterName: props.currentVersionParameter.parameterName,
        appPort,
        healthCheckPath,
        workerStopTimeoutSeconds: (props.workerStopTimeout ?? APP_TIER_DEFAULTS.workerStopTimeout).toSeconds(),
        installHealthTimeoutSeconds: (props.installHealthTimeout ?? APP_TIER_DEFAULTS.installHealthTimeout).toSeconds(),
        environment: props.environment ?? {},
        cloudWatchAgentConfig: cloudWatchAgentConfig(INSTANCE_SERVICES.map((service) => ({
          filePath: serviceLogFile(service),
          logGroupName: this.serviceLogGroups[service].logGroupName,
        }))),
        readiness: {
          region: Aws.REGION,
          stackName: Aws.STACK_NAME,
          // The group is created below; its logical ID is known at synth time.
          logicalResourceId: Lazy.string({ produce: () => Stack.of(this).getLogicalId(this.autoScalingGroup.node.defaultChild as CfnElement) }),
          targetGroupArn: this.targetGroup.targetGroupArn,
          // A target that answers turns healthy after healthyThreshold checks; a minute more covers the
          // group registering the instance after its app came up.
          loadBalancerTimeoutSeconds: healthyThreshold * interval.toSeconds() + 60,
        },
      }),
    });

    if (!detailedMonitoring) {
      acknowledgeControl(launchTemplate, 'CT.EC2.PR.10', 'detailedMonitoring is off in this stage: five-minute EC2 metrics save about $2.10 per instance a month; the alarms use the load balancer\'s one-minute metrics either way.');
    }

    this.autoScalingGroup = new autoscaling.AutoScalingGroup(this, 'Group', {
      vpc: this.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      // Several equivalent types: when one is short in an AZ the group launches the next, so neither a
      // scale-out nor the replacement a rolling update launches first waits for capacity. Every instance
      // is on-demand (no Spot), the base included: an instance reclaimed in the middle of a release
      // would take capacity the release counted on, below minCapacity.
      mixedInstancesPolicy: {
        launchTemplate,
        launchTemplateOverrides: instanceTypes.map((type) => ({ instanceType: type })),
        instancesDistribution: {
          onDemandAllocationStrategy: autoscaling.OnDemandAllocationStrategy.PRIORITIZED,
          onDemandBaseCapacity: this.minCapacity,
          onDemandPercentageAboveBaseCapacity: 100,
        },
      },
      minCapacity: this.minCapacity,
      maxCapacity: props.maxCapacity ?? APP_TIER_DEFAULTS.maxCapacity,
      desiredCapacity: props.desiredCapacity,
      // ELB health checks: an instance whose app stops answering is replaced, not only a dead VM.
      healthChecks: autoscaling.HealthChecks.withAdditionalChecks({
        additionalTypes: [autoscaling.AdditionalHealthCheckType.ELB],
        gracePeriod: props.healthCheckGracePeriod ?? APP_TIER_DEFAULTS.healthCheckGracePeriod,
      }),
      groupMetrics: [autoscaling.GroupMetrics.all()],
      // --- infrastructure changes reach the instances like a release does -----------------------
      // A launch template change (user data, instance type, AMI) replaces the instances through
      // CloudFormation's rolling update with resource signals, rather than an instance refresh: a
      // failed or missing signal fails the stack update, and CloudFormation rolls the whole deploy
      // back (the same rolling update, to the previous template). An instance refresh started after
      // the deploy cannot undo the deploy, and CloudFormation's AutoScalingInstanceRefresh policy
      // judges instances by the group's health checks after a warm-up, with no signal sent once the
      // release is installed and the target is healthy. With desiredCapacity unset the update keeps
      // the group's current size (a group that scaled out is replaced at that size, not reset), one
      // instance at a time, never fewer than minCapacity in service: a group at its minimum launches
      // the replacement first, hence maxCapacity > minCapacity. During the update the ELB grace
      // period does not matter (HealthCheck is suspended): the signal itself waits for the target.
      signals: autoscaling.Signals.waitForMinCapacity({ timeout: instanceReadyTimeout, minSuccessPercentage: 100 }),
      updatePolicy: autoscaling.UpdatePolicy.rollingUpdate({
        maxBatchSize: 1,
        minInstancesInService: this.minCapacity,
        minSuccessPercentage: 100,
        waitOnResourceSignals: true,
        pauseTime: instanceReadyTimeout,
        // What AWS recommends suspending during a rolling update (Launch, Terminate and
        // AddToLoadBalancer do the update), and a concurrent instance refresh. `sluice release`
        // suspends the first five too, so it refuses to start while a deploy runs.
        suspendProcesses: [
          autoscaling.ScalingProcess.HEALTH_CHECK,
          autoscaling.ScalingProcess.REPLACE_UNHEALTHY,
          autoscaling.ScalingProcess.AZ_REBALANCE,
          autoscaling.ScalingProcess.ALARM_NOTIFICATION,
          autoscaling.ScalingProcess.SCHEDULED_ACTIONS,
          autoscaling.ScalingProcess.INSTANCE_REFRESH,
        ],
      }),
    });
    acknowledgeControl(this.autoScalingGroup, 'CT.AUTOSCALING.PR.11', 'the instances never talk to each other (only the load balancer reaches them, and they reach AWS APIs over TLS), so Nitro encryption between instances would protect no traffic; the Nitro types that offer it (m6i, m7g, c6i, …) cost about twice the burstable t3/t3a types for this workload.');
    // cdk-nag's EC26 reads only the group's LaunchTemplate property and throws on a MixedInstancesPolicy.
    Validations.of(this.autoScalingGroup).acknowledge({
      id: 'AwsSolutions-EC26',
      reason: 'cdk-nag EC26 cannot read a group whose launch template sits in a MixedInstancesPolicy and reports an error; the launch template\'s one volume is encrypted (asserted by the app tier\'s tests).',
    });
    this.autoScalingGroup.attachToApplicationTargetGroup(this.targetGroup);
    // A target group without a listener leaves its targets `unused`: the first instances could never
    // turn healthy and signal, so the group waits for the listener.
    this.autoScalingGroup.node.addDependency(this.targetGroup.loadBalancerAttached);
    Validations.of(this.autoScalingGroup).acknowledge({
      id: 'AwsSolutions-AS3',
      reason: 'Scaling events reach the team through the CloudWatch alarms on healthy/unhealthy hosts and the group metrics on the dashboard; per-event SNS notifications would duplicate them.',
    });
  }

  /**
   * The AMI, chosen so that a new one is a reviewed change, never a side effect of an unrelated deploy:
   * - `amiId` pins it.
   * - Otherwise, with the account and region known (every deploy: the CDK CLI passes them), the public
   *   AL2023 parameter is read at synth time and cached in cdk.context.json, which is committed. A
   *   newer AMI arrives only when someone resets that entry (`cdk context --reset`) and synthesizes:
   *   the pull request then changes cdk.context.json and `cdk diff` shows the new ImageId.
   * - Environment-agnostic (an offline synth with no account, as in tests and the pull request's
   *   guard), nothing can be looked up: the template names the parameter, resolved at deploy time.
   *   Such a template is compared, never deployed.
   * The deploy-time parameter alone would re-resolve on every deploy, so a new AMI would replace the
   * fleet on the next unrelated deploy with no line of the diff showing it.
   */
  private machineImage(amiId: string | undefined, instanceType: ec2.InstanceType): ec2.IMachineImage {
    if (amiId !== undefined) {
      return { getImage: () => ({ imageId: amiId, osType: ec2.OperatingSystemType.LINUX, userData: ec2.UserData.forLinux() }) };
    }
    const stack = Stack.of(this);
    return ec2.MachineImage.latestAmazonLinux2023({
      cachedInContext: !Token.isUnresolved(stack.account) && !Token.isUnresolved(stack.region),
      // A Graviton instance type needs the arm64 image.
      cpuType: instanceType.architecture === ec2.InstanceArchitecture.ARM_64 ? ec2.AmazonLinuxCpuType.ARM_64 : ec2.AmazonLinuxCpuType.X86_64,
    });
  }

  // --- metrics the alarms use ----------------------------------------------------------------

  /** Percentage of requests the load balancer itself answered with 5xx (no healthy target, timeouts), per minute. */
  metricElb5xxRate(props?: cloudwatch.MathExpressionOptions): cloudwatch.MathExpression {
    return this.errorRate('elb5xx', this.loadBalancer.metrics.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { period: Duration.minutes(1) }), 'ELB 5xx %', props);
  }

  /** Percentage of requests the app instances answered with 5xx, per minute. */
  metricTarget5xxRate(props?: cloudwatch.MathExpressionOptions): cloudwatch.MathExpression {
    return this.errorRate('target5xx', this.loadBalancer.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: Duration.minutes(1) }), 'Target 5xx %', props);
  }

  /** Target response time at the 99th percentile, per minute. */
  metricTargetResponseTimeP99(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.loadBalancer.metrics.targetResponseTime({ statistic: 'p99', period: Duration.minutes(1), ...props });
  }

  /** Most targets the load balancer counted unhealthy within each minute. */
  metricUnhealthyHosts(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.targetGroup.metrics.unhealthyHostCount({ statistic: 'Maximum', period: Duration.minutes(1), ...props });
  }

  /** Fewest healthy targets seen within each minute. */
  metricHealthyHosts(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.targetGroup.metrics.healthyHostCount({ statistic: 'Minimum', period: Duration.minutes(1), ...props });
  }

  /** `errorsId` names the errors in the expression: each rate has its own, so both fit on one graph. */
  private errorRate(errorsId: string, errors: cloudwatch.Metric, label: string, props?: cloudwatch.MathExpressionOptions): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      // Minutes without requests have no data; they count as 0 % rather than leaving the alarm unknown.
      expression: `IF(requests > 0, 100 * FILL(${errorsId}, 0) / requests, 0)`,
      usingMetrics: { [errorsId]: errors, requests: this.loadBalancer.metrics.requestCount({ period: Duration.minutes(1) }) },
      label,
      period: Duration.minutes(1),
      ...props,
    });
  }

  /**
   * Access logs to `bucket` under `prefix`. With a known region this is CDK's own logAccessLogs. An
   * environment-agnostic stack cannot know which principal delivers ELB logs in its region (an ELB
   * account in regions opened before August 2022, a service principal after), so the bucket policy
   * picks the account from a regional mapping at deploy time and always admits the service principal.
   */
  private logAccessLogs(bucket: s3.IBucket, prefix: string): void {
    const stack = Stack.of(this);
    if (!Token.isUnresolved(stack.region)) {
      this.loadBalancer.logAccessLogs(bucket, prefix);
      return;
    }
    const elbAccount = stack.regionalFact(FactName.ELBV2_ACCOUNT, 'none');
    const hasElbAccount = new CfnCondition(this, 'RegionHasElbLogAccount', {
      expression: Fn.conditionNot(Fn.conditionEquals(elbAccount, 'none')),
    });
    const logObjects = bucket.arnForObjects(`${prefix}/AWSLogs/${Aws.ACCOUNT_ID}/*`);
    const elbPrincipalArn = Fn.conditionIf(
      hasElbAccount.logicalId,
      `arn:${Aws.PARTITION}:iam::${elbAccount}:root`,
      // Elsewhere the account itself, which may write there anyway: the statement stays valid.
      `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:root`,
    ).toString();
    const policyResults = [
      bucket.addToResourcePolicy(new iam.PolicyStatement({
        actions: ['s3:PutObject'],
        principals: [new iam.ArnPrincipal(elbPrincipalArn)],
        resources: [logObjects],
      })),
      bucket.addToResourcePolicy(new iam.PolicyStatement({
        actions: ['s3:PutObject'],
        principals: [new iam.ServicePrincipal('logdelivery.elasticloadbalancing.amazonaws.com')],
        resources: [logObjects],
      })),
    ];
    this.loadBalancer.setAttribute('access_logs.s3.enabled', 'true');
    this.loadBalancer.setAttribute('access_logs.s3.bucket', bucket.bucketName);
    this.loadBalancer.setAttribute('access_logs.s3.prefix', prefix);
    // ELB writes a test object when logging is switched on: the policy must exist first.
    for (const result of policyResults) {
      if (result.policyDependable) this.loadBalancer.node.addDependency(result.policyDependable);
    }
  }

  private addListeners(certificateArn: string | undefined, albSecurityGroup: ec2.SecurityGroup): void {
    albSecurityGroup.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(80), 'HTTP from the internet');
    if (certificateArn === undefined) {
      Annotations.of(this).addWarningV2('sluice:plainHttp', 'No certificateArn: the load balancer serves plain HTTP. Set certificateArn to serve HTTPS and redirect HTTP to it.');
      acknowledgeControl(this.loadBalancer, 'CT.ELASTICLOADBALANCING.PR.1', 'no certificateArn in this stage, so HTTP is the only listener there is (a synth warning says so); with certificateArn, HTTP redirects to HTTPS and the control applies.');
      this.loadBalancer.addListener('Http', {
        port: 80,
        protocol: elbv2.ApplicationProtocol.HTTP,
        defaultTargetGroups: [this.targetGroup],
        open: false,
      });
      return;
    }
    albSecurityGroup.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS from the internet');
    this.loadBalancer.addListener('Https', {
      port: 443,
      protocol: elbv2.ApplicationProtocol.HTTPS,
      certificates: [elbv2.ListenerCertificate.fromArn(certificateArn)],
      sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
      defaultTargetGroups: [this.targetGroup],
      open: false,
    });
    this.loadBalancer.addRedirect({
      sourcePort: 80,
      sourceProtocol: elbv2.ApplicationProtocol.HTTP,
      targetPort: 443,
      targetProtocol: elbv2.ApplicationProtocol.HTTPS,
      open: false,
    });
  }
}
