// local-aws-sqs, started in-process on 127.0.0.1, with an SDK v3 client pointed at it.
//
// The emulator departs from SQS in ways that the queue worker's tests would trip over, so the helper
// loads a copy of it with five fidelity fixes (each checked against the pinned 2.0.2 source and named
// in FIDELITY_FIXES below). It also counts requests per API action (for "API calls per message") and
// can inject faults (throttling, bad credentials, server errors, dropped connections) in front of it.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { compileFunction } from 'node:vm';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';

/** The SQS API actions, as the request counter names them. */
export type SqsAction =
  | 'ReceiveMessage'
  | 'DeleteMessage'
  | 'DeleteMessageBatch'
  | 'ChangeMessageVisibility'
  | 'ChangeMessageVisibilityBatch'
  | 'SendMessage'
  | 'SendMessageBatch'
  | 'GetQueueAttributes'
  | (string & {});

export type SqsFault = 'throttling' | 'credentials' | 'server-error' | 'connection-reset';

export interface LocalQueueOptions {
  /** @default a fresh `queue-<n>` (with `.fifo` for FIFO queues) */
  readonly name?: string;
  /** @default false */
  readonly fifo?: boolean;
  /** The queue's default visibility timeout. @default 30 seconds */
  readonly visibilityTimeoutSeconds?: number;
  /**
   * Receives before SQS moves a message to the dead-letter queue; 0 creates no dead-letter queue.
   * @default 3
   */
  readonly maxReceiveCount?: number;
}

export interface LocalQueue {
  readonly queueUrl: string;
  readonly queueArn: string;
  /** @default - undefined when maxReceiveCount is 0 */
  readonly deadLetterQueueUrl?: string;
}

/** One message to send: a body, or a body with its FIFO group (and deduplication id, default a fresh one). */
export type OutgoingMessage = string | { readonly body: string; readonly groupId?: string; readonly deduplicationId?: string };

export interface QueueDepth {
  /** Messages that a receive could return now. */
  readonly visible: number;
  /** Messages received and not yet deleted or visible again. */
  readonly inFlight: number;
}

export interface LocalSqs {
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  /** Pointed at the emulator, fake credentials, us-east-1, no SDK retries (the worker does its own). */
  readonly client: SQSClient;
  createQueue(options?: LocalQueueOptions): Promise<LocalQueue>;
  /** Sends in batches of 10; resolves with the message ids in order. */
  send(queueUrl: string, messages: readonly OutgoingMessage[]): Promise<string[]>;
  /** Receives until the queue has nothing visible left (deleting nothing); for looking into a dead-letter queue. */
  receiveAll(queueUrl: string, options?: { readonly visibilityTimeoutSeconds?: number }): Promise<Message[]>;
  depth(queueUrl: string): Promise<QueueDepth>;
  /** Requests per action since start (or the last reset), counted as they reach the emulator; actions never called are absent. */
  requestCounts(): Readonly<Partial<Record<SqsAction, number>>>;
  resetRequestCounts(): void;
  /** Answers the next `times` requests of `action` with `fault` instead of passing them on. */
  injectFault(action: SqsAction, fault: SqsFault, times?: number): void;
  /** Drops every fault not yet used. */
  clearFaults(): void;
  /** Closes the server and the client; safe to call twice. The server never keeps the process alive. */
  stop(): Promise<void>;
}

// The parts of local-aws-sqs's (untyped) internals the helper touches.
interface EmulatorService {
  PORT: number;
}
interface EmulatorModule {
  createRequestHandler(options: Record<string, unknown>): { service: EmulatorService; requestHandler: RequestListener };
}

/**
 * Where local-aws-sqs 2.0.2 departs from SQS in ways the worker's tests depend on, and the fix applied
 * to the loaded copy. Each `find` must occur exactly once, so an upgraded emulator fails loudly here.
 */
