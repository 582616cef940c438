import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { describe, expect, it } from 'vitest';
import { resolveStageConfig } from '../../lib/config/resolve-stage-config.ts';
import type { StageConfig } from '../../lib/config/stage-config.ts';
import { stages } from '../../lib/config/stages.ts';
import { addPolicyChecks, DISABLED_CONTROL_TOWER_RULES } from '../../lib/constructs/policy-checks/control-tower.ts';
import { SluiceStack } from '../../lib/stacks/sluice-stack.ts';
import { testApp } from '../helpers/synth.ts';

/**
 * Synthesizes a stage with both policy packs, as bin/app.ts wires them; an in-memory synth throws the
 * report on any finding. Each variant once: cfn-guard takes seconds per template.
 */
const synthesized = new Map<string, SluiceStack>();
function synthWithPolicyChecks(stage: string, overrides: Partial<StageConfig> = {}): SluiceStack {
  const key = JSON.stringify([stage, overrides]);
  if (!synthesized.has(key)) synthesized.set(key, synthOnce(stage, overrides));
  return synthesized.get(key)!;
}

function synthOnce(stage: string, overrides: Partial<StageConfig>): SluiceStack {
  const app = testApp();
  const stack = new SluiceStack(app, `sluice-${stage}`, { config: { ...resolveStageConfig(stage), ...overrides } });
  addPolicyChecks(app);
  app.synth();
  return stack;
}

describe('policy checks: AWS Solutions (cdk-nag) and AWS Control Tower proactive controls (cfn-guard)', () => {
  const https = { certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abcd-1234' };
  const variants: [string, string, Partial<StageConfig>][] = [
    ...Object.keys(stages).map((stage): [string, string, Partial<StageConfig>] => [stage, stage, {}]),
    ['prod with HTTPS', 'prod', https],
    ['dev with the Lambda consumers and the web firewall', 'dev', { queueConsumer: 'both', streamConsumer: 'both', webFirewall: true }],
  ];

  it.each(variants)('finds nothing unacknowledged in %s', (_name, stage, overrides) => {
    expect(() => synthWithPolicyChecks(stage, overrides)).not.toThrow();
  });

  it('fails synth on a Control Tower finding, naming the control and the resource', () => {
    const app = testApp();
    const stack = new Stack(app, 'Violating');
    new logs.LogGroup(stack, 'PlainLogGroup', { retention: logs.RetentionDays.THREE_MONTHS, removalPolicy: RemovalPolicy.DESTROY });
    addPolicyChecks(app);
    expect(() => app.synth()).toThrow(/CT\.CLOUDWATCH\.PR\.2[^]*Violating\/PlainLogGroup/);
    expect(() => app.synth()).toThrow(/CT\.CLOUDWATCH\.PR\.3/);
  });

  it('disables only the rule that cannot apply to a group in a VPC, with its reason', () => {
    expect(Object.keys(DISABLED_CONTROL_TOWER_RULES)).toEqual(['ct-autoscaling-pr-1']);
    expect(DISABLED_CONTROL_TOWER_RULES['ct-autoscaling-pr-1']).toMatch(/VPCZoneIdentifier/);
  });

  it('acknowledges each control only where it cannot apply, each with a specific reason', () => {
    const acknowledged = (stack: SluiceStack) => stack.node.findAll().flatMap((construct) => construct.node.metadata
      .filter((entry) => entry.type === 'aws:cdk:acknowledged-rules')
      .flatMap((entry) => Object.entries(entry.data as Record<string, string>))
      .filter(([id]) => id.startsWith('cdk-validator-cfnguard::'))
      .map(([id, reason]) => ({ at: construct.node.path, id: id.replace('cdk-validator-cfnguard::', ''), reason })));
    const dev = acknowledged(synthWithPolicyChecks('dev'));
    expect(dev.map(({ at, id }) => `${at}: ${id}`).sort()).toEqual([
      // The access-log bucket: not logged into itself, SSE-S3 for ALB log delivery, no Object Lock for a server-access-log target.
      'sluice-dev/AccessLogs/Bucket: s3_bucket_default_encryption_kms_check',
      'sluice-dev/AccessLogs/Bucket: s3_bucket_logging_enabled_check',
      'sluice-dev/AccessLogs/Bucket: s3_bucket_object_lock_enabled_check',
      // dev: five-minute EC2 metrics.
      'sluice-dev/AppTier/LaunchTemplate: ec2_launch_template_monitoring_enabled_check',
      // t3/t3a: no Nitro encryption between instances, which never talk to each other.
      'sluice-dev/AppTier/Group: autoscaling_group_nitro_encryption_in_transit_override_check',
      // dev: no certificate, no data protection.
      'sluice-dev/AppTier/LoadBalancer: alb_http_to_https_redirection_check',
      'sluice-dev/AppTier/LoadBalancer: elbv2_deletion_protection_enabled_check',
      // The failure queue is itself a dead-letter queue.
      'sluice-dev/EventStream/FailureQueue: sqs_dlq_check',
      'sluice-dev/Release/ArtifactBucket: s3_bucket_object_lock_enabled_check',
      // CDK's handler that strips the default security group.
      'sluice-dev/Custom::VpcRestrictDefaultSGCustomResourceProvider: lambda_inside_vpc_check',
    ].sort());
    for (const { reason } of dev) {
      expect(reason).toMatch(/^CT\.[A-Z0-9]+\.PR\.\d+: /);
      expect(reason.length).toBeGreaterThan(80);
    }
    // prod monitors in detail and protects its data: those two controls apply there.
    const prod = acknowledged(synthWithPolicyChecks('prod', https)).map(({ id }) => id);
    expect(prod).not.toContain('ec2_launch_template_monitoring_enabled_check');
    expect(prod).not.toContain('elbv2_deletion_protection_enabled_check');
    expect(prod).not.toContain('alb_http_to_https_redirection_check');
  });
});
