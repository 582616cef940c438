import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { SendMessageBatchCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { EmbeddedMetrics } from '../embedded-metrics.ts';
import { appFlags } from './flags.ts';
import type { Logger } from '../json-logger.ts';
import { UNMATCHED_ROUTE } from '../metric-contract.ts';
import { readJsonBody } from './json-request-body.ts';
import { RequestMetrics } from './request-metrics.ts';
import { type StreamEvent, streamEventProblems } from './stream-event.ts';
import { workItemProblems } from './work-item.ts';

/** Where `POST /jobs` enqueues: the work queue (SendMessage). */
export interface WorkQueueProducer {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
}

/** Where `POST /events` puts records: the event stream (PutRecord). */
export interface EventStreamProducer {
  readonly kinesis: KinesisClient;
  readonly streamName: string;
}

/** Decides a feature flag for one user without I/O; the flags client (lib/runtime/flags) is one. */
export interface FeatureFlagCheck {
  isEnabled(flag: string, context: { readonly userId: string }): boolean;
}

/** The flag that lets `POST /jobs` take an array of work items (lib/runtime/app/flags.ts). */
export const BATCH_SUBMIT_FLAG = 'jobs-batch-submit';
/** SendMessageBatch takes at most 10 entries. */
export const MAX_BATCH_ITEMS = 10;
/** Who a request is for, as far as a rollout goes; requests without it count as one user, "anonymous". */
export const USER_ID_HEADER = 'x-user-id';

export interface WebAppOptions {
  /** The release this process runs; `/health` and `/version` report it and the release verifies it. */
  readonly version: string;
  /** @default 8080 (0 picks a free port) */
  readonly port?: number;
  /** @default '0.0.0.0' (behind the ALB); tests pass '127.0.0.1' */
  readonly host?: string;
  /** @default '/health' */
  readonly healthPath?: string;
  readonly logger: Logger;
  readonly workQueue: WorkQueueProducer;
  readonly eventStream: EventStreamProducer;
  /**
   * How long one SendMessage or PutRecord may take, SDK retries included, before the request is
   * answered 503. Well under the ALB's 60-second idle timeout, so the client hears it from the app.
   * @default 10000
   */
  readonly producerTimeoutMs?: number;
  /**
   * Feature flags, decided per request for the user in the x-user-id header.
   * @default - every flag answers its code default from the flag file
   */
  readonly flags?: FeatureFlagCheck;
  /**
   * Requests and Latency per route and status class, JobsAccepted per 202 from POST /jobs. The app
   * starts its flush timer with start() and writes what is left in stop(). Health checks are not
   * counted: they are the load balancer's, not a client's, would outnumber a quiet service's real
   * requests, and turn 503 on purpose while a release stops the instance.
   * @default - no metrics
   */
  readonly metrics?: EmbeddedMetrics;
}

/**
 * SQS's message limit (1 MiB), which is also a Kinesis record's default limit (data and partition
 * key together). A larger body is refused with 413 while it is being read.
 */
export const MAX_BODY_BYTES = 1_048_576;

/** What a 503 tells the client to wait before trying again. */
const RETRY_AFTER_SECONDS = 5;

/** Characters SQS refuses in a message body that valid JSON can still hold unescaped. */
const NOT_ALLOWED_IN_SQS = /[\uFFFE\uFFFF]/;

interface Route {
  readonly method: string;
  readonly handle: (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;
}

/**
 * The web app behind the ALB: `POST /jobs` enqueues a job on the work queue, `POST /events` puts an
 * event on the stream, `GET /version` reports the release. Under them the platform's part: a health
 * check that reports the version and turns 503 the moment the process starts stopping, and a
 * graceful stop that lets the requests in flight finish (a POST whose body is still arriving
 * included). Every route is stateless, so any instance answers while a release drains the others.
 */
export class WebApp {
  private readonly options: WebAppOptions;
  private readonly server: Server;
  private readonly routes: Readonly<Record<string, Route>>;
  private readonly requestMetrics?: RequestMetrics;
  private stopping?: Promise<void>;

  constructor(options: WebAppOptions) {
    this.options = options;
    if (options.metrics) this.requestMetrics = new RequestMetrics(options.metrics);
    this.routes = {
      '/': { method: 'GET', handle: (_request, response) => this.json(response, 200, { service: 'sluice', version: options.version }) },
      '/version': { method: 'GET', handle: (_request, response) => this.json(response, 200, { version: options.version }) },
      '/jobs': { method: 'POST', handle: (request, response) => this.postJob(request, response) },
      '/events': { method: 'POST', handle: (request, response) => this.postEvent(request, response) },
    };
    this.server = createServer((request, response) => this.handle(request, response));
    // Longer than the ALB's idle timeout (60 s), so the ALB, not the app, closes idle connections.
    this.server.keepAliveTimeout = 65_000;
  }

  /** Resolves with the port once listening. */
  async start(): Promise<number> {
    const { port = 8080, host = '0.0.0.0' } = this.options;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    const { port: bound } = this.server.address() as AddressInfo;
    this.options.metrics?.start();
    this.options.logger.log('info', 'web.started', { version: this.options.version, port: bound });
    return bound;
  }

  /**
   * Health turns 503, new connections are refused, idle ones closed; requests in flight finish
   * until `deadlineMs`, then their connections are closed. Safe to call twice.
   */
  stop({ deadlineMs = 25_000 }: { deadlineMs?: number } = {}): Promise<void> {
    this.stopping ??= new Promise<void>((resolve) => {
      this.options.logger.log('info', 'web.stopping', { version: this.options.version, deadlineMs });
      const deadline = setTimeout(() => this.server.closeAllConnections(), deadlineMs);
      deadline.unref();
      this.server.close(() => {
        clearTimeout(deadline);
        this.options.logger.log('info', 'web.stopped', { version: this.options.version });
        // The last requests' metrics go out before the process exits.
        void (this.options.metrics?.stop() ?? Promise.resolve()).then(resolve);
      });
      this.server.closeIdleConnections();
    });
    return this.stopping;
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    // Every response sent while stopping closes its connection, so the client reconnects elsewhere.
    if (this.stopping) response.setHeader('Connection', 'close');
    const path = (request.url ?? '/').split('?')[0];
    if (path === (this.options.healthPath ?? '/health')) {
      const status = this.stopping ? 'stopping' : 'ok';
      this.json(response, this.stopping ? 503 : 200, { status, version: this.options.version });
      return;
    }
    const route = Object.hasOwn(this.routes, path) ? this.routes[path] : undefined;
    this.measure(response, route === undefined ? UNMATCHED_ROUTE : path);
    if (route === undefined) {
      this.json(response, 404, { error: `no route ${path}` });
      return;
    }
    if (request.method !== route.method) {
      this.json(response, 405, { error: `${path} answers ${route.method} only` }, { Allow: route.method });
      return;
    }
    Promise.resolve(route.handle(request, response)).catch((error: unknown) => {
      this.options.logger.log('error', 'web.route_failed', { path, error });
      if (!response.headersSent) this.json(response, 500, { error: 'internal error' });
    });
  }

  /** Records the response once it is sent: its route pattern (a bounded value, never a raw path), status class and latency. */
  private measure(response: ServerResponse, route: string): void {
    if (!this.requestMetrics) return;
    const startedAt = performance.now();
    response.once('finish', () => this.requestMetrics!.answered(route, response.statusCode, performance.now() - startedAt));
  }

  // --- POST /jobs: the guaranteed-delivery path ----------------------------------------------

  /**
   * 202 only once SQS has the job; any failure to enqueue is a 503, never a 202 for a lost job. With
   * the flag jobs-batch-submit on for the caller, an array of 1–10 jobs is enqueued in one
   * SendMessageBatch.
   */
  private async postJob(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await this.readBody(request, response, (value) => (Array.isArray(value) ? [] : workItemProblems(value)));
    if (body === undefined) return;
    if (Array.isArray(body.value)) {
      await this.postJobs(request, response, body.value);
      return;
    }
    if (NOT_ALLOWED_IN_SQS.test(body.text)) {
      this.refuse(response, '/jobs', 400, 'the body holds U+FFFE or U+FFFF, which SQS does not accept: write them as \\uFFFE or \\uFFFF');
      return;
    }
    try {
      // The body exactly as sent: the worker parses what the client wrote.
      const { MessageId } = await this.options.workQueue.sqs.send(
        new SendMessageCommand({ QueueUrl: this.options.workQueue.queueUrl, MessageBody: body.text }),
        { abortSignal: AbortSignal.timeout(this.options.producerTimeoutMs ?? 10_000) },
      );
      this.options.logger.log('info', 'job_enqueued', { messageId: MessageId, type: (body.value as { type: string }).type, bytes: Buffer.byteLength(body.text) });
      this.json(response, 202, { messageId: MessageId });
      this.requestMetrics?.jobAccepted();
    } catch (error) {
      this.unavailable(response, 'the work queue', error);
    }
  }

  /** The array form: refused unless the flag is on for this user; each job checked as a single one would be. */
  private async postJobs(request: IncomingMessage, response: ServerResponse, items: readonly unknown[]): Promise<void> {
    const header = request.headers[USER_ID_HEADER];
    const userId = (Array.isArray(header) ? header[0] : header) || 'anonymous';
    if (!this.flagEnabled(BATCH_SUBMIT_FLAG, userId)) {
      // Phrased as a single job's refusal first: for this user the array form does not exist (yet).
      const problems = workItemProblems(items);
      this.refuse(response, '/jobs', 400, `${problems[0]}: an array of jobs needs the feature flag ${BATCH_SUBMIT_FLAG}, which is off for user "${userId}"; send one job per request`, { problems });
      return;
    }
    const bodies = items.map((item) => JSON.stringify(item));
    const problems = [
      ...(items.length < 1 || items.length > MAX_BATCH_ITEMS ? [`the array must hold 1 to ${MAX_BATCH_ITEMS} jobs, SendMessageBatch's limit (given ${items.length})`] : []),
      ...items.flatMap((item, index) => workItemProblems(item).map((problem) => `[${index}]: ${problem}`)),
      ...bodies.flatMap((text, index) => (NOT_ALLOWED_IN_SQS.test(text) ? [`[${index}]: holds U+FFFE or U+FFFF, which SQS does not accept`] : [])),
    ];
    if (problems.length > 0) {
      this.refuse(response, '/jobs', 400, problems.join('; '), { problems });
      return;
    }
    try {
      const { Successful = [], Failed = [] } = await this.options.workQueue.sqs.send(
        new SendMessageBatchCommand({ QueueUrl: this.options.workQueue.queueUrl, Entries: bodies.map((text, index) => ({ Id: String(index), MessageBody: text })) }),
        { abortSignal: AbortSignal.timeout(this.options.producerTimeoutMs ?? 10_000) },
      );
      const messageIds = bodies.map((_text, index) => Successful.find((entry) => entry.Id === String(index))?.MessageId);
      this.options.logger.log('info', 'jobs_enqueued', { count: Successful.length, failed: Failed.length, userId });
      if (Failed.length === 0) {
        this.json(response, 202, { messageIds });
        return;
      }
      // Some are on the queue and some not: say which, so that the client resends only the failed ones.
      this.json(
        response,
        503,
        {
          error: `${Failed.length} of ${bodies.length} jobs were not enqueued; resend only those (failed) in ${RETRY_AFTER_SECONDS} seconds`,
          messageIds,
          failed: Failed.map((entry) => ({ index: Number(entry.Id), code: entry.Code })),
          retryAfterSeconds: RETRY_AFTER_SECONDS,
        },
        { 'Retry-After': String(RETRY_AFTER_SECONDS) },
      );
    } catch (error) {
      this.unavailable(response, 'the work queue', error);
    }
  }

  /** A flag check never fails a request: a throwing check counts as the flag's code default. */
  private flagEnabled(flag: string, userId: string): boolean {
    const fallback = appFlags.find((definition) => definition.name === flag)?.default ?? false;
    try {
      return this.options.flags ? this.options.flags.isEnabled(flag, { userId }) : fallback;
    } catch (error) {
      this.options.logger.log('error', 'web.flag_check_failed', { flag, error });
      return fallback;
    }
  }

  // --- POST /events: onto the replayable log -------------------------------------------------

  private async postEvent(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await this.readBody(request, response, streamEventProblems);
    if (body === undefined) return;
    const { key } = body.value as StreamEvent;
    const data = Buffer.from(body.text, 'utf8');
    const recordBytes = data.length + Buffer.byteLength(key);
    if (recordBytes > MAX_BODY_BYTES) {
      this.refuse(response, '/events', 413, `the body and its key together must be at most ${MAX_BODY_BYTES} bytes, Kinesis's record limit (given ${recordBytes})`);
      return;
    }
    try {
      const { SequenceNumber, ShardId } = await this.options.eventStream.kinesis.send(
        new PutRecordCommand({ StreamName: this.options.eventStream.streamName, PartitionKey: key, Data: data }),
        { abortSignal: AbortSignal.timeout(this.options.producerTimeoutMs ?? 10_000) },
      );
      this.options.logger.log('info', 'event_put', { shardId: ShardId, sequenceNumber: SequenceNumber, bytes: data.length });
      this.json(response, 202, { sequenceNumber: SequenceNumber, shardId: ShardId });
    } catch (error) {
      this.unavailable(response, 'the event stream', error);
    }
  }

  /**
   * The body parsed and checked against a schema; undefined once a refusal (400, 413, 415) has been
   * answered, or when the client went away before sending all of it.
   */
  private async readBody(request: IncomingMessage, response: ServerResponse, problemsOf: (value: unknown) => string[]): Promise<{ text: string; value: unknown } | undefined> {
    const path = (request.url ?? '/').split('?')[0];
    const body = await readJsonBody(request, MAX_BODY_BYTES);
    if (!body.ok) {
      if (body.status !== 'aborted') this.refuse(response, path, body.status, body.error);
      return undefined;
    }
    const problems = problemsOf(body.value);
    if (problems.length > 0) {
      this.refuse(response, path, 400, problems.join('; '), { problems });
      return undefined;
    }
    return body;
  }

  private refuse(response: ServerResponse, path: string, status: 400 | 413 | 415, error: string, extra: Record<string, unknown> = {}): void {
    this.options.logger.log('info', 'web.refused', { path, status, error });
    // A refused body may still be arriving: closing the connection discards it rather than reading it.
    const headers = status === 413 ? { Connection: 'close' } : {};
    this.json(response, status, { error, ...extra }, headers);
  }

  /** A producer call that failed or timed out: the client is told to retry, nothing was promised. */
  private unavailable(response: ServerResponse, what: string, error: unknown): void {
    const code = error instanceof Error ? error.name : 'Error';
    this.options.logger.log('error', 'web.producer_failed', { target: what, error });
    this.json(
      response,
      503,
      { error: `${what} did not accept the request (${code}); retry in ${RETRY_AFTER_SECONDS} seconds`, retryAfterSeconds: RETRY_AFTER_SECONDS },
      { 'Retry-After': String(RETRY_AFTER_SECONDS) },
    );
  }

  private json(response: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders = {}): void {
    response.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers });
    response.end(JSON.stringify(body));
  }
}
