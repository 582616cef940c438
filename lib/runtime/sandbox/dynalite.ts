import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import { closeServer, localClientConfig } from './local-endpoint.ts';

export interface LocalDynamoDb {
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  readonly documentClient: DynamoDBDocumentClient;
  /**
   * Creates a table shaped like the stack's release table (`pk`/`sk` strings, on-demand billing) and
   * resolves with its name once it is ACTIVE. dynalite has no UpdateTimeToLive, so the `expiresAt`
   * TTL setting is left out; nothing may depend on TTL anyway.
   * @default name - a fresh `release-<n>` name per call
   */
  createReleaseTable(name?: string): Promise<string>;
  /**
   * Creates a table shaped like the stack's stream checkpoint table (KCL's lease table: hash key
   * `leaseKey`, a string; on-demand billing) and resolves with its name once it is ACTIVE.
   * @default name - a fresh `leases-<n>` name per call
   */
  createLeaseTable(name?: string): Promise<string>;
  /** Destroys the clients and closes the server; safe to call twice. */
  stop(): Promise<void>;
}

/** Starts an in-memory dynalite on 127.0.0.1 (a free port) with SDK v3 clients pointed at it. */
export async function startDynalite(): Promise<LocalDynamoDb> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;

  const client = new DynamoDBClient(localClientConfig(endpoint));
  const documentClient = DynamoDBDocumentClient.from(client);

  let tables = 0;
  let stopped = false;

  /** Creates an on-demand table whose keys are all strings; resolves once it is ACTIVE. */
  async function createTable(name: string, keySchema: { AttributeName: string; KeyType: 'HASH' | 'RANGE' }[]): Promise<string> {
    await client.send(new CreateTableCommand({
      TableName: name,
      AttributeDefinitions: keySchema.map(({ AttributeName }) => ({ AttributeName, AttributeType: 'S' })),
      KeySchema: keySchema,
      BillingMode: 'PAY_PER_REQUEST',
    }));
    // Even with createTableMs 0 the table is CREATING until dynalite's next tick. The SDK waiter
    // polls every 20 s, so poll briefly ourselves.
    for (let attempt = 0; attempt < 100; attempt++) {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: name }));
      if (Table?.TableStatus === 'ACTIVE') return name;
      await sleep(5);
    }
    throw new Error(`dynalite table ${name} did not become ACTIVE`);
  }

  return {
    endpoint,
    client,
    documentClient,

    createReleaseTable(name = `release-${++tables}`) {
      return createTable(name, [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ]);
    },

    createLeaseTable(name = `leases-${++tables}`) {
      return createTable(name, [{ AttributeName: 'leaseKey', KeyType: 'HASH' }]);
    },

    async stop() {
      if (stopped) return;
      stopped = true;
      documentClient.destroy();
      client.destroy();
      await closeServer(server);
    },
  };
}
