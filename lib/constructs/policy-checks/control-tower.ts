import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/**
 * AWS Control Tower proactive controls (cfn-guard rules) that cannot apply to any resource of this
 * stack's design, turned off by the rule file's name. A control that fails only for one resource for a
 * reason of that resource is acknowledged there instead (acknowledgeControl), so it still checks
 * every other resource, including ones added later.
 */
export const DISABLED_CONTROL_TOWER_RULES: Readonly<Record<string, string>> = {
  // CT.AUTOSCALING.PR.1 (autoscaling_multiple_az_check) wants AvailabilityZones on every group.
  'ct-autoscaling-pr-1':
    'The app group spans two AZs through its VPCZoneIdentifier (a private subnet in each AZ); AvailabilityZones would restate them, and a group launched in a VPC takes its AZs from the subnets.',
};

/** The Control Tower checks: cfn-guard with AWS's rules, less the disabled ones. */
export function controlTowerChecks(): CfnGuardValidator {
  return new CfnGuardValidator({ controlTowerRulesEnabled: true, disabledRules: Object.keys(DISABLED_CONTROL_TOWER_RULES) });
}

/**
 * The app's two policy packs, run on the synthesized templates: cdk-nag's AWS Solutions checks and
 * AWS Control Tower's proactive controls. Any finding not acknowledged with a reason fails synth
 * (`cdk synth` exits 1 and prints each finding, its resource and how to acknowledge it).
 * `Validations.of(app).addPlugins` rather than the App's `policyValidationBeta1`, which aws-cdk-lib
 * has deprecated in its favour.
 */
export function addPolicyChecks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), controlTowerChecks());
}

/**
 * The cfn-guard rule behind each control that some resource acknowledges: the plugin reports the
 * rule's name, and an acknowledgement names it (`cdk-validator-cfnguard::<rule>`).
 */
const ruleOfControl = {
  'CT.S3.PR.2': 's3_bucket_logging_enabled_check',
  'CT.S3.PR.9': 's3_bucket_object_lock_enabled_check',
  'CT.S3.PR.10': 's3_bucket_default_encryption_kms_check',
  'CT.AUTOSCALING.PR.11': 'autoscaling_group_nitro_encryption_in_transit_override_check',
  'CT.SQS.PR.1': 'sqs_dlq_check',
  'CT.LAMBDA.PR.3': 'lambda_inside_vpc_check',
  'CT.ELASTICLOADBALANCING.PR.1': 'alb_http_to_https_redirection_check',
  'CT.ELASTICLOADBALANCING.PR.5': 'elbv2_deletion_protection_enabled_check',
  'CT.EC2.PR.10': 'ec2_launch_template_monitoring_enabled_check',
} as const;

export type AcknowledgeableControl = keyof typeof ruleOfControl;

/** Acknowledges a Control Tower control for `scope` and everything below it, with the reason it cannot apply there. */
export function acknowledgeControl(scope: IConstruct, control: AcknowledgeableControl, reason: string): void {
  Validations.of(scope).acknowledge({ id: `${CFN_GUARD_PLUGIN}::${ruleOfControl[control]}`, reason: `${control}: ${reason}` });
}

/** The plugin's name, the namespace of its rule IDs. */
const CFN_GUARD_PLUGIN = 'cdk-validator-cfnguard';

