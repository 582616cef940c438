#!/usr/bin/env -S node --import tsx
// sluice: the release CLI (`npx sluice release <version>`, `npx sluice status`), the event-stream
// CLI (`npx sluice stream status|replay`), the sandbox (`npx sluice sandbox`), the migration CLI (`npx sluice migrate …`) and the feature-flag CLI (`npx sluice flags list|set|ramp`). A thin shell over lib/runtime/release/cli and
// lib/runtime/stream/cli: real AWS clients, the system clock, the terminal, and (for a release)
// SIGINT/SIGTERM wired to a safe stop.
// The pinned AWS SDK runs on Node.js 20; its notice about future SDK releases needing Node.js 22
// is not for the people reading a release's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const guardCommandSummary = `Destructive-change guard (sluice guard --help for its options):\n  sluice guard --base <cdk.out dir> [--head <cdk.out dir>]   refuse replacing or removing stateful resources`;
// `sluice guard` compares two synthesized cloud assemblies offline: no AWS clients, no signal handling.
if (process.argv[2] === 'guard') {
  const write = (stream: NodeJS.WriteStream) => (line: string) => stream.write(`${line}\n`);
  process.exit(await runGuardCli(process.argv.slice(3), { cwd: process.cwd(), stdout: write(process.stdout), stderr: write(process.stderr) }));
}
import { appendFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline/promises';
import { AppConfigClient } from '@aws-sdk/client-appconfig';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { S3Client } from '@aws-sdk/client-s3';
import { SSMClient } from '@aws-sdk/client-ssm';
import { appFlags } from '../lib/runtime/app/flags.ts';
import { flagsCommandsSummary } from '../lib/runtime/flags/cli/parse-flags-args.ts';
import { runFlagsCli } from '../lib/runtime/flags/cli/run-flags-cli.ts';
import { runGuardCli } from '../lib/runtime/guard/cli/run-guard-cli.ts';
import { systemClock } from '../lib/runtime/clock.ts';
import { createKinesisClient } from '../lib/runtime/kinesis-client.ts';
import { runMigrateCli } from '../lib/runtime/migrations/cli/run-migrate-cli.ts';
import { sandboxCommandsSummary } from '../lib/runtime/sandbox/cli/parse-sandbox-args.ts';
import { runSandboxCli } from '../lib/runtime/sandbox/cli/run-sandbox-cli.ts';
import { startStatusPage } from '../lib/runtime/sandbox/status-page.ts';
import { migrateCommandsSummary } from '../lib/runtime/migrations/cli/parse-migrate-args.ts';
import { runCli } from '../lib/runtime/release/cli/run-cli.ts';
import { streamCommandsSummary } from '../lib/runtime/stream/cli/parse-stream-args.ts';
import { runStreamCli } from '../lib/runtime/stream/cli/run-stream-cli.ts';

const argv = process.argv.slice(2);
const stdout = (line: string) => process.stdout.write(`${line}\n`);
const stderr = (line: string) => process.stderr.write(`${line}\n`);

if (argv[0] === 'sandbox') {
  // The first Ctrl-C stops the sandbox in order (workers, web apps, HAProxy, the stand-ins); a second exits at once.
  const stop = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stop.abort();
      process.once(signal, () => process.exit(130));
    });
  }
  process.exitCode = await runSandboxCli(argv.slice(1), {
    projectRoot: fileURLToPath(new URL('..', import.meta.url)),
    stdout,
    stderr,
    signal: stop.signal,
    statusPage: (source) => startStatusPage({ source, host: '127.0.0.1', port: 0 }),
  });
  // The SDK clients' sockets and the stand-ins' timers must not hold the exit.
  process.exit();
} else if (argv[0] === 'migrate') {
  process.exitCode = await runMigrateCli(argv.slice(1), {
    env: process.env,
    defaultDirectory: fileURLToPath(new URL('../lib/runtime/app/migrations', import.meta.url)),
    appliedBy: `${userInfo().username}@${hostname()} (sluice migrate)`,
    stdout,
    stderr,
  });
} else if (argv[0] === 'stream') {
  process.exitCode = await runStreamCli(argv.slice(1), {
    clients: (region) => ({
      cloudFormation: new CloudFormationClient({ region }),
      kinesis: createKinesisClient(process.env, { region }),
      dynamoDb: new DynamoDBClient({ region }),
    }),
    clock: systemClock,
    stdout,
    stderr,
    interactive: Boolean(process.stdin.isTTY && process.stdout.isTTY),
    confirm: async (question) => {
      const terminal = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return /^y(es)?$/i.test((await terminal.question(`${question} [y/N] `)).trim());
      } finally {
        terminal.close();
      }
    },
  });
} else if (argv[0] === 'flags') {
  // No signal handling: a killed `set` leaves its deployment to AppConfig, and a ramp is rerun (the deployed value is the truth).
  process.exitCode = await runFlagsCli(argv.slice(1), {
    clients: (region) => ({ cloudFormation: new CloudFormationClient({ region }), appConfig: new AppConfigClient({ region }), cloudWatch: new CloudWatchClient({ region }) }),
    definitions: appFlags,
    clock: systemClock,
    stdout,
    stderr,
  });
} else {
  const interrupt = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`sluice: ${signal}: finishing the target in flight and putting it back; ${signal} again to exit now\n`);
      interrupt.abort();
      process.once(signal, () => process.exit(130));
    });
  }
  process.exitCode = await runCli(argv, {
    clients: (region) => ({
      elbv2: new ElasticLoadBalancingV2Client({ region }),
      ssm: new SSMClient({ region }),
      cloudWatch: new CloudWatchClient({ region }),
      autoScaling: new AutoScalingClient({ region }),
      cloudFormation: new CloudFormationClient({ region }),
      s3: new S3Client({ region }),
      dynamoDb: new DynamoDBClient({ region }),
    }),
    clock: systemClock,
    env: process.env,
    stdout,
    stderr,
    appendSummary: (path, markdown) => appendFile(path, markdown),
    signal: interrupt.signal,
  });
  // The release CLI's usage covers its own commands; the stream, flags and guard commands are listed after it.
  if (process.exitCode === 0 && (argv.length === 0 || argv[0] === 'help' || argv.includes('--help') || argv.includes('-h'))) {
    stdout(`\n${sandboxCommandsSummary}\n\n${streamCommandsSummary}\n\n${migrateCommandsSummary}\n\n${flagsCommandsSummary}\n\n${guardCommandSummary}`);
  }
}
