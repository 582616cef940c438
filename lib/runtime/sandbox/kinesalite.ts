// kinesalite, started in-process on 127.0.0.1, with an SDK v3 Kinesis client pointed at it.
//
// The SDK's default handler for Kinesis speaks HTTP/2, which kinesalite does not: the client is given
// a NodeHttpHandler (HTTP/1.1). kinesalite departs from Kinesis in ways the consumer's tests would
// trip over, so the helper loads its GetShardIterator with the fidelity fix named in FIDELITY_FIXES.
// Known differences that stay (the consumer copes with both): GetRecords has no ChildShards (children
// come from ListShards) and MillisBehindLatest is 0 until a shard is closed; there is no throttling.
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  ListShardsCommand,
  MergeShardsCommand,
  PutRecordsCommand,
  type Shard,
  SplitShardCommand,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { closeServer, localClientConfig } from './local-endpoint.ts';

export interface OutgoingRecord {
  readonly partitionKey: string;
  readonly data: string | Uint8Array;
}

export interface PutResult {
  readonly shardId: string;
  readonly sequenceNumber: string;
}

export interface LocalKinesis {
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  /** HTTP/1.1, fake credentials, us-east-1, no SDK retries (the consumer does its own). */
  readonly client: KinesisClient;
  /**
   * Creates a stream and resolves with its name once it is ACTIVE.
   * @default options - a fresh `stream-<n>` name, 1 shard
   */
  createStream(options?: { readonly name?: string; readonly shards?: number }): Promise<string>;
  /** PutRecords in chunks of 500, in order; resolves with where each record landed. */
  put(streamName: string, records: readonly OutgoingRecord[]): Promise<PutResult[]>;
  listShards(streamName: string): Promise<Shard[]>;
  /** Splits a shard in the middle of its hash range; resolves once the stream is ACTIVE again. */
  splitShard(streamName: string, shardId: string): Promise<void>;
  /** Merges two adjacent shards; resolves once the stream is ACTIVE again. */
  mergeShards(streamName: string, shardId: string, adjacentShardId: string): Promise<void>;
  /** Destroys the client and closes the server; safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Where kinesalite 3.3.3 departs from Kinesis in ways the consumer's tests depend on, and the fix
 * applied to the loaded copy. Each `find` must occur exactly once, so an upgraded kinesalite fails loudly.
 */
const FIDELITY_FIXES: readonly { readonly file: string; readonly why: string; readonly find: string; readonly replace: string }[] = [
  {
    file: 'actions/getShardIterator.js',
    why: 'an AT_TIMESTAMP iterator later than every record of the shard never got an answer (the request hung); Kinesis returns an iterator at the tip',
    find: `.head(function(item) {
          iteratorSeq = item.key.split('/')[1]`,
    replace: `.join(function(items) {
          var item = items[0]
          iteratorSeq = item ? item.key.split('/')[1] : db.stringifySequence({shardCreateTime: shardSeqObj.shardCreateTime,
            seqIx: stream._seqIx[Math.floor(shardIx / 5)], seqTime: now, shardIx: shardSeqObj.shardIx})`,
  },
];

interface KinesaliteModule {
  (options: Record<string, unknown>): import('node:http').Server;
}

let kinesalite: KinesaliteModule | undefined;

/** Loads kinesalite with the fidelity fixes in its module cache first (once per process). */
function loadKinesalite(): KinesaliteModule {
  if (kinesalite) return kinesalite;
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve('kinesalite/package.json'));
  const Module = require('node:module') as {
    new (id: string): { filename: string; paths: string[]; loaded: boolean; _compile(source: string, filename: string): void };
    _nodeModulePaths(path: string): string[];
  };
  for (const fix of FIDELITY_FIXES) {
    const filename = `${root}/${fix.file}`;
    const source = readFileSync(filename, 'utf8');
    const occurrences = source.split(fix.find).length - 1;
    if (occurrences !== 1) {
      throw new Error(`kinesalite changed: the fix "${fix.why}" expects its code once in ${fix.file}, found it ${occurrences} times; re-check test/helpers/kinesalite.ts against the new version`);
    }
    const patched = new Module(filename);
    patched.filename = filename;
    patched.paths = Module._nodeModulePaths(dirname(filename));
    patched._compile(source.replace(fix.find, () => fix.replace), filename);
    patched.loaded = true;
    require.cache[filename] = patched as unknown as NodeJS.Module;
  }
  kinesalite = require('kinesalite') as KinesaliteModule;
  return kinesalite;
}

/** Starts an in-memory kinesalite on 127.0.0.1 (a free port) with an SDK v3 client pointed at it. */
export async function startKinesalite(options: { readonly shardLimit?: number } = {}): Promise<LocalKinesis> {
  const server = loadKinesalite()({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: options.shardLimit ?? 1_000 });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new KinesisClient({ ...localClientConfig(endpoint), requestHandler: new NodeHttpHandler() });

  let streams = 0;
  let stopped = false;

  async function untilActive(streamName: string): Promise<void> {
    // Even with 0 ms delays the status changes on kinesalite's next tick.
    for (let attempt = 0; attempt < 400; attempt++) {
      const { StreamDescriptionSummary } = await client.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
      if (StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
      await sleep(5);
    }
    throw new Error(`kinesalite stream ${streamName} did not become ACTIVE`);
  }

  async function listShards(streamName: string): Promise<Shard[]> {
    const { Shards = [] } = await client.send(new ListShardsCommand({ StreamName: streamName }));
    return Shards;
  }

  return {
    endpoint,
    client,
    async createStream({ name = `stream-${++streams}`, shards = 1 } = {}) {
      await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
      await untilActive(name);
      return name;
    },
    async put(streamName, records) {
      const results: PutResult[] = [];
      for (let start = 0; start < records.length; start += 500) {
        const chunk = records.slice(start, start + 500);
        const { Records = [], FailedRecordCount } = await client.send(new PutRecordsCommand({
          StreamName: streamName,
          Records: chunk.map((record) => ({ PartitionKey: record.partitionKey, Data: typeof record.data === 'string' ? Buffer.from(record.data) : record.data })),
        }));
        if (FailedRecordCount) throw new Error(`PutRecords failed for ${FailedRecordCount} records`);
        results.push(...Records.map((record) => ({ shardId: record.ShardId!, sequenceNumber: record.SequenceNumber! })));
      }
      return results;
    },
    listShards,
    async splitShard(streamName, shardId) {
      const shard = (await listShards(streamName)).find((candidate) => candidate.ShardId === shardId);
      if (!shard?.HashKeyRange) throw new Error(`no shard ${shardId} in ${streamName}`);
      const start = BigInt(shard.HashKeyRange.StartingHashKey!);
      const end = BigInt(shard.HashKeyRange.EndingHashKey!);
      await client.send(new SplitShardCommand({ StreamName: streamName, ShardToSplit: shardId, NewStartingHashKey: String((start + end) / 2n + 1n) }));
      await untilActive(streamName);
    },
    async mergeShards(streamName, shardId, adjacentShardId) {
      await client.send(new MergeShardsCommand({ StreamName: streamName, ShardToMerge: shardId, AdjacentShardToMerge: adjacentShardId }));
      await untilActive(streamName);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      client.destroy();
      await closeServer(server);
    },
  };
}
