import { CfnOutput, Fn, Lazy, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { appFlags } from '../runtime/app/flags.ts';
import { STAGE_VARIABLE } from '../runtime/service-metrics.ts';
import { artifactKeyAliasName, currentVersionParameterName, FlagsStackOutputs, schemaVersionParameterName, StackOutputs } from '../runtime/stack-contract.ts';
import type { StageConfig } from '../config/stage-config.ts';
import { AccessLogsBucket } from '../constructs/access-logs/access-logs-bucket.ts';
import { AppTier } from '../constructs/app-tier/app-tier.ts';
import { APP_TIER_DEFAULTS } from '../constructs/app-tier/app-tier-defaults.ts';
import { Database } from '../constructs/database/database.ts';
import { DatabaseAlarms } from '../constructs/database/database-alarms.ts';
import { SchemaMigrations } from '../constructs/database/schema-migrations.ts';
import { EventStream } from '../constructs/event-stream/event-stream.ts';
import { FeatureFlags } from '../constructs/feature-flags/feature-flags.ts';
import { STAGE_TAG_KEY } from '../constructs/github-oidc/stage-tag.ts';
import { Monitoring } from '../constructs/monitoring/monitoring.ts';
import { ReleaseResources } from '../constructs/release-resources/release-resources.ts';
import { WebFirewall } from '../constructs/web-firewall/web-firewall.ts';
import { WorkQueue } from '../constructs/work-queue/work-queue.ts';

export interface SluiceStackProps extends StackProps {
  readonly config: StageConfig;
}

/** One stage of sluice: the app tier, the work queue, the event stream, alarms and release resources. */
export class SluiceStack extends Stack {
  constructor(scope: Construct, id: string, props: SluiceStackProps) {
    super(scope, id, { ...props, description: `sluice (${props.config.stageName}): web service, worker, queue, stream and release resources` });
    const { config } = props;
    // The CI deploy role may touch only resources with its stages' tag (lib/constructs/github-oidc).
    Tags.of(this).add(STAGE_TAG_KEY, config.stageName);

    const accessLogs = new AccessLogsBucket(this, 'AccessLogs');
    const release = new ReleaseResources(this, 'Release', {
      ...config,
      accessLogsBucket: accessLogs.bucket,
      currentVersionParameterName: currentVersionParameterName(config.stageName),
      artifactKeyAliasName: artifactKeyAliasName(config.stageName),
      retainHistory: config.protectData,
    });
    const queueConsumer = config.queueConsumer ?? 'instances';
    const streamConsumer = config.streamConsumer ?? 'instances';
    const workQueue = new WorkQueue(this, 'WorkQueue', { ...config, lambdaConsumer: queueConsumer === 'instances' ? undefined : {} });
    const eventStream = new EventStream(this, 'EventStream', {
      ...config,
      retainCheckpoints: config.protectData,
      lambdaConsumer: streamConsumer === 'instances' ? undefined : {},
    });
    // The work handler's external API, for whichever consumer runs it.
    const externalApi: Record<string, string> = config.externalApiUrl === undefined ? {} : { EXTERNAL_API_URL: config.externalApiUrl };
    for (const [name, value] of Object.entries(externalApi)) workQueue.consumerFunction?.addEnvironment(name, value);
    // The database lives in the app tier's VPC, so it is created after it; the instances' environment
    // names its secret lazily (resolved at synth).
    let database: Database | undefined;
    const featureFlags = new FeatureFlags(this, 'FeatureFlags', { ...config, flags: appFlags });
    // The Stage dimension of every metric the runtime publishes (lib/runtime/service-metrics.ts).
    const stageVariable = { [STAGE_VARIABLE]: config.stageName };
    for (const consumer of [workQueue.consumerFunction, eventStream.consumerFunction]) consumer?.addEnvironment(STAGE_VARIABLE, config.stageName);
    const appTier = new AppTier(this, 'AppTier', {
      ...config,
      isolatedSubnets: config.database,
      accessLogsBucket: accessLogs.bucket,
      artifactBucket: release.artifactBucket,
      currentVersionParameter: release.currentVersionParameter,
      deletionProtection: config.protectData,
      logGroupNamePrefix: `/sluice/${config.stageName}`,
      environment: {
        // The producer side, always present: the web app sends POST /jobs and POST /events here,
        // whoever consumes them.
        WORK_QUEUE_URL: workQueue.queue.queueUrl,
        EVENT_STREAM_NAME: eventStream.stream.streamName,
        ...externalApi,
        ...featureFlags.clientEnvironment,
        ...stageVariable,
        // The consumer side: without QUEUE_URL the instance worker stays idle, the queue is Lambda's alone.
        ...(queueConsumer === 'lambda' ? {} : { QUEUE_URL: workQueue.queue.queueUrl }),
        // Without STREAM_NAME the instance worker does not read the stream: Lambda alone does.
        ...(streamConsumer === 'lambda' ? {} : {
          STREAM_NAME: eventStream.stream.streamName,
          CHECKPOINT_TABLE_NAME: eventStream.checkpointTable.tableName,
          STREAM_FAILURE_QUEUE_URL: eventStream.failureQueue.queueUrl,
        }),
        ...(config.database ? { DATABASE_SECRET_ARN: Lazy.string({ produce: () => database?.secret.secretArn }) } : {}),
      },
    });
    if (config.database) {
      database = new Database(this, 'Database', { ...config, vpc: appTier.vpc });
      database.allowConnectionsFrom(appTier.instanceSecurityGroup, 'PostgreSQL from the app instances');
      database.grantReadCredentials(appTier.instanceRole);
      const migrations = new SchemaMigrations(this, 'Migrations', { database, vpc: appTier.vpc, schemaVersionParameterName: schemaVersionParameterName(config.stageName) });
      // No instance starts (at creation, or in a deploy's rolling update) before the migrations succeeded.
      appTier.autoScalingGroup.node.addDependency(migrations.resource);
    }
    workQueue.grantSend(appTier.instanceRole);
    eventStream.grantProduce(appTier.instanceRole);
    if (queueConsumer !== 'lambda') workQueue.grantConsume(appTier.instanceRole);
    if (streamConsumer !== 'lambda') eventStream.grantConsume(appTier.instanceRole);
    const monitoring = new Monitoring(this, 'Monitoring', { ...config, appTier, workQueue, eventStream });
    if (database) new DatabaseAlarms(this, 'DatabaseAlarms', { database, destination: monitoring });
    featureFlags.addMonitor(monitoring.releaseGate);
    featureFlags.grantRead(appTier.instanceRole);
    if (config.webFirewall ?? false) {
      const firewall = new WebFirewall(this, 'WebFirewall', {
        ...config,
        name: this.stackName,
        loadBalancer: appTier.loadBalancer,
        healthCheckPath: config.healthCheckPath ?? APP_TIER_DEFAULTS.healthCheckPath,
      });
      monitoring.dashboard.addWidgets(...firewall.dashboardWidgets());
      // On the alarm topic, and in the dashboard's alarm status, like every alarm of the stage.
      monitoring.addAlarm(firewall.blockedRequestsAlarm);
    }

    const outputs: Record<keyof typeof StackOutputs, string> = {
      targetGroupArn: appTier.targetGroup.targetGroupArn,
      autoScalingGroupName: appTier.autoScalingGroup.autoScalingGroupName,
      artifactBucketName: release.artifactBucket.bucketName,
      releaseTableName: release.releaseTable.tableName,
      currentVersionParameterName: release.currentVersionParameter.parameterName,
      releaseGateAlarmName: monitoring.releaseGate.alarmName,
      queueUrl: workQueue.queue.queueUrl,
      deadLetterQueueUrl: workQueue.deadLetterQueue.queueUrl,
      streamName: eventStream.stream.streamName,
      checkpointTableName: eventStream.checkpointTable.tableName,
      streamFailureQueueUrl: eventStream.failureQueue.queueUrl,
      loadBalancerDnsName: appTier.loadBalancer.loadBalancerDnsName,
      alarmTopicArn: monitoring.alarmTopic.topicArn,
    };
    this.addOutputs(StackOutputs, outputs);
    this.addOutputs(FlagsStackOutputs, {
      applicationId: featureFlags.application.ref,
      environmentId: featureFlags.environment.ref,
      configurationProfileId: featureFlags.configurationProfile.ref,
      allAtOnceStrategyId: featureFlags.allAtOnceStrategy.ref,
      gradualStrategyId: featureFlags.gradualStrategy.ref,
    });
  }

  /** One output per contract key, under the contract's stable name. */
  private addOutputs<K extends string>(names: Readonly<Record<K, string>>, values: Readonly<Record<K, string>>): void {
    for (const key of Object.keys(names) as K[]) new CfnOutput(this, names[key], { value: values[key] });
  }

  /**
   * Two AZs resolved at deploy time (Fn::GetAZs), even when account and region are known: synth
   * stays offline and deterministic, with no availability-zone lookup against the account.
   */
  override get availabilityZones(): string[] {
    return [Fn.select(0, Fn.getAzs()), Fn.select(1, Fn.getAzs())];
  }
}
