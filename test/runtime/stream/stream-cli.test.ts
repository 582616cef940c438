// `sluice stream status|replay` against kinesalite and dynalite, with the clients injected as
// bin/sluice.ts injects the real ones: the status of a resharded stream, replays refused before any
// write, and replays while a consumer runs that reprocess the window and skip nothing.
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../../lib/runtime/clock.ts';
import { runStreamCli, type StreamCliEnvironment } from '../../../lib/runtime/stream/cli/run-stream-cli.ts';
import { ProcessingLog, records, useLocalStream, waitUntil } from './stream-harness.ts';

const local = useLocalStream();

interface CliRun {
  readonly exitCode: number;
  readonly stdout: string[];
  readonly stderr: string[];
  readonly questions: string[];
}

/** Runs the CLI on the local stand-ins; `answer` is what a person at the terminal says (undefined: no terminal). */
async function sluiceStream(
  argv: readonly string[],
  options: { readonly answer?: boolean; readonly cloudFormation?: CloudFormationClient; readonly dynamoDb?: DynamoDBClient } = {},
): Promise<CliRun> {
  const run = { stdout: [] as string[], stderr: [] as string[], questions: [] as string[] };
  const environment: StreamCliEnvironment = {
    clients: () => ({ cloudFormation: options.cloudFormation ?? new CloudFormationClient({ region: 'us-east-1' }), kinesis: local.kinesis.client, dynamoDb: options.dynamoDb ?? local.dynamo.client }),
    clock: systemClock,
    stdout: (line) => run.stdout.push(line),
    stderr: (line) => run.stderr.push(line),
    interactive: options.answer !== undefined,
    confirm: async (question) => {
      run.questions.push(question);
      return options.answer ?? false;
    },
  };
  const exitCode = await runStreamCli(argv, environment);
  return { exitCode, ...run };
}

const names = (fixture: { streamName: string; leaseTableName: string }) => ['--stream-name', fixture.streamName, '--checkpoint-table', fixture.leaseTableName];

describe('sluice stream status', () => {
  it('shows a resharded stream: the parent finished with its children named, the children with their parent, owners, counters and lag', async () => {
    const fixture = await local.fixture(2);
    await local.kinesis.put(fixture.streamName, records(60));
    const log = new ProcessingLog();
    const consumer = local.consumer({ ...fixture, processor: log.processor('a') }).start();
    await waitUntil(() => log.distinct().size === 60, 'the first records are processed');
    await local.kinesis.splitShard(fixture.streamName, 'shardId-000000000000');
    const splitAt = Date.now();
    await waitUntil(async () => (await fixture.table.list()).some((lease) => lease.leaseKey === 'shardId-000000000000' && lease.checkpoint.sequenceNumber === 'SHARD_END'), 'the parent is finished');
    await waitUntil(() => consumer.heldShards.length === 3, 'the consumer reads both children');
    await consumer.stop();
    // kinesalite starts the children 1 s after the split: records put before then arrive "at" that time.
    await sleep(Math.max(0, splitAt + 1_100 - Date.now()));
    // Records the stopped consumer has not read: their shards are behind by at least their age.
    const waiting = await local.kinesis.put(fixture.streamName, records(20, { prefix: 'waiting' }));
    await sleep(400);

    const text = await sluiceStream(['status', ...names(fixture)]);
    expect(text.exitCode).toBe(0);
    expect(text.stdout[0]).toBe(`Stream ${fixture.streamName}, lease table ${fixture.leaseTableName}: 4 shard(s), 1 worker(s) holding leases`);
    expect(text.stdout[1]).toMatch(/^SHARD +STATE +OWNER +CHECKPOINT +COUNTER +PARENTS +CHILDREN +LAG$/);
    const row = (shardId: string) => text.stdout.find((line) => line.startsWith(shardId))!.split(/ {2,}/);
    // The parent keeps its last owner (a finished lease is not released), like KCL's.
    expect(row('shardId-000000000000')).toEqual(['shardId-000000000000', 'closed', consumer.workerId, 'SHARD_END', expect.stringMatching(/^\d+$/), '-', 'shardId-000000000002,shardId-000000000003', 'finished']);
    for (const child of ['shardId-000000000002', 'shardId-000000000003']) {
      const [, state, owner, checkpoint, , parents] = row(child);
      expect({ state, owner, parents }).toEqual({ state: 'open', owner: '(free)', parents: 'shardId-000000000000' });
      expect(checkpoint).toMatch(/^(TRIM_HORIZON|\d+)$/);
    }

    const json = await sluiceStream(['status', ...names(fixture), '--json']);
    const status = JSON.parse(json.stdout.join('\n')) as { shards: { shardId: string; lag: string; lagMs: number | null; leaseCounter: number; childShardIds: string[] }[] };
    const byId = new Map(status.shards.map((shard) => [shard.shardId, shard]));
    expect([...byId.keys()]).toEqual(['shardId-000000000000', 'shardId-000000000001', 'shardId-000000000002', 'shardId-000000000003']);
    const leases = new Map((await fixture.table.list()).map((lease) => [lease.leaseKey, lease]));
    for (const [shardId, shard] of byId) expect(shard.leaseCounter).toBe(leases.get(shardId)!.leaseCounter);
    expect(byId.get('shardId-000000000000')).toMatchObject({ lag: 'finished', lagMs: null, childShardIds: ['shardId-000000000002', 'shardId-000000000003'] });
    const behind = new Set(waiting.map((put) => put.shardId));
    for (const [shardId, shard] of byId) {
      if (shardId === 'shardId-000000000000') continue;
      if (!behind.has(shardId)) {
        expect(shard).toMatchObject({ lag: 'caught-up', lagMs: 0 });
        continue;
      }
      expect(shard.lag).toBe('behind');
      expect(shard.lagMs).toBeGreaterThanOrEqual(400);
      expect(shard.lagMs).toBeLessThan(10_000);
    }
  });

  it('reads the names from the stage\'s stack outputs, and says what to do when the stack is missing', async () => {
    const fixture = await local.fixture(1);
    const consumer = local.consumer({ ...fixture, processor: async () => undefined }).start();
    await waitUntil(() => consumer.heldShards.length === 1, 'the lease exists');
    await consumer.stop();
    const cloudFormation = new CloudFormationClient({ region: 'eu-west-1' });
    const stacks = mockClient(cloudFormation);
    stacks.on(DescribeStacksCommand, { StackName: 'sluice-prod' }).resolves({
      Stacks: [{ StackName: 'sluice-prod', StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date(0), Outputs: [{ OutputKey: 'StreamName', OutputValue: fixture.streamName }, { OutputKey: 'CheckpointTableName', OutputValue: fixture.leaseTableName }] }],
    });
    stacks.on(DescribeStacksCommand, { StackName: 'sluice-dev' }).rejects(Object.assign(new Error('Stack with id sluice-dev does not exist'), { name: 'ValidationError' }));

    const fromStack = await sluiceStream(['status', '--stage', 'prod'], { cloudFormation });
    expect(fromStack.exitCode).toBe(0);
    expect(fromStack.stdout[0]).toBe(`Stream ${fixture.streamName}, lease table ${fixture.leaseTableName}: 1 shard(s), 0 worker(s) holding leases`);

    const missing = await sluiceStream(['status'], { cloudFormation });
    expect(missing.exitCode).toBe(3);
    expect(missing.stderr).toEqual(['sluice: stack sluice-dev not found in eu-west-1; deploy it with npx cdk deploy -c stage=dev, or pass --stream-name and --checkpoint-table']);
    stacks.restore();
  });
});

