// The kinesalite helper: why the client needs HTTP/1.1, and that the fidelity fix holds.
import { CreateStreamCommand, GetRecordsCommand, GetShardIteratorCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalKinesis, startKinesalite } from '../../helpers/kinesalite.ts';

let kinesis: LocalKinesis;
beforeAll(async () => {
  kinesis = await startKinesalite();
});
afterAll(() => kinesis.stop());

describe('startKinesalite', () => {
  it('needs an HTTP/1.1 handler: the SDK default for Kinesis (HTTP/2) cannot talk to kinesalite', async () => {
    const http2 = new KinesisClient({ endpoint: kinesis.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
    await expect(http2.send(new CreateStreamCommand({ StreamName: 'http2', ShardCount: 1 }), { abortSignal: AbortSignal.timeout(3_000) })).rejects.toThrow();
    http2.destroy();
    expect(await kinesis.createStream({ name: 'http1' })).toBe('http1');
  });

  it('answers an AT_TIMESTAMP iterator later than every record with the shard tip, as Kinesis does', async () => {
    const streamName = await kinesis.createStream();
    await kinesis.put(streamName, [{ partitionKey: 'k', data: 'old' }]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const { ShardIterator } = await kinesis.client.send(
      new GetShardIteratorCommand({ StreamName: streamName, ShardId: 'shardId-000000000000', ShardIteratorType: 'AT_TIMESTAMP', Timestamp: new Date(Date.now() - 5) }),
      { abortSignal: AbortSignal.timeout(3_000) },
    );
    await kinesis.put(streamName, [{ partitionKey: 'k', data: 'new' }]);
    const { Records = [] } = await kinesis.client.send(new GetRecordsCommand({ ShardIterator }));
    expect(Records.map((record) => Buffer.from(record.Data!).toString())).toEqual(['new']);
  });
});
