import { Annotations, Aws, type Duration, Lazy } from 'aws-cdk-lib';
import * as appconfig from 'aws-cdk-lib/aws-appconfig';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { FlagDefinition } from '../../runtime/flags/flag-definition.ts';
import {
  FEATURE_FLAGS_CONTENT_TYPE,
  FEATURE_FLAGS_PROFILE_TYPE,
  featureFlagsContent,
  featureFlagsDocument,
} from '../../runtime/flags/feature-flags-document.ts';
import { validateFlagDefinitions } from '../../runtime/flags/validate-flag-definitions.ts';
import { throwIfInvalid } from '../settings-validation.ts';
import { FEATURE_FLAGS_DEFAULTS, GATE_EVALUATION_TIME } from './feature-flags-defaults.ts';
import { validateFeatureFlagsSettings } from './validate-feature-flags-settings.ts';

/** The tunable settings of the feature flags' gradual deployment strategy. */
export interface FeatureFlagsSettings {
  /**
   * How long a gradual (rollout) deployment takes to reach every instance.
   * @default 4 minutes
   */
  readonly flagsRolloutDuration?: Duration;
  /**
   * The share of instances each step of a gradual deployment adds, in percent (linear growth).
   * @default 25
   */
  readonly flagsRolloutGrowthFactor?: number;
  /**
   * How long AppConfig keeps watching the release gate after a gradual deployment reached every
   * instance, rolling the configuration back if it fires. A synth warning below 5 minutes.
   * @default 10 minutes
   */
  readonly flagsRolloutBakeTime?: Duration;
}

export interface FeatureFlagsProps extends FeatureFlagsSettings {
  /** The stage: names the AppConfig application `sluice-<stage>` and its environment `<stage>`. */
  readonly stageName: string;
  /** The declarations (lib/runtime/app/flags.ts); validated here, so a bad one fails synth. */
  readonly flags: readonly FlagDefinition[];
}

/**
 * The stage's feature flags in AWS AppConfig: an application, one environment monitored by the
 * release gate (`addMonitor`, required: synth fails without one), an `AWS.AppConfig.FeatureFlags` profile whose first hosted version is built from the
 * declarations and deployed, and two deployment strategies for `sluice flags set`: all at once (kill
 * switches) and gradual (rollouts).
 *
 * A deploy changes the hosted version, and deploys it, only when the declarations change: the
 * document is deterministic, so CloudFormation sees no difference otherwise. Values set with
 * `sluice flags set` since the last such change are then replaced by the file's (see README,
 * "Feature flags").
 */
export class FeatureFlags extends Construct {
  public readonly application: appconfig.CfnApplication;
  public readonly environment: appconfig.CfnEnvironment;
  public readonly configurationProfile: appconfig.CfnConfigurationProfile;
  public readonly hostedConfigurationVersion: appconfig.CfnHostedConfigurationVersion;
  /** Kill switches: every instance at once, no bake — a switch turned off must act in seconds. */
  public readonly allAtOnceStrategy: appconfig.CfnDeploymentStrategy;
  /** Rollouts: step by step, then a bake long enough for the release gate to fire. */
  public readonly gradualStrategy: appconfig.CfnDeploymentStrategy;
  /** The role AppConfig assumes to read the monitors' state: cloudwatch:DescribeAlarms on those alarms only. */
  public readonly monitorRole: iam.Role;

  private readonly monitors: cloudwatch.IAlarm[] = [];

