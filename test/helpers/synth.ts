import { readFileSync } from 'node:fs';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { resolveStageConfig } from '../../lib/config/resolve-stage-config.ts';
import type { StageConfig } from '../../lib/config/stage-config.ts';
import { SluiceStack } from '../../lib/stacks/sluice-stack.ts';

const featureFlags = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context;

/** An App with the project's feature flags and asset bundling skipped, as unit tests want it. */
export function testApp(): App {
  return new App({ context: { ...featureFlags, 'aws:cdk:bundling-stacks': [] } });
}

/** A bare stack for construct tests. */
export function testStack(): Stack {
  return new Stack(testApp(), 'TestStack');
}

/** The whole stage stack, synthesized: the chosen stage with `overrides` applied. */
export function synthStage(stage = 'dev', overrides: Partial<StageConfig> = {}): { app: App; stack: SluiceStack; template: Template } {
  const app = testApp();
  const config = { ...resolveStageConfig(stage), ...overrides };
  const stack = new SluiceStack(app, `sluice-${stage}`, { config });
  return { app, stack, template: Template.fromStack(stack) };
}
