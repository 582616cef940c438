// The app instances' boot script read out of a synthesized template, and the files it writes.
import type { Template } from 'aws-cdk-lib/assertions';
import { expect } from 'vitest';
import { flattenTokens } from './iam-policy.ts';

/** The launch template's user data as the instance runs it, each `{ Ref: X }` written `${X}`. */
export function bootScript(template: Template): string {
  const launchTemplates = Object.values(template.findResources('AWS::EC2::LaunchTemplate'));
  expect(launchTemplates).toHaveLength(1);
  return String(flattenTokens(launchTemplates[0].Properties.LaunchTemplateData.UserData['Fn::Base64']));
}

/** What the boot script writes to `path` with a quoted heredoc. */
export function writtenFile(script: string, path: string): string {
  const start = script.indexOf(`cat > ${path} <<'SLUICE_EOF'\n`);
  expect(start, `the boot script writes ${path}`).toBeGreaterThanOrEqual(0);
  const body = script.slice(script.indexOf('\n', start) + 1);
  return body.slice(0, body.indexOf('\nSLUICE_EOF'));
}

export interface CollectedFile {
  readonly file_path: string;
  readonly log_group_name: string;
  readonly log_stream_name?: string;
  readonly retention_in_days?: number;
}

/** The CloudWatch agent configuration the boot script hands to `amazon-cloudwatch-agent-ctl -a fetch-config`. */
export function cloudWatchAgentConfig(script: string): { logs: { logs_collected: { files: { collect_list: CollectedFile[] } }; metrics_collected?: unknown }; metrics?: unknown } {
  const fetchConfig = /amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:(\S+)/.exec(script);
  expect(fetchConfig, 'the boot script starts the agent with a configuration file').not.toBeNull();
  return JSON.parse(writtenFile(script, fetchConfig![1]));
}

/** The logical ID behind a `${X}` reference (the whole value must be one reference). */
export function referencedLogicalId(value: string): string {
  const match = /^\$\{([A-Za-z0-9]+)\}$/.exec(value);
  expect(match, `${value} is a reference to a resource of the stack`).not.toBeNull();
  return match![1];
}