  constructor(scope: Construct, id: string, props: FeatureFlagsProps) {
    super(scope, id);
    throwIfInvalid('feature flags', validateFeatureFlagsSettings(props));
    const flags = validateFlagDefinitions(props.flags);
    const bake = props.flagsRolloutBakeTime ?? FEATURE_FLAGS_DEFAULTS.flagsRolloutBakeTime;
    if (!bake.isUnresolved() && bake.toSeconds() < GATE_EVALUATION_TIME.toSeconds()) {
      Annotations.of(this).addWarningV2('sluice:flagsRolloutBakeTime', `flagsRolloutBakeTime is ${bake.toHumanString()}: the release gate needs about ${GATE_EVALUATION_TIME.toHumanString()} to fire, so a rollout that hurts may be kept instead of rolled back`);
    }

    // --- application and environment ------------------------------------------------------------
    this.application = new appconfig.CfnApplication(this, 'Application', {
      name: `sluice-${props.stageName}`,
      description: `sluice (${props.stageName}): feature flags of the web app, declared in lib/runtime/app/flags.ts`,
    });
    this.monitorRole = new iam.Role(this, 'MonitorRole', {
      description: `sluice (${props.stageName}): lets AppConfig read the release gate's state to roll flag deployments back`,
      assumedBy: new iam.ServicePrincipal('appconfig.amazonaws.com'),
      inlinePolicies: {
        ReadMonitors: new iam.PolicyDocument({
          statements: [new iam.PolicyStatement({
            actions: ['cloudwatch:DescribeAlarms'],
            resources: [Lazy.string({ produce: () => this.monitors[0]?.alarmArn })],
          })],
        }),
      },
    });
    this.environment = new appconfig.CfnEnvironment(this, 'Environment', {
      applicationId: this.application.ref,
      name: props.stageName,
      description: 'Monitored by the release gate: AppConfig rolls a deployment back while it is in ALARM.',
      monitors: Lazy.any({ produce: () => this.monitors.map((alarm) => ({ alarmArn: alarm.alarmArn, alarmRoleArn: this.monitorRole.roleArn })) }),
    });
    // The monitor is the point of deploying flags through AppConfig: without it nothing rolls a bad value back.
    this.node.addValidation({
      validate: () => this.monitors.length === 1 ? [] : [`feature flags need exactly one monitor, the release gate: call addMonitor(releaseGate) once (given ${this.monitors.length})`],
    });

    // --- deployment strategies ---------------------------------------------------------------------
    this.allAtOnceStrategy = new appconfig.CfnDeploymentStrategy(this, 'AllAtOnceStrategy', {
      name: `sluice-${props.stageName}-all-at-once`,
      description: 'Kill switches: every instance at once, no bake, so a switch turned off acts within one poll interval.',
      deploymentDurationInMinutes: 0,
      growthFactor: 100,
      growthType: 'LINEAR',
      finalBakeTimeInMinutes: 0,
      replicateTo: 'NONE',
    });
    // The bake, not the growth, is what lets the gate judge a value: see FEATURE_FLAGS_DEFAULTS.
    this.gradualStrategy = new appconfig.CfnDeploymentStrategy(this, 'GradualStrategy', {
      name: `sluice-${props.stageName}-gradual`,
      description: 'Rollouts: linear steps across the instances, then a bake while the release gate watches.',
      deploymentDurationInMinutes: (props.flagsRolloutDuration ?? FEATURE_FLAGS_DEFAULTS.flagsRolloutDuration).toMinutes(),
      growthFactor: props.flagsRolloutGrowthFactor ?? FEATURE_FLAGS_DEFAULTS.flagsRolloutGrowthFactor,
      growthType: 'LINEAR',
      finalBakeTimeInMinutes: bake.toMinutes(),
      replicateTo: 'NONE',
    });

    // --- the flags: profile, the file's version, its deployment ------------------------------------
    this.configurationProfile = new appconfig.CfnConfigurationProfile(this, 'ConfigurationProfile', {
      applicationId: this.application.ref,
      name: 'feature-flags',
      description: 'The flags of lib/runtime/app/flags.ts; values change with sluice flags set and ramp.',
      locationUri: 'hosted',
      type: FEATURE_FLAGS_PROFILE_TYPE,
    });
    this.hostedConfigurationVersion = new appconfig.CfnHostedConfigurationVersion(this, 'Declarations', {
      applicationId: this.application.ref,
      configurationProfileId: this.configurationProfile.ref,
      contentType: FEATURE_FLAGS_CONTENT_TYPE,
      content: featureFlagsContent(featureFlagsDocument(flags)),
      description: 'Built from lib/runtime/app/flags.ts by cdk deploy: the declared values.',
    });
    // All at once: the declared values ship code dark (default false), and a `cdk deploy` that adds a
    // flag should not take a gradual strategy's steps and bake to finish.
    new appconfig.CfnDeployment(this, 'Deployment', {
      applicationId: this.application.ref,
      environmentId: this.environment.ref,
      configurationProfileId: this.configurationProfile.ref,
      configurationVersion: this.hostedConfigurationVersion.ref,
      deploymentStrategyId: this.allAtOnceStrategy.ref,
      description: 'cdk deploy: the declarations in lib/runtime/app/flags.ts changed',
    });
  }

  /**
   * Makes `alarm` (the release gate) the environment's monitor: AppConfig rolls a deployment back
   * while it is in ALARM, reading its state with `monitorRole`. The stack adds it once the gate
   * exists, which is after the app tier that needs `clientEnvironment`.
   */
  addMonitor(alarm: cloudwatch.IAlarm): void {
    this.monitors.push(alarm);
  }

  /**
   * `arn:aws:appconfig:<region>:<account>:application/<app>/environment/<env>/configuration/<profile>`:
   * the one configuration the instances read.
   */
  get configurationArn(): string {
    return `arn:${Aws.PARTITION}:appconfig:${Aws.REGION}:${Aws.ACCOUNT_ID}:application/${this.application.ref}/environment/${this.environment.ref}/configuration/${this.configurationProfile.ref}`;
  }

  /**
   * Lets `grantee` read exactly this stage's flags through AppConfig Data:
   * appconfig:StartConfigurationSession and appconfig:GetLatestConfiguration on `configurationArn`.
   */
  grantRead(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['appconfig:StartConfigurationSession', 'appconfig:GetLatestConfiguration'],
      resourceArns: [this.configurationArn],
    });
  }

  /** The environment variables the flags client reads on the instances. */
  get clientEnvironment(): Record<string, string> {
    return {
      FLAGS_APPLICATION_ID: this.application.ref,
      FLAGS_ENVIRONMENT_ID: this.environment.ref,
      FLAGS_CONFIGURATION_PROFILE_ID: this.configurationProfile.ref,
    };
  }
}
