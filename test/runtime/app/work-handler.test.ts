// The example work handler against a loopback HTTP API: a job is delivered with its exact body and a
// stable idempotency key; every failure throws (so that the queue retries it), classified as
// retryable or permanent; and, end to end, POST /jobs → SQS → worker → API retries through the queue
// until the API takes the job, or leaves a job the API refuses in the dead-letter queue.
import { createServer, type IncomingHttpHeaders, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { afterEach, describe, expect, it } from 'vitest';
import { ExternalApiError } from '../../../lib/runtime/app/external-api.ts';
import { WebApp } from '../../../lib/runtime/app/web-app.ts';
import { createWorkHandler, parseWorkItem, type WorkItem } from '../../../lib/runtime/app/work-handler.ts';
import { silentLogger } from '../../../lib/runtime/json-logger.ts';
import type { QueueMessage } from '../../../lib/runtime/queue/queue-message.ts';
import { capturingLogger, useLocalSqsWorkers, waitUntil } from '../queue/processor-harness.ts';

interface ApiCall {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** What the API does with its n-th call (0-based): answer with a status, or never answer. */
type ApiBehaviour = (index: number) => { readonly status: number; readonly body?: string; readonly headers?: Record<string, string> } | 'hang';

interface LoopbackApi {
  readonly url: string;
  readonly calls: ApiCall[];
  stop(): Promise<void>;
}

const apis: LoopbackApi[] = [];
afterEach(async () => {
  await Promise.all(apis.splice(0).map((api) => api.stop()));
});

async function startApi(behaviour: ApiBehaviour): Promise<LoopbackApi> {
  const calls: ApiCall[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res: ServerResponse) => {
    let body = '';
    req.setEncoding('utf8').on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      const index = calls.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body }) - 1;
      const answer = behaviour(index);
      if (answer === 'hang') return;
      res.writeHead(answer.status, { 'Content-Type': 'application/json', ...answer.headers });
      res.end(answer.body ?? '{}');
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const api: LoopbackApi = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/jobs`,
    calls,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  apis.push(api);
  return api;
}

function message(rawBody: string, messageId = 'm-1'): QueueMessage<WorkItem> {
  return { messageId, body: parseWorkItem(rawBody), rawBody, receiveCount: 1, attributes: {}, messageAttributes: {} };
}

const context = (signal: AbortSignal = new AbortController().signal) => ({ signal, receiveCount: 1 });
const job = '{"type":"send-invoice", "invoiceId": 7}';

describe('the work handler', () => {
  it('without an external API only logs the job', async () => {
    const logger = capturingLogger();
    await createWorkHandler({ logger })(message(job), context());
    expect(logger.lines).toEqual([{ level: 'info', event: 'work_received', fields: { messageId: 'm-1', type: 'send-invoice', receiveCount: 1 } }]);
  });

  it('POSTs the job exactly as enqueued, with the message id as its idempotency key, and resolves on 2xx', async () => {
    const api = await startApi(() => ({ status: 201 }));
    const logger = capturingLogger();
    await createWorkHandler({ externalApiUrl: api.url, logger })(message(job, 'msg-42'), context());
    expect(api.calls).toEqual([expect.objectContaining({ method: 'POST', path: '/v1/jobs', body: job })]);
    expect(api.calls[0].headers).toMatchObject({ 'content-type': 'application/json', 'idempotency-key': 'msg-42' });
    expect(logger.lines).toEqual([expect.objectContaining({ level: 'info', event: 'work_delivered', fields: expect.objectContaining({ messageId: 'msg-42', status: 201 }) })]);
  });

  it('throws a retryable timeout when the API does not answer within timeoutMs', async () => {
    const api = await startApi(() => 'hang');
    const started = Date.now();
    const failure = await createWorkHandler({ externalApiUrl: api.url, timeoutMs: 200, logger: silentLogger })(message(job), context()).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ExternalApiError);
    expect(failure).toMatchObject({ reasonCode: 'timeout', retryable: true, message: `POST ${new URL(api.url).origin}/v1/jobs did not answer within 200 ms` });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it.each([500, 502, 503, 408, 429])('throws a retryable error when the API answers %i', async (status) => {
    const api = await startApi(() => ({ status, body: '{"error":"busy"}' }));
    const logger = capturingLogger();
    const failure = createWorkHandler({ externalApiUrl: api.url, logger })(message(job), context());
    await expect(failure).rejects.toMatchObject({ name: 'ExternalApiError', reasonCode: `http-${status}`, retryable: true, status, message: expect.stringContaining(`answered ${status}: {"error":"busy"}`) });
    // Logged once, by the consumer (message_failed), not here too.
    expect(logger.lines).toEqual([]);
  });

  it.each([400, 401, 404, 422])('throws a permanent error, logged at error level, when the API answers %i', async (status) => {
    const api = await startApi(() => ({ status }));
    const logger = capturingLogger();
    const failure = createWorkHandler({ externalApiUrl: api.url, logger })(message(job), context());
    await expect(failure).rejects.toMatchObject({ name: 'ExternalApiError', reasonCode: `http-${status}`, retryable: false, message: expect.stringContaining('(permanent: the same request would fail again)') });
    expect(logger.lines).toEqual([expect.objectContaining({ level: 'error', event: 'work_rejected', fields: expect.objectContaining({ messageId: 'm-1', status }) })]);
  });

  it('does not follow a redirect (it would turn the POST into a GET): permanent', async () => {
    const api = await startApi(() => ({ status: 301, headers: { Location: '/elsewhere' } }));
    await expect(createWorkHandler({ externalApiUrl: api.url, logger: silentLogger })(message(job), context())).rejects.toMatchObject({ reasonCode: 'http-301', retryable: false });
    expect(api.calls.map((call) => call.path)).toEqual(['/v1/jobs']);
  });

  it('throws a retryable network error when nothing listens at the URL', async () => {
    const api = await startApi(() => ({ status: 200 }));
    await api.stop();
    await expect(createWorkHandler({ externalApiUrl: api.url, logger: silentLogger })(message(job), context())).rejects.toMatchObject({
      reasonCode: 'network',
      retryable: true,
      message: expect.stringContaining('ECONNREFUSED'),
    });
  });

  it('stops at once when its signal aborts (the worker stopping), with the signal\'s reason', async () => {
    const api = await startApi(() => 'hang');
    const controller = new AbortController();
    const reason = new Error('stop deadline');
    setTimeout(() => controller.abort(reason), 50);
    const started = Date.now();
    await expect(createWorkHandler({ externalApiUrl: api.url, timeoutMs: 10_000, logger: silentLogger })(message(job), context(controller.signal))).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('refuses a URL that is not https, except http to a loopback address', () => {
    expect(() => createWorkHandler({ externalApiUrl: 'http://api.example.com/jobs' })).toThrow('externalApiUrl must be an https URL; http is allowed only to a loopback address (given "http://api.example.com/jobs")');
    expect(() => createWorkHandler({ externalApiUrl: 'api.example.com' })).toThrow('externalApiUrl must be an absolute URL (given "api.example.com")');
    expect(() => createWorkHandler({ externalApiUrl: 'https://api.example.com/jobs' })).not.toThrow();
    expect(() => createWorkHandler({ externalApiUrl: 'http://localhost:9000/jobs' })).not.toThrow();
  });
});

describe('a job end to end: POST /jobs → work queue → worker → external API', () => {
  const workers = useLocalSqsWorkers();

  async function postJob(queueUrl: string, body: string): Promise<string> {
    const app = new WebApp({
      version: 'e2e',
      port: 0,
      host: '127.0.0.1',
      logger: silentLogger,
      workQueue: { sqs: workers.sqs.client, queueUrl },
      // Not used by POST /jobs.
      eventStream: { kinesis: new KinesisClient({ region: 'us-east-1' }), streamName: 'unused' },
    });
    const port = await app.start();
    try {
      const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/jobs', method: 'POST', agent: false, headers: { 'Content-Type': 'application/json' } }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (chunk: string) => {
            text += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on('error', reject);
        req.end(body);
      });
      expect(answer.status).toBe(202);
      return (JSON.parse(answer.text) as { messageId: string }).messageId;
    } finally {
      await app.stop({ deadlineMs: 100 });
    }
  }

  it('retries through the queue while the API fails, until it takes the job once', async () => {
    const { queueUrl, deadLetterQueueUrl } = await workers.sqs.createQueue({ maxReceiveCount: 5 });
    const api = await startApi((index) => (index < 2 ? { status: 503 } : { status: 200 }));
    const messageId = await postJob(queueUrl, job);
    const processor = workers.processor({ queueUrl, parse: parseWorkItem, handler: createWorkHandler({ externalApiUrl: api.url, logger: silentLogger }), failureBackoff: { initialSeconds: 0, maxSeconds: 0 } }).start();
    await waitUntil(() => processor.counters.processed === 1, 'the job is delivered');
    expect(api.calls.map((call) => [call.body, call.headers['idempotency-key']])).toEqual([[job, messageId], [job, messageId], [job, messageId]]);
    expect(processor.counters).toMatchObject({ processed: 1, failed: 2 });
    await waitUntil(async () => (await workers.sqs.depth(queueUrl)).inFlight === 0, 'the delivered job is deleted');
    expect(await workers.sqs.depth(queueUrl)).toEqual({ visible: 0, inFlight: 0 });
    expect(await workers.sqs.depth(deadLetterQueueUrl!)).toEqual({ visible: 0, inFlight: 0 });
  });

  it('leaves a job the API refuses (4xx) intact in the dead-letter queue after maxReceiveCount tries', async () => {
    const { queueUrl, deadLetterQueueUrl } = await workers.sqs.createQueue({ maxReceiveCount: 3 });
    const api = await startApi(() => ({ status: 422, body: '{"error":"unknown invoice"}' }));
    await postJob(queueUrl, job);
    workers.processor({ queueUrl, parse: parseWorkItem, handler: createWorkHandler({ externalApiUrl: api.url, logger: silentLogger }), failureBackoff: { initialSeconds: 0, maxSeconds: 0 } }).start();
    await waitUntil(async () => (await workers.sqs.depth(deadLetterQueueUrl!)).visible === 1, 'the refused job is in the DLQ');
    expect(api.calls).toHaveLength(3);
    expect((await workers.sqs.receiveAll(deadLetterQueueUrl!)).map((dead) => dead.Body)).toEqual([job]);
  });
});
