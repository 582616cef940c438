// The stream consumer in real worker processes (the worker composition bin/worker.ts runs, through
// test/helpers/stream-test-worker.ts): a SIGKILL loses nothing and repeats only the uncheckpointed
// tail; two processes share four shards 2/2; a killed process's shards move within 1.5 lease
// durations, a SIGTERMed one's are read by the other within a second.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SHARD_END, TRIM_HORIZON } from '../../../lib/runtime/stream/lease.ts';
import type { LeaseTable } from '../../../lib/runtime/stream/lease-table.ts';
import { killAll, readWorkerRecord, spawnStreamWorker, type StreamWorkerProcess, type StreamWorkerTimings } from '../../helpers/stream-worker-process.ts';
import { ascending, produce, useLocalStream, waitUntil } from './stream-harness.ts';

const local = useLocalStream();
const workers: StreamWorkerProcess[] = [];
afterAll(() => killAll(workers));

/** Short leases so that a failover takes seconds; the same settings in every process. */
const LEASE_MS = 2_000;
const TIMINGS: StreamWorkerTimings = { leaseMs: LEASE_MS, scanMs: 100, idleMs: 50, checkpointMs: 400 };

function recordFile(): string {
  return join(mkdtempSync(join(tmpdir(), 'sluice-stream-worker-')), 'record.log');
}

function start(name: string, fixture: { streamName: string; leaseTableName: string }, record: string, timings: StreamWorkerTimings = TIMINGS): StreamWorkerProcess {
  const worker = spawnStreamWorker({
    name,
    endpoints: { kinesis: local.kinesis.endpoint, dynamodb: local.dynamo.endpoint },
    recordFile: record,
    env: { STREAM_NAME: fixture.streamName, CHECKPOINT_TABLE_NAME: fixture.leaseTableName, WORKER_STOP_TIMEOUT_SECONDS: '15' },
    timings,
  });
  workers.push(worker);
  return worker;
}

/** True once every data value sent has been recorded by some worker. */
function everyRecordSeen(record: string, sent: readonly string[]): boolean {
  const seen = new Set(readWorkerRecord(record).records.map((entry) => entry.data));
  return sent.every((data) => seen.has(data));
}

/** Shards per owner, as the lease table says. */
async function owners(table: LeaseTable): Promise<Map<string | undefined, string[]>> {
  const byOwner = new Map<string | undefined, string[]>();
  for (const lease of await table.list()) byOwner.set(lease.leaseOwner, [...(byOwner.get(lease.leaseOwner) ?? []), lease.leaseKey]);
  return byOwner;
}

describe('stream worker processes', () => {
  it('after a SIGKILL and a restart, skips no record and repeats only those processed after the last checkpoint', async () => {
    const fixture = await local.fixture(2);
    const record = recordFile();
    const producer = produce(local.kinesis, fixture.streamName, { everyMs: 10 });
    // A slow processor, so that the kill lands with processed but uncheckpointed records.
    const first = start('first', fixture, record, { ...TIMINGS, processMs: 20 });
    await waitUntil(async () => {
      const leases = await fixture.table.list();
      return leases.length === 2 && leases.every((lease) => lease.checkpoint.sequenceNumber !== TRIM_HORIZON) && readWorkerRecord(record).records.length > 300;
    }, 'the first worker has processed records and checkpointed both shards', 30_000);
    first.child.kill('SIGKILL');
    expect(await first.exited).toBeNull();
    const checkpoints = new Map((await fixture.table.list()).map((lease) => [lease.leaseKey, lease.checkpoint.sequenceNumber]));
    const seenByFirst = readWorkerRecord(record).records;

    const second = start('second', fixture, record);
    await producer.stop();
    await waitUntil(() => everyRecordSeen(record, producer.sent), 'every record produced is processed', 30_000);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);

    const seen = readWorkerRecord(record).records;
    const counts = new Map<string, number>();
    for (const entry of seen) counts.set(entry.data, (counts.get(entry.data) ?? 0) + 1);
    const tail = seenByFirst.filter((entry) => {
      const checkpoint = checkpoints.get(entry.shardId)!;
      return checkpoint !== SHARD_END && BigInt(entry.sequenceNumber) > BigInt(checkpoint);
    });
    const repeated = [...counts].filter(([, count]) => count > 1).map(([data]) => data);
    expect(repeated.sort()).toEqual(tail.map((entry) => entry.data).sort());
    expect([...counts.values()].every((count) => count <= 2)).toBe(true);
    // The second worker reads each shard in order, from just after the first one's checkpoint.
    for (const shardId of checkpoints.keys()) {
      const resumed = seen.filter((entry) => entry.worker === 'second' && entry.shardId === shardId).map((entry) => BigInt(entry.sequenceNumber));
      expect(ascending(resumed)).toBe(true);
    }
  });

  it('two processes settle at 2/2; a SIGKILLed one\'s shards move within 1.5 lease durations, a SIGTERMed one\'s are read by the other within 1 s', async () => {
    const fixture = await local.fixture(4);
    const record = recordFile();
    const producer = produce(local.kinesis, fixture.streamName);
    const a = start('a', fixture, record);
    await waitUntil(async () => (await owners(fixture.table)).get(a.workerId)?.length === 4, 'the first process holds every shard', 30_000);
    const b = start('b', fixture, record);
    await waitUntil(async () => {
      const byOwner = await owners(fixture.table);
      return byOwner.get(a.workerId)?.length === 2 && byOwner.get(b.workerId)?.length === 2;
    }, 'the processes settle at 2/2', 30_000);

    const killedAt = Date.now();
    a.child.kill('SIGKILL');
    await waitUntil(async () => (await owners(fixture.table)).get(b.workerId)?.length === 4, 'the survivor owns all four shards', 4 * LEASE_MS);
    expect(Date.now() - killedAt).toBeLessThanOrEqual(1.5 * LEASE_MS);

    const c = start('c', fixture, record);
    await waitUntil(async () => {
      const byOwner = await owners(fixture.table);
      return byOwner.get(b.workerId)?.length === 2 && byOwner.get(c.workerId)?.length === 2;
    }, 'a new process gets half', 30_000);
    const handedOver = (await owners(fixture.table)).get(c.workerId)!;
    const stoppedAt = Date.now();
    c.child.kill('SIGTERM');
    const readByB = (shardId: string) => readWorkerRecord(record).records.filter((entry) => entry.worker === 'b' && entry.shardId === shardId && entry.at >= stoppedAt);
    await waitUntil(() => handedOver.every((shardId) => readByB(shardId).length > 0), 'the other process reads the released shards', 10_000);
    for (const shardId of handedOver) expect(Math.min(...readByB(shardId).map((entry) => entry.at)) - stoppedAt).toBeLessThanOrEqual(1_000);
    expect(await c.exited).toBe(0);

    await producer.stop();
    await waitUntil(() => everyRecordSeen(record, producer.sent), 'every record produced is processed', 30_000);
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
  });
});