const FIDELITY_FIXES: readonly { readonly why: string; readonly find: string; readonly replace: string }[] = [
  {
    why: 'ChangeMessageVisibility counted as a receive (ApproximateReceiveCount + 1), so heartbeats pushed healthy messages to the DLQ',
    find: 'let n=Number(t.record.attributes.ApproximateReceiveCount)+1;t.record.attributes.ApproximateReceiveCount=String(n),n==1&&',
    replace: 'let n=Number(t.record.attributes.ApproximateReceiveCount)+(i?0:1);t.record.attributes.ApproximateReceiveCount=String(n),!i&&n==1&&',
  },
  {
    why: 'a long poll returned only when MaxNumberOfMessages were found or the wait ended; SQS returns as soon as any message is available',
    find: 'if(r.length==e){clearInterval(c),clearTimeout(n),o();break}}},10)',
    replace: 'if(r.length==e)break}r.length&&(clearInterval(c),clearTimeout(n),o())},10)',
  },
  {
    why: 'FIFO queues delivered later messages of a group while an earlier one was in flight; SQS blocks the group until it is deleted or visible again',
    find: 'if(y.visible){l(this,D,Wt).call(this,y,i);',
    replace:
      'if(y.visible&&!(this.FifoQueue&&S(this,E).some(q1=>!q1.visible&&q1.record.attributes.MessageGroupId==y.record.attributes.MessageGroupId&&!r.some(q2=>q2.record.MessageId==q1.record.MessageId)))){l(this,D,Wt).call(this,y,i);',
  },
  {
    why: 'ReceiveMessage ignored MessageSystemAttributeNames (it read only the deprecated AttributeNames)',
    find: 'AttributeNames:n,MessageAttributeNames:o}=this.body',
    replace: 'AttributeNames:n=this.body.MessageSystemAttributeNames,MessageAttributeNames:o}=this.body',
  },
  {
    why: 'ApproximateNumberOfMessages counted in-flight messages too; SQS counts only those available for retrieval',
    find: 'ApproximateNumberOfMessages:String(S(this,E).filter(o=>!o.delayed).length)',
    replace: 'ApproximateNumberOfMessages:String(S(this,E).filter(o=>!o.delayed&&o.visible).length)',
  },
];

let emulator: EmulatorModule | undefined;

/** Loads local-aws-sqs with the fidelity fixes applied (once per process). */
function loadEmulator(): EmulatorModule {
  if (emulator) return emulator;
  const require = createRequire(import.meta.url);
  const filename = require.resolve('local-aws-sqs');
  let source = readFileSync(filename, 'utf8');
  for (const fix of FIDELITY_FIXES) {
    const occurrences = source.split(fix.find).length - 1;
    if (occurrences !== 1) {
      throw new Error(`local-aws-sqs changed: the fix "${fix.why}" expects its code once, found it ${occurrences} times; re-check test/helpers/local-sqs.ts against the new version`);
    }
    source = source.replace(fix.find, () => fix.replace);
  }
  const module = { exports: {} as EmulatorModule };
  const wrapper = compileFunction(source, ['exports', 'require', 'module', '__filename', '__dirname'], { filename });
  wrapper(module.exports, createRequire(filename), module, filename, dirname(filename));
  emulator = module.exports;
  return emulator;
}

const FAULT_RESPONSES: Record<Exclude<SqsFault, 'connection-reset'>, { status: number; code: string; type: string; message: string }> = {
  throttling: { status: 400, code: 'ThrottlingException', type: 'com.amazon.coral.availability#ThrottlingException', message: 'Rate exceeded' },
  credentials: {
    status: 403,
    code: 'InvalidClientTokenId',
    type: 'com.amazon.coral.service#InvalidClientTokenId',
    message: 'The security token included in the request is invalid.',
  },
  'server-error': { status: 500, code: 'InternalError', type: 'com.amazon.coral.service#InternalError', message: 'We encountered an internal error. Please try again.' },
};

function actionOf(request: IncomingMessage): string {
  const target = request.headers['x-amz-target'];
  if (typeof target === 'string') return target.slice(target.indexOf('.') + 1);
  return new URL(request.url ?? '/', 'http://localhost').searchParams.get('Action') ?? 'Unknown';
}

function respondWithFault(request: IncomingMessage, response: ServerResponse, fault: SqsFault): void {
  if (fault === 'connection-reset') {
    request.socket.destroy();
    return;
  }
  const { status, code, type, message } = FAULT_RESPONSES[fault];
  // Drain the request first so the client sees a response, not a reset.
  request.resume();
  request.on('end', () => {
    response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-query-error': `${code};Sender` });
    response.end(JSON.stringify({ __type: type, message }));
  });
}

