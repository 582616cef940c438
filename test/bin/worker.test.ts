// bin/worker.ts as systemd runs it: the environment (/etc/sluice/env) decides what runs, the queue
// processor and the stream consumer run side by side, SIGTERM stops both within the stop timeout
// (checkpointing and releasing the shards), and either one failing stops both with a non-zero exit.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaseTable } from '../../lib/runtime/stream/lease-table.ts';
import { type LocalDynamoDb, startDynalite } from '../helpers/dynalite.ts';
import { dataPoints, emfDocuments, sumOf } from '../helpers/emf.ts';
import { type LocalKinesis, startKinesalite } from '../helpers/kinesalite.ts';
import { type LocalSqs, startLocalSqs } from '../helpers/local-sqs.ts';
import { killAll, spawnStreamWorker, type StreamWorkerProcess } from '../helpers/stream-worker-process.ts';

let kinesis: LocalKinesis;
let dynamo: LocalDynamoDb;
let sqs: LocalSqs;
const workers: StreamWorkerProcess[] = [];
beforeAll(async () => {
  [kinesis, dynamo, sqs] = await Promise.all([startKinesalite(), startDynalite(), startLocalSqs()]);
});
afterAll(async () => {
  killAll(workers);
  await Promise.all([kinesis?.stop(), dynamo?.stop(), sqs?.stop()]);
});

/** systemd's TimeoutStopSec for these runs: the worker's deadline is 5 s less. */
const STOP_TIMEOUT_SECONDS = 7;

function worker(env: Record<string, string>): StreamWorkerProcess {
  const started = spawnStreamWorker({
    name: 'bin',
    entry: 'bin/worker.ts',
    endpoints: { kinesis: kinesis.endpoint, dynamodb: dynamo.endpoint, sqs: sqs.endpoint },
    recordFile: join(mkdtempSync(join(tmpdir(), 'sluice-bin-worker-')), 'unused.log'),
    env: { WORKER_STOP_TIMEOUT_SECONDS: String(STOP_TIMEOUT_SECONDS), ...env },
  });
  workers.push(started);
  return started;
}

interface LogLine {
  readonly level: string;
  readonly component: string;
  readonly event: string;
  readonly [field: string]: unknown;
}

function logLines(process: StreamWorkerProcess): LogLine[] {
  return process.output().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as LogLine);
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.concurrent('bin/worker.ts', () => {
  it('with neither a queue nor a stream in its environment exits 0 at once, saying why', async () => {
    const idle = worker({});
    expect(await idle.exited).toBe(0);
    expect(logLines(idle).map((line) => line.event)).toEqual(['worker.idle']);
  });

  it('refuses a stream name without a checkpoint table: exit 1 with the problem named', async () => {
    const misconfigured = worker({ STREAM_NAME: 'events' });
    expect(await misconfigured.exited).toBe(1);
    const [line] = logLines(misconfigured);
    expect(line).toMatchObject({ level: 'error', event: 'worker.invalid_settings' });
    expect(line!.error).toContain('STREAM_NAME and CHECKPOINT_TABLE_NAME must be set together or not at all (given only STREAM_NAME)');
  });

  it('runs the queue and the stream side by side; SIGTERM stops both in time, checkpointing and releasing every shard', async () => {
    const [streamName, tableName, queue] = await Promise.all([kinesis.createStream({ name: 'side-by-side', shards: 2 }), dynamo.createLeaseTable('side-by-side-leases'), sqs.createQueue()]);
    const put = await kinesis.put(streamName, Array.from({ length: 40 }, (_, n) => ({ partitionKey: `key-${n}`, data: JSON.stringify({ type: 'test', n }) })));
    await sqs.send(queue.queueUrl, Array.from({ length: 20 }, (_, n) => JSON.stringify({ type: 'test', n })));
    const both = worker({ QUEUE_URL: queue.queueUrl, STREAM_NAME: streamName, CHECKPOINT_TABLE_NAME: tableName, SLUICE_STAGE: 'dev' });
    const count = (event: string) => logLines(both).filter((line) => line.event === event).length;
    await until(() => count('event_received') >= 40 && count('work_received') >= 20, 'every record and message is handled');

    const signalledAt = Date.now();
    both.child.kill('SIGTERM');
    expect(await both.exited).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(STOP_TIMEOUT_SECONDS * 1000);
    const stopped = logLines(both).find((line) => line.event === 'worker.stopped');
    expect(stopped).toMatchObject({ stoppedBy: 'SIGTERM', services: { queue: { reason: 'requested' }, stream: { reason: 'requested' } } });
    // Released (no owner, so the other instances take the shards at once) at the last record of each shard.
    const lastPerShard = new Map(put.map((record) => [record.shardId, record.sequenceNumber]));
    const leases = await new LeaseTable(dynamo.client, tableName).list();
    expect(leases.map((lease) => ({ shardId: lease.leaseKey, owner: lease.leaseOwner, checkpoint: lease.checkpoint.sequenceNumber }))).toEqual(
      [...lastPerShard].sort().map(([shardId, checkpoint]) => ({ shardId, owner: undefined, checkpoint })),
    );
    expect(await sqs.depth(queue.queueUrl)).toEqual({ visible: 0, inFlight: 0 });
    // Its metrics, the last written at the stop: every message and record it handled.
    const points = dataPoints(emfDocuments(both.output().split('\n')));
    expect(sumOf(points, 'JobsProcessed', { Stage: 'dev', Service: 'worker' })).toBe(20);
    expect(sumOf(points, 'StreamRecordsProcessed', { Stage: 'dev', Service: 'worker' })).toBe(40);
  });

  it('when the stream consumer is refused (no such lease table), stops the queue processor too and exits 1', async () => {
    const [streamName, queue] = await Promise.all([kinesis.createStream({ name: 'no-table', shards: 1 }), sqs.createQueue()]);
    const refused = worker({ QUEUE_URL: queue.queueUrl, STREAM_NAME: streamName, CHECKPOINT_TABLE_NAME: 'no-such-table' });
    expect(await refused.exited).toBe(1);
    const stopped = logLines(refused).find((line) => line.event === 'worker.stopped');
    expect(stopped).toMatchObject({ level: 'error', stoppedBy: 'stream', services: { queue: { reason: 'requested' }, stream: { reason: 'fatal' } } });
  });

  it('when the queue processor is refused (no such queue), stops the stream consumer gracefully too (no lease left owned) and exits 1', async () => {
    const [streamName, tableName] = await Promise.all([kinesis.createStream({ name: 'no-queue', shards: 2 }), dynamo.createLeaseTable('no-queue-leases')]);
    const table = new LeaseTable(dynamo.client, tableName);
    const refused = worker({ QUEUE_URL: `${sqs.endpoint}/000000000000/no-such-queue`, STREAM_NAME: streamName, CHECKPOINT_TABLE_NAME: tableName });
    expect(await refused.exited).toBe(1);
    const stopped = logLines(refused).find((line) => line.event === 'worker.stopped');
    expect(stopped).toMatchObject({ level: 'error', stoppedBy: 'queue', services: { queue: { reason: 'fatal' }, stream: { reason: 'requested' } } });
    expect((await table.list()).every((lease) => lease.leaseOwner === undefined)).toBe(true);
  });
});
