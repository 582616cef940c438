// The web app against the real local stand-ins: what POST /jobs and POST /events promise a client
// (202 only once the job or event is really on the queue or the stream, exactly as sent; a clear
// refusal otherwise, with nothing enqueued), and that a stop lets a POST in flight finish.
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { type IncomingHttpHeaders, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetRecordsCommand, GetShardIteratorCommand } from '@aws-sdk/client-kinesis';
import { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WebApp, type WebAppOptions } from '../../../lib/runtime/app/web-app.ts';
import { parseWorkItem } from '../../../lib/runtime/app/work-handler.ts';
import { silentLogger } from '../../../lib/runtime/json-logger.ts';
import { type LocalKinesis, startKinesalite } from '../../helpers/kinesalite.ts';
import { type LocalSqs, startLocalSqs } from '../../helpers/local-sqs.ts';

/** SQS's message limit and Kinesis's default record limit: 1 MiB. */
const ONE_MIB = 1_048_576;

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  readonly json: Record<string, unknown>;
}

interface Outgoing {
  readonly method?: string;
  readonly body?: string | Uint8Array;
  /** @default 'application/json'; null sends no Content-Type */
  readonly contentType?: string | null;
  readonly headers?: Record<string, string | number>;
}

function answerOf(res: import('node:http').IncomingMessage, resolve: (answer: Answer) => void): void {
  let text = '';
  res.setEncoding('utf8').on('data', (chunk: string) => {
    text += chunk;
  });
  res.on('end', () => {
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // Not every answer is JSON; the test looks at `text` then.
    }
    resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
  });
}

function send(port: number, path: string, outgoing: Outgoing = {}): Promise<Answer> {
  const { method = outgoing.body === undefined ? 'GET' : 'POST', contentType = 'application/json' } = outgoing;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...(contentType === null ? {} : { 'Content-Type': contentType }), ...outgoing.headers };
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => answerOf(res, resolve));
    req.on('error', reject);
    req.end(outgoing.body);
  });
}

/** A chunked upload of `totalBytes` that stops writing as soon as the server answers. */
function sendStreaming(port: number, path: string, totalBytes: number): Promise<Answer & { readonly bytesWritten: number }> {
  return new Promise((resolve, reject) => {
    let answered = false;
    let written = 0;
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'Content-Type': 'application/json' }, agent: false }, (res) => {
      answered = true;
      answerOf(res, (answer) => resolve({ ...answer, bytesWritten: written }));
    });
    req.on('error', (error) => {
      // The server closes a refused upload; an error after its answer is that close.
      if (!answered) reject(error);
    });
    const chunk = Buffer.alloc(64 * 1024, ' ');
    const writeMore = () => {
      while (!answered && written < totalBytes) {
        const part = chunk.subarray(0, Math.min(chunk.length, totalBytes - written));
        written += part.length;
        if (!req.write(part)) {
          req.once('drain', writeMore);
          return;
        }
      }
      if (!answered) req.end();
    };
    writeMore();
  });
}

let sqs: LocalSqs;
let kinesis: LocalKinesis;
let queueUrl: string;
let streamName: string;
const apps: WebApp[] = [];

beforeAll(async () => {
  [sqs, kinesis] = await Promise.all([startLocalSqs(), startKinesalite()]);
  streamName = await kinesis.createStream({ shards: 2 });
});
afterAll(async () => {
  await Promise.all([sqs?.stop(), kinesis?.stop()]);
});
beforeEach(async () => {
  // Each test has a queue of its own: what it finds there is what it enqueued.
  ({ queueUrl } = await sqs.createQueue({ maxReceiveCount: 0 }));
});
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.stop({ deadlineMs: 100 })));
});

async function startApp(overrides: Partial<WebAppOptions> = {}): Promise<number> {
  const app = new WebApp({
    version: 'a1b2c3d',
    port: 0,
    host: '127.0.0.1',
    logger: silentLogger,
    workQueue: { sqs: sqs.client, queueUrl },
    eventStream: { kinesis: kinesis.client, streamName },
    ...overrides,
  });
  apps.push(app);
  return app.start();
}