/** Starts local-aws-sqs on 127.0.0.1 (a free port) with an SDK v3 client pointed at it. */
export async function startLocalSqs(): Promise<LocalSqs> {
  const { service, requestHandler } = loadEmulator().createRequestHandler({
    port: 0,
    hostname: '127.0.0.1',
    // Tests create fresh names; the 60 s wait after a delete would only get in the way.
    emulateQueueCreationLifecycle: false,
  });

  const counts: Record<string, number> = {};
  const faults: { action: string; fault: SqsFault; remaining: number }[] = [];
  const server = createServer((request, response) => {
    const action = actionOf(request);
    counts[action] = (counts[action] ?? 0) + 1;
    const fault = faults.find((entry) => entry.action === action && entry.remaining > 0);
    if (fault) {
      fault.remaining -= 1;
      respondWithFault(request, response, fault.fault);
      return;
    }
    requestHandler(request, response);
  });
  server.unref();
  // Every accepted socket is unref'd too: a forgotten stop() must not hold the test process open.
  server.on('connection', (socket) => socket.unref());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  service.PORT = port;
  const endpoint = `http://127.0.0.1:${port}`;

  const client = new SQSClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });

  let queues = 0;
  let stopped = false;

  async function createQueue(options: LocalQueueOptions = {}): Promise<LocalQueue> {
    const fifo = options.fifo ?? false;
    const suffix = fifo ? '.fifo' : '';
    const name = options.name ?? `queue-${++queues}${suffix}`;
    const maxReceiveCount = options.maxReceiveCount ?? 3;
    const fifoAttributes: Record<string, string> = fifo ? { FifoQueue: 'true' } : {};
    const attributes: Record<string, string> = {
      ...fifoAttributes,
      VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? 30),
    };

    let deadLetterQueueUrl: string | undefined;
    if (maxReceiveCount > 0) {
      const deadLetterName = `${name.replace(/\.fifo$/, '')}-dlq${suffix}`;
      ({ QueueUrl: deadLetterQueueUrl } = await client.send(new CreateQueueCommand({ QueueName: deadLetterName, Attributes: fifoAttributes })));
      const deadLetterArn = await queueArnOf(deadLetterQueueUrl!);
      attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: deadLetterArn, maxReceiveCount });
    }
    const { QueueUrl: queueUrl } = await client.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    return { queueUrl: queueUrl!, queueArn: await queueArnOf(queueUrl!), ...(deadLetterQueueUrl ? { deadLetterQueueUrl } : {}) };
  }

  async function queueArnOf(queueUrl: string): Promise<string> {
    const { Attributes } = await client.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
    return Attributes!.QueueArn!;
  }

  async function send(queueUrl: string, messages: readonly OutgoingMessage[]): Promise<string[]> {
    const ids: string[] = [];
    for (let start = 0; start < messages.length; start += 10) {
      const chunk = messages.slice(start, start + 10);
      const { Successful = [], Failed = [] } = await client.send(new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: chunk.map((message, index) => {
          const entry = typeof message === 'string' ? { body: message } : message;
          return {
            Id: String(index),
            MessageBody: entry.body,
            ...(entry.groupId ? { MessageGroupId: entry.groupId, MessageDeduplicationId: entry.deduplicationId ?? `${start + index}-${Math.random()}` } : {}),
          };
        }),
      }));
      if (Failed.length > 0) throw new Error(`SendMessageBatch failed for ${Failed.map((entry) => `${entry.Id}: ${entry.Code} ${entry.Message}`).join('; ')}`);
      ids.push(...Successful.sort((a, b) => Number(a.Id) - Number(b.Id)).map((entry) => entry.MessageId!));
    }
    return ids;
  }

  async function receiveAll(queueUrl: string, options: { readonly visibilityTimeoutSeconds?: number } = {}): Promise<Message[]> {
    const received: Message[] = [];
    for (;;) {
      const { Messages = [] } = await client.send(new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        VisibilityTimeout: options.visibilityTimeoutSeconds ?? 60,
        MessageSystemAttributeNames: ['All'],
      }));
      if (Messages.length === 0) return received;
      received.push(...Messages);
    }
  }

  async function depth(queueUrl: string): Promise<QueueDepth> {
    const { Attributes = {} } = await client.send(new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }));
    return { visible: Number(Attributes.ApproximateNumberOfMessages ?? 0), inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) };
  }

  return {
    endpoint,
    client,
    createQueue,
    send,
    receiveAll,
    depth,
    requestCounts: () => ({ ...counts }),
    resetRequestCounts() {
      for (const action of Object.keys(counts)) delete counts[action];
    },
    injectFault(action, fault, times = 1) {
      faults.push({ action, fault, remaining: times });
    },
    clearFaults() {
      faults.length = 0;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      client.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
