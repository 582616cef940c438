// `sluice stream status|replay`: reads the stream's and the lease table's names from the stage's
// stack (or flags), then shows the status or runs a replay. Never throws: every outcome is an exit
// code (StreamExitCode) and a message that says what to do.
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { Clock } from '../../clock.ts';
import { StackOutputs } from '../../stack-contract.ts';
import { readStackOutputs, StackNotFoundError } from '../../stack-outputs.ts';
import { LeaseTable } from '../lease-table.ts';
import { parseStreamArgs, type StreamReplayArgs, type StreamStatusArgs, streamUsage } from './parse-stream-args.ts';
import { executeReplay, formatReplayPlan, planReplay } from './replay-command.ts';
import { StreamCliInputError } from './stream-cli-input-error.ts';
import { StreamExitCode, type StreamExitCodeValue } from './stream-exit-codes.ts';
import { formatStreamStatus, readStreamStatus, streamStatusJson } from './stream-status.ts';

export interface StreamCliClients {
  readonly cloudFormation: CloudFormationClient;
  readonly kinesis: KinesisClient;
  readonly dynamoDb: DynamoDBClient;
}

/** What the stream CLI needs from the outside world; bin/sluice.ts passes the real ones, tests local stand-ins. */
export interface StreamCliEnvironment {
  readonly clients: (region: string | undefined) => StreamCliClients;
  /** Wall-clock time: lag and retention compare with Kinesis's arrival times. */
  readonly clock: Clock;
  readonly stdout: (line: string) => void;
  readonly stderr: (line: string) => void;
  /** True when a person can answer a question (standard input and output are a terminal). */
  readonly interactive: boolean;
  /** Asks a yes/no question; resolves true for yes. Only called when `interactive`. */
  readonly confirm: (question: string) => Promise<boolean>;
}

/** Runs `sluice stream …` (argv after "stream") and returns its exit code; never throws. */
export async function runStreamCli(argv: readonly string[], environment: StreamCliEnvironment): Promise<StreamExitCodeValue> {
  try {
    const args = parseStreamArgs(argv);
    if (args.command === 'help') {
      environment.stdout(streamUsage);
      return StreamExitCode.success;
    }
    const clients = environment.clients(args.region);
    const names = await beforeAnyWrite(() => resolveNames(args, clients, environment));
    const table = new LeaseTable(clients.dynamoDb, names.checkpointTableName);
    return args.command === 'status' ? await status(args, clients, table, names.streamName, environment) : await replay(args, clients, table, names.streamName, environment);
  } catch (error) {
    if (error instanceof StreamCliInputError) {
      environment.stderr(`sluice: ${error.message}`);
      return StreamExitCode.badInput;
    }
    environment.stderr(`sluice: stream command failed unexpectedly: ${error instanceof Error ? error.message : String(error)}`);
    return StreamExitCode.failed;
  }
}

/** Flags first; DescribeStacks only when one is missing. */
async function resolveNames(args: StreamStatusArgs | StreamReplayArgs, clients: StreamCliClients, environment: StreamCliEnvironment): Promise<{ streamName: string; checkpointTableName: string }> {
  let { streamName, checkpointTableName } = args;
  if (streamName === undefined || checkpointTableName === undefined) {
    const outputs = await readStackOutputs(clients.cloudFormation, args.stackName, { clock: environment.clock });
    streamName ??= outputs[StackOutputs.streamName];
    checkpointTableName ??= outputs[StackOutputs.checkpointTableName];
  }
  const missing = [
    ...(streamName === undefined ? [[StackOutputs.streamName, '--stream-name']] : []),
    ...(checkpointTableName === undefined ? [[StackOutputs.checkpointTableName, '--checkpoint-table']] : []),
  ];
  if (missing.length > 0) {
    throw new StreamCliInputError(
      `stack ${args.stackName} has no output ${missing.map(([output]) => output).join(', ')}: deploy the current stack (npx cdk deploy -c stage=${args.stage}) or pass ${missing.map(([, flag]) => flag).join(', ')}`,
    );
  }
  return { streamName: streamName!, checkpointTableName: checkpointTableName! };
}

/**
 * Runs what comes before any write (names, checks, reading the table): whatever fails there,
 * nothing was changed, so it is reported as bad input with what to check.
 */
async function beforeAnyWrite<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof StreamCliInputError) throw error;
    if (error instanceof StackNotFoundError) throw new StreamCliInputError(error.message.replace('pass every output as a flag', 'pass --stream-name and --checkpoint-table'));
    const message = error instanceof Error ? error.message : String(error);
    const code = error instanceof Error && error.name !== 'Error' ? `${error.name}: ` : '';
    const hint = /region/i.test(message)
      ? 'pass --region or set AWS_REGION'
      : /ResourceNotFound/.test(code)
        ? 'check the stream name and the checkpoint table (the stack outputs, or --stream-name / --checkpoint-table)'
        : 'check the AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, or the CI role) and the region';
    throw new StreamCliInputError(`nothing was changed: ${code}${message}; ${hint}`);
  }
}

async function status(args: StreamStatusArgs, clients: StreamCliClients, table: LeaseTable, streamName: string, environment: StreamCliEnvironment): Promise<StreamExitCodeValue> {
  const current = await beforeAnyWrite(() => readStreamStatus(clients.kinesis, table, streamName, () => environment.clock.now()));
  if (args.json) environment.stdout(JSON.stringify(streamStatusJson(current)));
  else for (const line of formatStreamStatus(current)) environment.stdout(line);
  return StreamExitCode.success;
}

async function replay(args: StreamReplayArgs, clients: StreamCliClients, table: LeaseTable, streamName: string, environment: StreamCliEnvironment): Promise<StreamExitCodeValue> {
  const plan = await beforeAnyWrite(() =>
    planReplay({ kinesis: clients.kinesis, table, streamName, from: args.from, ...(args.shardIds ? { shardIds: args.shardIds } : {}), now: environment.clock.now() }),
  );
  const { stdout } = environment;
  for (const line of formatReplayPlan(plan, streamName, table.tableName)) stdout(line);
  if (!args.yes) {
    if (!environment.interactive) throw new StreamCliInputError('not on a terminal, so the replay cannot be confirmed: pass --yes to replay without asking; nothing was changed');
    if (!(await environment.confirm(`Move ${plan.leases.length} checkpoint(s)?`))) {
      environment.stderr('sluice: replay not confirmed; nothing was changed');
      return StreamExitCode.declined;
    }
  }
  const outcome = await executeReplay(table, plan, (shardId, lease) => stdout(`moved ${shardId} (was ${lease.checkpoint.sequenceNumber})`));
  if (!outcome.failure) {
    stdout(`replayed ${outcome.moved.length} shard(s) of ${streamName} from ${plan.describe}`);
    return StreamExitCode.success;
  }
  const notMoved = plan.leases.map((lease) => lease.leaseKey).filter((shardId) => !outcome.moved.includes(shardId));
  environment.stderr(
    `sluice: the replay stopped at ${outcome.failure.shardId}: ${outcome.failure.error.message}\n`
      + `  moved: ${outcome.moved.join(', ') || 'none'}\n  not moved: ${notMoved.join(', ')}\n`
      + `Run the same replay again with --shard for the shards not moved (sluice stream status shows where each one is).`,
  );
  return StreamExitCode.failed;
}
