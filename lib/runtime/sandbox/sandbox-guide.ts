// What the sandbox tells a person: what it started, and how to use it. The release command is built
// here once, and the demo runs exactly this command, so the printed one is the one that is tested.

import { LOCAL_AWS_VARIABLES } from './local-aws-environment.ts';
import type { SandboxState } from './sandbox-state.ts';

/** `sluice release <version> …` against the sandbox: the existing HAProxy mode, with its files and its DynamoDB release table. */
export function sandboxReleaseArgs(state: SandboxState, version: string): string[] {
  return [
    'release',
    version,
    '--haproxy-socket',
    state.haproxy.socket,
    '--backend',
    state.haproxy.backend,
    '--local-targets',
    state.targetsFile,
    '--release-table',
    state.dynamodb.releaseTableName,
    '--check-interval',
    `${state.haproxy.checkIntervalMs}ms`,
  ];
}

/** The variables the release CLI needs to find the release table (and nothing of a real account). */
export function sandboxReleaseEnvironment(state: SandboxState): Record<string, string> {
  return { ...LOCAL_AWS_VARIABLES, AWS_ENDPOINT_URL_DYNAMODB: state.dynamodb.endpoint };
}

/** The release command as a person types it. */
export function sandboxReleaseCommand(state: SandboxState, version: string): string {
  const variables = Object.entries(sandboxReleaseEnvironment(state))
    .filter(([name]) => name !== 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED' && name !== 'AWS_EC2_METADATA_DISABLED')
    .map(([name, value]) => `${name}=${shellWord(value)}`);
  return [...variables, 'npx', 'sluice', ...sandboxReleaseArgs(state, version).map(shellWord)].join(' ');
}

/** The lines printed once the sandbox is up. */
export function sandboxGuide(state: SandboxState, options: { readonly startedInMs: number; readonly targets: readonly { readonly name: string; readonly port: number }[]; readonly nextVersion: string }): string[] {
  const json = (value: unknown) => shellWord(JSON.stringify(value));
  return [
    `sluice sandbox: up in ${(options.startedInMs / 1000).toFixed(1)} s, everything on 127.0.0.1 (directory ${state.dir})`,
    `  app        ${state.url}   HAProxy in front of ${options.targets.map((target) => `${target.name} :${target.port}`).join(', ')}, on ${state.version}`,
    `             logs in ${state.dir}/state/<name>.log`,
    ...(state.statusPageUrl ? [`  status     ${state.statusPageUrl}   the status page`] : []),
    `  workers    ${state.workers.map((worker) => worker.name).join(', ')} (queue processor and stream consumer), logs in ${state.dir}/logs`,
    `  queue      ${state.sqs.queueUrl} (dead-letter queue ${state.sqs.deadLetterQueueUrl})`,
    `  stream     ${state.kinesis.streamName} at ${state.kinesis.endpoint}, checkpoints in ${state.dynamodb.checkpointTableName}`,
    `  database   ${state.postgres ? state.postgres.url : 'none: PostgreSQL is not installed (sudo apt-get install -y postgresql), so no migrations ran'}`,
    '',
    'Try it:',
    `  curl -s -X POST ${state.url}/jobs -H 'content-type: application/json' -d ${json({ type: 'send-invoice', invoice: 42 })}`,
    `  curl -s -X POST ${state.url}/events -H 'content-type: application/json' -d ${json({ key: 'user-1', type: 'signed-in' })}`,
    '  npx sluice sandbox status',
    '',
    'Release a change to it (edit the code, then):',
    `  npx sluice sandbox package ${options.nextVersion}`,
    `  ${sandboxReleaseCommand(state, options.nextVersion)}`,
    '',
    'Ctrl-C stops everything and removes the directory.',
  ];
}

/** A word the shell reads back as `value`: bare when it is safe, else single-quoted. */
export function shellWord(value: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
