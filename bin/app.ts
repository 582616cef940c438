#!/usr/bin/env node
// The CDK app: `npx cdk synth -c stage=dev` (default) or `-c stage=prod`; any setting can be
// overridden with `-c <setting>=<value>`, and an unknown setting fails synth. Account and region
// come from CDK_DEPLOY_ACCOUNT/REGION or the CLI's CDK_DEFAULT_ACCOUNT/REGION; without them the
// stack is environment-agnostic.
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { resolveStageConfig } from '../lib/config/resolve-stage-config.ts';
import { stageContextKey } from '../lib/config/setting-overrides.ts';
import { stackName } from '../lib/runtime/stack-contract.ts';
import { StageConfigError } from '../lib/config/stage-config.ts';
import { SluiceStack } from '../lib/stacks/sluice-stack.ts';

const app = new App();
try {
  const config = resolveStageConfig(app.node.tryGetContext(stageContextKey) ?? undefined, app.node.getAllContext());
  const account = process.env.CDK_DEPLOY_ACCOUNT ?? process.env.CDK_DEFAULT_ACCOUNT;
  const region = process.env.CDK_DEPLOY_REGION ?? process.env.CDK_DEFAULT_REGION;
  new SluiceStack(app, stackName(config.stageName), {
    config,
    env: account && region ? { account, region } : undefined,
  });
  // Secure by default: synth fails on any AWS Solutions finding that is not acknowledged with a reason.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
} catch (error) {
  if (!(error instanceof StageConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