describe('sluice stream replay', () => {
  it('refuses bad input before writing anything: exit 3, every problem named', async () => {
    const fixture = await local.fixture(2);
    const put = await local.kinesis.put(fixture.streamName, records(20));
    const consumer = local.consumer({ ...fixture, processor: async () => undefined }).start();
    await waitUntil(() => consumer.counters.recordsProcessed === 20, 'the records are processed');
    await consumer.stop();
    const before = await fixture.table.list();
    const ofShard1 = put.find((record) => record.shardId === 'shardId-000000000001')!.sequenceNumber;
    const dayAndHourAgo = new Date(Date.now() - 25 * 3_600_000).toISOString();
    const inAnHour = new Date(Date.now() + 3_600_000).toISOString();

    const refusals: [string[], RegExp | string][] = [
      [['--from', 'trim-horizon', '--shard', 'shardId-000000000009'], `sluice: shard shardId-000000000009 is not a shard of ${fixture.streamName} (its shards: shardId-000000000000, shardId-000000000001)`],
      [['--from', dayAndHourAgo], `sluice: --from ${dayAndHourAgo} is outside the stream's retention of 24 h (records before `],
      [['--from', inAnHour], `sluice: --from ${inAnHour} is in the future: nothing would be replayed`],
      [['--from', '12x', '--shard', 'shardId-000000000000'], 'sluice: --from must be trim-horizon, an ISO 8601 time with its zone such as 2024-05-01T12:00:00Z, or a sequence number (1–128 digits) (given "12x")'],
      [['--from', '2024-05-01 12:00'], 'sluice: --from must be trim-horizon, an ISO 8601 time with its zone'],
      [['--from', ofShard1], 'sluice: --from <sequence number> needs exactly one --shard: a sequence number belongs to one shard'],
      [['--from', ofShard1, '--shard', 'shardId-000000000000'], `sluice: sequence number ${ofShard1} is not one of shard shardId-000000000000`],
      [['--shard', 'shardId-000000000000'], 'sluice: replay needs --from trim-horizon, --from <ISO 8601 time> or --from <sequence number>'],
      [['--form', 'trim-horizon'], "sluice: Unknown option '--form'\n\nUsage:\n  sluice stream status [options]"],
      // Valid, but nobody can confirm it: no terminal and no --yes.
      [['--from', 'trim-horizon'], 'sluice: not on a terminal, so the replay cannot be confirmed: pass --yes to replay without asking; nothing was changed'],
    ];
    for (const [argv, message] of refusals) {
      const run = await sluiceStream(['replay', ...argv, ...names(fixture)]);
      expect(run.exitCode, argv.join(' ')).toBe(3);
      expect(run.stderr.join('\n'), argv.join(' ')).toContain(message);
    }
    const declined = await sluiceStream(['replay', '--from', 'trim-horizon', ...names(fixture)], { answer: false });
    expect(declined.exitCode).toBe(4);
    expect(declined.questions).toEqual(['Move 2 checkpoint(s)?']);
    expect(declined.stderr).toEqual(['sluice: replay not confirmed; nothing was changed']);
    expect(await fixture.table.list()).toEqual(before);
  });

  it('replays from TRIM_HORIZON and then from a time while a consumer runs: the window is processed again, nothing skipped, nothing earlier repeated', async () => {
    const fixture = await local.fixture(2);
    const early = records(100, { prefix: 'early' });
    await local.kinesis.put(fixture.streamName, early);
    await sleep(50);
    const boundary = new Date();
    await sleep(50);
    const late = records(100, { prefix: 'late' });
    await local.kinesis.put(fixture.streamName, late);
    const all = [...early, ...late].map((record) => String(record.data));
    const log = new ProcessingLog();
    local.consumer({ ...fixture, processor: log.processor('a') }).start();
    const countOf = (data: string) => log.counts().get(data) ?? 0;
    await waitUntil(() => all.every((data) => countOf(data) === 1), 'everything is processed once');
    await waitUntil(async () => (await fixture.table.list()).every((lease) => /^\d+$/.test(lease.checkpoint.sequenceNumber)), 'both shards are checkpointed');

    const fromStart = await sluiceStream(['replay', '--from', 'trim-horizon', ...names(fixture)], { answer: true });
    expect(fromStart.exitCode).toBe(0);
    expect(fromStart.questions).toEqual(['Move 2 checkpoint(s)?']);
    expect(fromStart.stdout.at(-1)).toBe(`replayed 2 shard(s) of ${fixture.streamName} from TRIM_HORIZON`);
    await waitUntil(() => all.every((data) => countOf(data) >= 2), 'everything is processed again', 5_000);
    await waitUntil(async () => (await fixture.table.list()).every((lease) => /^\d+$/.test(lease.checkpoint.sequenceNumber)), 'both shards are checkpointed again', 5_000);
    await sleep(300);

    const earlyCounts = early.map((record) => countOf(String(record.data)));
    const lateCounts = late.map((record) => countOf(String(record.data)));
    const fromTime = await sluiceStream(['replay', '--from', boundary.toISOString(), '--yes', ...names(fixture)]);
    expect(fromTime.exitCode).toBe(0);
    expect(fromTime.stdout.at(-1)).toBe(`replayed 2 shard(s) of ${fixture.streamName} from ${boundary.toISOString()}`);
    await waitUntil(() => late.every((record, index) => countOf(String(record.data)) > lateCounts[index]!), 'the records after the time are processed again', 5_000);
    await sleep(300);
    expect(early.map((record) => countOf(String(record.data)))).toEqual(earlyCounts);
  });

  it('stopped part-way by a failed write: exit 1, naming the shards that moved and those that did not', async () => {
    const fixture = await local.fixture(2);
    await local.kinesis.put(fixture.streamName, records(20));
    const consumer = local.consumer({ ...fixture, processor: async () => undefined }).start();
    await waitUntil(() => consumer.counters.recordsProcessed === 20, 'the records are processed');
    await consumer.stop();
    const before = await fixture.table.list();
    let updates = 0;
    // The lease table's client, failing the second UpdateItem as an outage would.
    const failing = new Proxy(local.dynamo.client, {
      get: (target, property) =>
        property === 'send'
          ? (command: unknown, ...rest: unknown[]) => {
              if (command instanceof UpdateItemCommand && ++updates === 2) return Promise.reject(Object.assign(new Error('Internal server error'), { name: 'InternalServerError' }));
              return (target.send as (...args: unknown[]) => unknown).call(target, command, ...rest);
            }
          : Reflect.get(target, property),
    });
    const run = await sluiceStream(['replay', '--from', 'trim-horizon', '--yes', ...names(fixture)], { dynamoDb: failing });
    expect(run.exitCode).toBe(1);
    expect(run.stdout.filter((line) => line.startsWith('moved '))).toEqual([`moved shardId-000000000000 (was ${before[0]!.checkpoint.sequenceNumber})`]);
    expect(run.stderr).toEqual([
      'sluice: the replay stopped at shardId-000000000001: Internal server error\n'
        + '  moved: shardId-000000000000\n  not moved: shardId-000000000001\n'
        + 'Run the same replay again with --shard for the shards not moved (sluice stream status shows where each one is).',
    ]);
    const after = await fixture.table.list();
    expect(after.map((lease) => lease.checkpoint.sequenceNumber)).toEqual(['TRIM_HORIZON', before[1]!.checkpoint.sequenceNumber]);
  });
});