async function expectQueueEmpty(): Promise<void> {
  expect(await sqs.depth(queueUrl)).toEqual({ visible: 0, inFlight: 0 });
}

describe('WebApp: GET', () => {
  it('reports its version on the health check, / and /version, and names unknown routes and wrong methods', async () => {
    const port = await startApp();
    expect(await send(port, '/health')).toMatchObject({ status: 200, json: { status: 'ok', version: 'a1b2c3d' } });
    expect(await send(port, '/')).toMatchObject({ status: 200, json: { service: 'sluice', version: 'a1b2c3d' } });
    expect(await send(port, '/version')).toMatchObject({ status: 200, json: { version: 'a1b2c3d' } });
    expect(await send(port, '/nope')).toMatchObject({ status: 404, json: { error: 'no route /nope' } });
    const wrongMethod = await send(port, '/jobs');
    expect(wrongMethod).toMatchObject({ status: 405, json: { error: '/jobs answers POST only' } });
    expect(wrongMethod.headers.allow).toBe('POST');
  });
});

describe('WebApp: POST /jobs', () => {
  it('answers 202 with the message id once the job is on the work queue, exactly as sent', async () => {
    const port = await startApp();
    const body = '{ "type": "send-invoice",\n  "invoiceId": 7, "note": "für Zoë ✓" }';
    const answer = await send(port, '/jobs', { body });
    expect(answer.status).toBe(202);
    expect(answer.json).toEqual({ messageId: expect.stringMatching(/\S/) });
    const messages = await sqs.receiveAll(queueUrl);
    expect(messages.map((message) => [message.MessageId, message.Body])).toEqual([[answer.json.messageId, body]]);
    // What the web app enqueues is what the worker accepts.
    expect(parseWorkItem(messages[0].Body!)).toMatchObject({ type: 'send-invoice', invoiceId: 7 });
  });

  it.each([
    ['not JSON', '{"type": "send-invoice",', /^the body is not valid JSON: /],
    ['empty', '', /^the body is empty: send a JSON object$/],
    ['an array', '[{"type":"send-invoice"}]', /^the body must be a JSON object \(given an array\): an array of jobs needs the feature flag jobs-batch-submit, which is off/],
    ['a string', '"send-invoice"', /^the body must be a JSON object \(given "send-invoice"\)$/],
    ['without a type', '{"invoiceId":7}', /^type must be a non-empty string naming the work, e.g. "send-invoice" \(given nothing\)$/],
    ['with a numeric type', '{"type":42}', /^type must be a non-empty string naming the work, e.g. "send-invoice" \(given 42\)$/],
    ['with an empty type', '{"type":""}', /^type must be a non-empty string naming the work, e.g. "send-invoice" \(given ""\)$/],
    ['holding U+FFFF, which SQS refuses', '{"type":"a","x":"\uFFFF"}', /^the body holds U\+FFFE or U\+FFFF, which SQS does not accept/],
  ])('answers 400 for a body %s, naming what it must be, and enqueues nothing', async (_name, body, error) => {
    const port = await startApp();
    const answer = await send(port, '/jobs', { body });
    expect(answer.status).toBe(400);
    expect(answer.json.error).toMatch(error);
    await expectQueueEmpty();
  });

  it('refuses a job with the same words the worker would (one schema for both)', async () => {
    const port = await startApp();
    for (const body of ['[]', '{"invoiceId":7}', '{"type":42}']) {
      const answer = await send(port, '/jobs', { body });
      expect(answer.json.problems).toEqual([expect.any(String)]);
      expect(() => parseWorkItem(body)).toThrow((answer.json.problems as string[])[0]);
    }
  });

  it('answers 400 for a body that is not UTF-8', async () => {
    const port = await startApp();
    const answer = await send(port, '/jobs', { body: Buffer.from([0x7b, 0x22, 0x74, 0xff, 0xfe, 0x22, 0x7d]) });
    expect(answer).toMatchObject({ status: 400, json: { error: 'the body must be UTF-8 encoded JSON (it is not valid UTF-8)' } });
    await expectQueueEmpty();
  });

  it.each([
    ['text/plain', 'text/plain', '"text/plain"'],
    ['form data (curl -d without -H)', 'application/x-www-form-urlencoded', '"application/x-www-form-urlencoded"'],
    ['JSON in another charset', 'application/json; charset=iso-8859-1', '"application/json; charset=iso-8859-1"'],
    ['no content type', null, 'none'],
  ])('answers 415 for %s and enqueues nothing', async (_name, contentType, given) => {
    const port = await startApp();
    const answer = await send(port, '/jobs', { body: '{"type":"send-invoice"}', contentType });
    expect(answer).toMatchObject({ status: 415, json: { error: `Content-Type must be application/json (given ${given})` } });
    await expectQueueEmpty();
  });

  it('accepts application/json with charset=utf-8', async () => {
    const port = await startApp();
    expect((await send(port, '/jobs', { body: '{"type":"a"}', contentType: 'application/json; charset=UTF-8' })).status).toBe(202);
  });

  it('enqueues a job of exactly 1 MiB, SQS\'s limit', async () => {
    const port = await startApp();
    const head = '{"type":"bulk","data":"';
    const body = `${head}${'x'.repeat(ONE_MIB - head.length - 2)}"}`;
    expect(Buffer.byteLength(body)).toBe(ONE_MIB);
    expect((await send(port, '/jobs', { body })).status).toBe(202);
    const [message] = await sqs.receiveAll(queueUrl);
    expect(message.Body).toBe(body);
  });

  it('answers 413 to a body announced as over 1 MiB without reading it', async () => {
    const port = await startApp();
    // Headers only: the answer comes before a byte of the body is sent.
    const answer = await new Promise<Answer>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/jobs', method: 'POST', agent: false, headers: { 'Content-Type': 'application/json', 'Content-Length': ONE_MIB + 1 } }, (res) => {
        answerOf(res, (answer) => {
          resolve(answer);
          req.destroy();
        });
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    expect(answer).toMatchObject({ status: 413, json: { error: `the body must be at most ${ONE_MIB} bytes (given ${ONE_MIB + 1})` } });
    expect(answer.headers.connection).toBe('close');
    await expectQueueEmpty();
  });

  it('answers 413 as soon as a chunked body passes 1 MiB, without waiting for the rest, and keeps serving', async () => {
    const port = await startApp();
    const answer = await sendStreaming(port, '/jobs', 64 * ONE_MIB);
    expect(answer).toMatchObject({ status: 413, json: { error: `the body must be at most ${ONE_MIB} bytes` } });
    // The upload stopped near the limit: the server did not read (or hold) the 64 MiB.
    expect(answer.bytesWritten).toBeLessThan(16 * ONE_MIB);
    await expectQueueEmpty();
    expect((await send(port, '/jobs', { body: '{"type":"after"}' })).status).toBe(202);
  });

  it.each([
    ['a server error', 'server-error'],
    ['throttling', 'throttling'],
    ['a dropped connection', 'connection-reset'],
  ] as const)('answers 503 with a retry hint when SQS fails with %s, and never 202', async (_name, fault) => {
    const port = await startApp();
    sqs.injectFault('SendMessage', fault);
    const answer = await send(port, '/jobs', { body: '{"type":"send-invoice"}' });
    expect(answer.status).toBe(503);
    expect(answer.headers['retry-after']).toBe('5');
    expect(answer.json).toMatchObject({ error: expect.stringMatching(/^the work queue did not accept the request \(\w+\); retry in 5 seconds$/), retryAfterSeconds: 5 });
    await expectQueueEmpty();
    // The retry the answer asks for succeeds.
    expect((await send(port, '/jobs', { body: '{"type":"send-invoice"}' })).status).toBe(202);
  });

  it('answers 503 when SQS does not answer within producerTimeoutMs', async () => {
    // A server that accepts connections and never answers.
    const sockets: Socket[] = [];
    const silent: TcpServer = createTcpServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const hanging = new SQSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
    try {
      const port = await startApp({ workQueue: { sqs: hanging, queueUrl }, producerTimeoutMs: 300 });
      const started = Date.now();
      const answer = await send(port, '/jobs', { body: '{"type":"send-invoice"}' });
      expect(answer.status).toBe(503);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      hanging.destroy();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

describe('WebApp: POST /events', () => {
  async function recordAt(shardId: string, sequenceNumber: string) {
    const { ShardIterator } = await kinesis.client.send(new GetShardIteratorCommand({ StreamName: streamName, ShardId: shardId, ShardIteratorType: 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: sequenceNumber }));
    const { Records = [] } = await kinesis.client.send(new GetRecordsCommand({ ShardIterator, Limit: 1 }));
    return Records[0];
  }

  it('answers 202 with the sequence number and shard once the event is on the stream, keyed by its key', async () => {
    const port = await startApp();
    const body = '{"key":"user-42","type":"signed-up","plan":"pro"}';
    const answer = await send(port, '/events', { body });
    expect(answer.status).toBe(202);
    expect(answer.json).toEqual({ sequenceNumber: expect.stringMatching(/^\d+$/), shardId: expect.stringMatching(/^shardId-\d{12}$/) });
    const record = await recordAt(answer.json.shardId as string, answer.json.sequenceNumber as string);
    expect(record.PartitionKey).toBe('user-42');
    expect(Buffer.from(record.Data!).toString('utf8')).toBe(body);
    // One key, one shard: its events stay in order.
    const again = await send(port, '/events', { body: '{"key":"user-42","type":"upgraded"}' });
    expect(again.json.shardId).toBe(answer.json.shardId);
    expect(BigInt(again.json.sequenceNumber as string)).toBeGreaterThan(BigInt(answer.json.sequenceNumber as string));
  });

  it.each([
    ['without a key', '{"type":"signed-up"}', 'given nothing'],
    ['with an empty key', '{"key":""}', 'given ""'],
    ['with a numeric key', '{"key":42}', 'given 42'],
    ['with a key of 257 characters', JSON.stringify({ key: 'k'.repeat(257) }), 'given 257 characters'],
  ])('answers 400 for an event %s', async (_name, body, given) => {
    const port = await startApp();
    const answer = await send(port, '/events', { body });
    expect(answer).toMatchObject({ status: 400, json: { error: `key must be a string of 1 to 256 characters, the partition key that keeps one key's events in order (${given})` } });
  });

  it('answers 413 when the body and its key pass Kinesis\'s 1 MiB record limit, 415 for a non-JSON type', async () => {
    const port = await startApp();
    const head = '{"key":"user-42","data":"';
    const body = `${head}${'x'.repeat(ONE_MIB - head.length - 2)}"}`;
    const answer = await send(port, '/events', { body });
    expect(answer).toMatchObject({ status: 413, json: { error: `the body and its key together must be at most ${ONE_MIB} bytes, Kinesis's record limit (given ${ONE_MIB + 7})` } });
    expect((await send(port, '/events', { body: '{"key":"k"}', contentType: 'text/plain' })).status).toBe(415);
  });

  it('answers 503 with a retry hint when Kinesis refuses the record', async () => {
    const port = await startApp({ eventStream: { kinesis: kinesis.client, streamName: 'no-such-stream' } });
    const answer = await send(port, '/events', { body: '{"key":"user-42"}' });
    expect(answer).toMatchObject({ status: 503, json: { error: 'the event stream did not accept the request (ResourceNotFoundException); retry in 5 seconds' } });
    expect(answer.headers['retry-after']).toBe('5');
  });
});

describe('WebApp: stop', () => {
  it('lets a POST whose body is still arriving finish and enqueue, while refusing new connections', async () => {
    const app = new WebApp({ version: 'v2', port: 0, host: '127.0.0.1', logger: silentLogger, workQueue: { sqs: sqs.client, queueUrl }, eventStream: { kinesis: kinesis.client, streamName } });
    apps.push(app);
    const port = await app.start();
    const body = '{"type":"send-invoice","invoiceId":7}';
    let finishUpload: () => void = () => undefined;
    const inFlight = new Promise<Answer>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/jobs', method: 'POST', agent: false, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => answerOf(res, resolve));
      req.on('error', reject);
      req.write(body.slice(0, 10));
      finishUpload = () => req.end(body.slice(10));
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const stopped = app.stop({ deadlineMs: 5_000 });
    await expect(send(port, '/health')).rejects.toThrow(/ECONNREFUSED/);
    finishUpload();
    const answer = await inFlight;
    expect(answer).toMatchObject({ status: 202, headers: { connection: 'close' } });
    await stopped;
    expect((await sqs.receiveAll(queueUrl)).map((message) => [message.MessageId, message.Body])).toEqual([[answer.json.messageId, body]]);
    expect(app.stop()).toBe(stopped);
  });
});

describe('WebApp: POST /jobs with the feature flag jobs-batch-submit', () => {
  /** A flag check that is on only for the given users, recording what it was asked. */
  function flagsOnFor(...users: string[]) {
    const asked: Array<[string, string]> = [];
    return { asked, isEnabled: (flag: string, { userId }: { userId: string }) => (asked.push([flag, userId]), users.includes(userId)) };
  }
  const jobs = [{ type: 'send-invoice', invoiceId: 1 }, { type: 'send-invoice', invoiceId: 2 }, { type: 'refund', orderId: 'o-3' }];

  it('enqueues an array of jobs in one batch for a user the flag is on for, and answers each message id in order', async () => {
    const flags = flagsOnFor('user-in');
    const port = await startApp({ flags });
    const answer = await send(port, '/jobs', { body: JSON.stringify(jobs), headers: { 'x-user-id': 'user-in' } });
    expect(answer.status).toBe(202);
    expect(flags.asked).toEqual([['jobs-batch-submit', 'user-in']]);
    const ids = answer.json.messageIds as string[];
    expect(ids).toHaveLength(3);
    const messages = await sqs.receiveAll(queueUrl);
    expect(new Map(messages.map((message) => [message.MessageId, JSON.parse(message.Body!)]))).toEqual(new Map(ids.map((id, index) => [id, jobs[index]])));
  });

  it('refuses the array form with 400 naming the flag when it is off for the user, and enqueues nothing', async () => {
    const port = await startApp({ flags: flagsOnFor('someone-else') });
    const answer = await send(port, '/jobs', { body: JSON.stringify(jobs), headers: { 'x-user-id': 'user-out' } });
    expect(answer).toMatchObject({ status: 400, json: { error: 'the body must be a JSON object (given an array): an array of jobs needs the feature flag jobs-batch-submit, which is off for user "user-out"; send one job per request' } });
    await expectQueueEmpty();
    // A single job does not depend on the flag.
    expect((await send(port, '/jobs', { body: JSON.stringify(jobs[0]), headers: { 'x-user-id': 'user-out' } })).status).toBe(202);
  });

  it('without a flags client answers the code default (off, shipped dark)', async () => {
    const port = await startApp();
    expect((await send(port, '/jobs', { body: JSON.stringify(jobs) })).json.error).toMatch(/needs the feature flag jobs-batch-submit, which is off for user "anonymous"/);
    await expectQueueEmpty();
  });

  it('refuses an empty array, more than 10 jobs, and names each job that is not one', async () => {
    const port = await startApp({ flags: flagsOnFor('anonymous') });
    expect((await send(port, '/jobs', { body: '[]' })).json.error).toBe("the array must hold 1 to 10 jobs, SendMessageBatch's limit (given 0)");
    const eleven = Array.from({ length: 11 }, () => jobs[0]);
    expect((await send(port, '/jobs', { body: JSON.stringify(eleven) })).json.error).toBe("the array must hold 1 to 10 jobs, SendMessageBatch's limit (given 11)");
    const answer = await send(port, '/jobs', { body: JSON.stringify([jobs[0], { invoiceId: 2 }, 'x']) });
    expect(answer.status).toBe(400);
    expect(answer.json.problems).toEqual(['[1]: type must be a non-empty string naming the work, e.g. "send-invoice" (given nothing)', '[2]: the body must be a JSON object (given "x")']);
    await expectQueueEmpty();
  });
});
