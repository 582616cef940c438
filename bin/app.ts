#!/usr/bin/env node
// The CDK app: `npx cdk synth -c stage=dev` (default) or `-c stage=prod`; any setting can be
// overridden with `-c <setting>=<value>`, and an unknown setting fails synth. Account and region
// come from CDK_DEPLOY_ACCOUNT/REGION or the CLI's CDK_DEFAULT_ACCOUNT/REGION; without them the
// stack is environment-agnostic. `-c githubRepository=owner/name` adds the CI stack, sluice-ci
// (GitHub OIDC roles); without it the app has only the stage's stack and needs nothing about GitHub.
import { App } from 'aws-cdk-lib';
import { CI_STACK_NAME, resolveCiSettings } from '../lib/config/ci-settings.ts';
import { resolveStageConfig } from '../lib/config/resolve-stage-config.ts';
import { stageContextKey } from '../lib/config/setting-overrides.ts';
import { stackName } from '../lib/runtime/stack-contract.ts';
import { StageConfigError } from '../lib/config/stage-config.ts';
import { stages } from '../lib/config/stages.ts';
import { addPolicyChecks } from '../lib/constructs/policy-checks/control-tower.ts';
import { InvalidSettingsError } from '../lib/constructs/settings-validation.ts';
import { CiStack } from '../lib/stacks/ci-stack.ts';
import { SluiceStack } from '../lib/stacks/sluice-stack.ts';

const app = new App();
try {
  const config = resolveStageConfig(app.node.tryGetContext(stageContextKey) ?? undefined, app.node.getAllContext());
  const account = process.env.CDK_DEPLOY_ACCOUNT ?? process.env.CDK_DEFAULT_ACCOUNT;
  const region = process.env.CDK_DEPLOY_REGION ?? process.env.CDK_DEFAULT_REGION;
  const env = account && region ? { account, region } : undefined;
  new SluiceStack(app, stackName(config.stageName), { config, env });
  const ci = resolveCiSettings(app.node.getAllContext(), Object.keys(stages));
  if (ci !== undefined) {
    new CiStack(app, CI_STACK_NAME, {
      ...ci,
      // One CI stack serves every stage of the account: its roles deploy and release each of them.
      stages: Object.keys(stages),
      // The qualifier `cdk bootstrap --qualifier` used, when cdk.json sets one: it names the bootstrap roles.
      bootstrapQualifier: app.node.tryGetContext('@aws-cdk/core:bootstrapQualifier') ?? undefined,
      env,
    });
  }
  // Secure by default: synth fails on any AWS Solutions (cdk-nag) finding and any AWS Control Tower
  // proactive-control (cfn-guard) finding that is not acknowledged with a reason.
  addPolicyChecks(app);
} catch (error) {
  if (!(error instanceof StageConfigError || error instanceof InvalidSettingsError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
