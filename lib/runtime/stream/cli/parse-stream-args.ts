// The command line of `sluice stream status|replay`, read the way the release CLI reads its own:
// node:util parseArgs, every problem reported at once (kernel Problems), the usage after a syntax error.
import { parseCommandLine, problemsMessage } from '../../command-line.ts';
import { Problems } from '../../problems.ts';
import { STAGE_NAME_PATTERN, stackName } from '../../stack-contract.ts';
import { isSequenceNumber } from '../lease.ts';
import { StreamCliInputError } from './stream-cli-input-error.ts';

/** Where `--from` moves the checkpoints, as typed; checked against the stream before any write. */
export type ReplayFrom =
  | { readonly kind: 'trim-horizon' }
  | { readonly kind: 'timestamp'; readonly timestamp: Date; readonly text: string }
  | { readonly kind: 'after-sequence-number'; readonly sequenceNumber: string };

interface CommonStreamArgs {
  readonly stage: string;
  readonly stackName: string;
  readonly region?: string;
  /** Set by --stream-name / --checkpoint-table; the stack outputs fill in the rest. */
  readonly streamName?: string;
  readonly checkpointTableName?: string;
}

export interface StreamStatusArgs extends CommonStreamArgs {
  readonly command: 'status';
  readonly json: boolean;
}

export interface StreamReplayArgs extends CommonStreamArgs {
  readonly command: 'replay';
  readonly from: ReplayFrom;
  /** @default - every shard with a lease */
  readonly shardIds?: readonly string[];
  readonly yes: boolean;
}

export type StreamCliArgs = StreamStatusArgs | StreamReplayArgs | { readonly command: 'help' };

/** The stream commands in a few lines, for `sluice --help`. */
export const streamCommandsSummary = `Event stream (sluice stream --help for the options):
  sluice stream status [--stage S]     per shard: owner, checkpoint, lease counter, parent/children, lag
  sluice stream replay --from trim-horizon|<ISO time>|<sequence> [--shard ID] [--yes]
                                       move checkpoints back; running consumers resume from there`;

export const streamUsage = `Usage:
  sluice stream status [options]       per shard: owner, checkpoint, lease counter, parent/children, lag
  sluice stream replay --from P [options]
                                       move checkpoints back; running consumers resume from there

Options (replay):
  --from trim-horizon        everything the stream still keeps
  --from <ISO 8601 time>     records from that time on, e.g. 2024-05-01T12:00:00Z (within the stream's retention)
  --from <sequence number>   the records after that one (as a checkpoint there would); needs --shard
  --shard ID                 only this shard (repeatable; default: every shard with a lease)
  --yes                      do not ask for confirmation (needed when not on a terminal)
Options (both):
  --stage S                  stage whose stack to read (default: dev; stack sluice-<stage>)
  --region R                 AWS region (default: the SDK's, e.g. $AWS_REGION)
  --stack-name NAME          read outputs from this stack instead of sluice-<stage>
  --stream-name, --checkpoint-table
                             use this value instead of the stack output
  --json                     (status) one JSON object on stdout

Lag: the age of the oldest record after the checkpoint (what the consumer still has to process),
     from one GetRecords of one record per shard; "caught up" when there is none.
Exit codes: 0 done; 1 replay failed part-way (the output says which shards moved);
            3 bad input (nothing written); 4 not confirmed (nothing written).`;

/** Reads `sluice stream …` (argv without "stream"); every problem at once, as a StreamCliInputError. */
export function parseStreamArgs(argv: readonly string[]): StreamCliArgs {
  const { values, positionals } = parseCommandLine(argv, OPTIONS, streamUsage, (message) => new StreamCliInputError(message));
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') return { command: 'help' };
  if (command !== 'status' && command !== 'replay') {
    throw new StreamCliInputError(`unknown command "stream ${command}": use "sluice stream status" or "sluice stream replay --from …"\n\n${streamUsage}`);
  }

  const problems = new Problems();
  const stage = values.stage ?? 'dev';
  problems.matches('--stage', stage, STAGE_NAME_PATTERN, 'a stage name such as dev or prod');
  problems.matches('--stream-name', values['stream-name'], /^[a-zA-Z0-9_.-]{1,128}$/, 'a Kinesis stream name (1–128 of a-z A-Z 0-9 _ . -)');
  problems.matches('--checkpoint-table', values['checkpoint-table'], /^[a-zA-Z0-9_.-]{3,255}$/, 'a DynamoDB table name (3–255 of a-z A-Z 0-9 _ . -)');
  problems.check(rest.length === 0, `stream ${command} takes no arguments (given "${rest.join(' ')}")`);
  const common: CommonStreamArgs = {
    stage,
    stackName: values['stack-name'] ?? stackName(stage),
    ...(values.region !== undefined ? { region: values.region } : {}),
    ...(values['stream-name'] !== undefined ? { streamName: values['stream-name'] } : {}),
    ...(values['checkpoint-table'] !== undefined ? { checkpointTableName: values['checkpoint-table'] } : {}),
  };

  if (command === 'status') {
    problems.check(values.from === undefined && values.shard === undefined && values.yes === undefined, 'stream status takes no --from, --shard or --yes (they are replay options)');
    problems.throwIfAny(badInput);
    return { command, ...common, json: values.json ?? false };
  }

  problems.check(values.json === undefined, '--json is a status option; replay prints what it moved');
  const from = values.from === undefined ? undefined : parseReplayFrom(values.from, problems);
  if (values.from === undefined) problems.add('replay needs --from trim-horizon, --from <ISO 8601 time> or --from <sequence number>');
  const shardIds = values.shard;
  if (from?.kind === 'after-sequence-number' && shardIds?.length !== 1) {
    problems.add('--from <sequence number> needs exactly one --shard: a sequence number belongs to one shard');
  }
  problems.throwIfAny(badInput);
  return { command, ...common, from: from!, ...(shardIds ? { shardIds: [...new Set(shardIds)] } : {}), yes: values.yes ?? false };
}

/** trim-horizon (or TRIM_HORIZON), an ISO 8601 time with a date and a time of day, or a sequence number. */
function parseReplayFrom(text: string, problems: Problems): ReplayFrom | undefined {
  if (/^trim[-_]horizon$/i.test(text)) return { kind: 'trim-horizon' };
  if (isSequenceNumber(text)) return { kind: 'after-sequence-number', sequenceNumber: text };
  // A time needs its zone: "12:00" alone would be read in the local zone of whoever runs the CLI.
  const time = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i.test(text) ? new Date(text) : undefined;
  if (time && !Number.isNaN(time.getTime())) return { kind: 'timestamp', timestamp: time, text };
  problems.add(
    `--from must be trim-horizon, an ISO 8601 time with its zone such as 2024-05-01T12:00:00Z, or a sequence number (1–128 digits) (given "${text}")`,
  );
  return undefined;
}

/** The command's own flags, beside STAGE_FLAGS. */
const OPTIONS = {
  'stream-name': { type: 'string' },
  'checkpoint-table': { type: 'string' },
  from: { type: 'string' },
  shard: { type: 'string', multiple: true },
  yes: { type: 'boolean', short: 'y' },
} as const;

function badInput(problems: readonly string[]): StreamCliInputError {
  return new StreamCliInputError(problemsMessage(problems));
}
