// The SQS behaviours the queue worker's tests rely on, checked against the stand-in they run on
// (local-aws-sqs with the helper's fidelity fixes).
import { setTimeout as sleep } from 'node:timers/promises';
import { ChangeMessageVisibilityCommand, DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalSqs, startLocalSqs } from '../../helpers/local-sqs.ts';

let sqs: LocalSqs;

beforeAll(async () => {
  sqs = await startLocalSqs();
});

afterAll(async () => {
  await sqs.stop();
});

async function receive(queueUrl: string, options: { max?: number; wait?: number; visibility?: number; signal?: AbortSignal } = {}) {
  const { Messages = [] } = await sqs.client.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: options.max ?? 10,
      WaitTimeSeconds: options.wait ?? 0,
      ...(options.visibility === undefined ? {} : { VisibilityTimeout: options.visibility }),
      MessageSystemAttributeNames: ['ApproximateReceiveCount', 'MessageGroupId'],
    }),
    options.signal ? { abortSignal: options.signal } : {},
  );
  return Messages;
}

describe('local-aws-sqs as the worker tests use it', () => {
  it('hides a received message for the visibility timeout, then redelivers it with a higher receive count', async () => {
    const { queueUrl } = await sqs.createQueue({ maxReceiveCount: 0 });
    await sqs.send(queueUrl, ['a']);

    const [first] = await receive(queueUrl, { visibility: 1 });
    expect(first?.Attributes?.ApproximateReceiveCount).toBe('1');
    expect(await receive(queueUrl)).toHaveLength(0);

    await sleep(1_100);
    const [second] = await receive(queueUrl, { wait: 1 });
    expect(second?.MessageId).toBe(first?.MessageId);
    expect(second?.Attributes?.ApproximateReceiveCount).toBe('2');
  });

  it('extends visibility with ChangeMessageVisibility without counting a receive (fixed in the helper)', async () => {
    const { queueUrl } = await sqs.createQueue({ maxReceiveCount: 2 });
    await sqs.send(queueUrl, ['a']);
    const [message] = await receive(queueUrl, { visibility: 1 });
    for (let extension = 0; extension < 3; extension++) {
      await sqs.client.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: message!.ReceiptHandle!, VisibilityTimeout: 1 }));
      await sleep(600);
      expect(await receive(queueUrl)).toHaveLength(0);
    }
    await sleep(500);
    const [again] = await receive(queueUrl, { wait: 1 });
    expect(again?.Attributes?.ApproximateReceiveCount).toBe('2');
  });

  it('moves a message to the dead-letter queue after maxReceiveCount receives', async () => {
    const { queueUrl, deadLetterQueueUrl } = await sqs.createQueue({ maxReceiveCount: 2 });
    await sqs.send(queueUrl, ['poison']);
    for (let attempt = 1; attempt <= 2; attempt++) {
      const [message] = await receive(queueUrl, { wait: 1 });
      expect(message?.Attributes?.ApproximateReceiveCount).toBe(String(attempt));
      await sqs.client.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: message!.ReceiptHandle!, VisibilityTimeout: 0 }));
      await sleep(20);
    }
    expect(await receive(queueUrl)).toHaveLength(0);
    const dead = await sqs.receiveAll(deadLetterQueueUrl!);
    expect(dead.map((message) => message.Body)).toEqual(['poison']);
  });

  it('answers a long poll as soon as a message arrives (fixed in the helper), and an empty one after the wait', async () => {
    const { queueUrl } = await sqs.createQueue({ maxReceiveCount: 0 });
    let started = Date.now();
    expect(await receive(queueUrl, { wait: 1 })).toHaveLength(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);

    started = Date.now();
    const polling = receive(queueUrl, { wait: 20 });
    await sleep(100);
    await sqs.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'late' }));
    expect((await polling).map((message) => message.Body)).toEqual(['late']);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('lets an aborted long poll take a message server-side, as SQS does (it comes back after the visibility timeout)', async () => {
    const { queueUrl } = await sqs.createQueue({ maxReceiveCount: 0 });
    const controller = new AbortController();
    const polling = receive(queueUrl, { wait: 2, visibility: 1, signal: controller.signal });
    await sleep(50);
    controller.abort();
    await expect(polling).rejects.toThrow();
    await sqs.send(queueUrl, ['swallowed']);
    await sleep(100);
    expect(await sqs.depth(queueUrl)).toEqual({ visible: 0, inFlight: 1 });
    const [back] = await receive(queueUrl, { wait: 2 });
    expect(back?.Body).toBe('swallowed');
  });

  it('keeps a FIFO group blocked while one of its messages is in flight (fixed in the helper), in order, other groups free', async () => {
    const { queueUrl } = await sqs.createQueue({ fifo: true, maxReceiveCount: 0 });
    await sqs.send(queueUrl, [
      { body: 'a1', groupId: 'a' },
      { body: 'a2', groupId: 'a' },
      { body: 'b1', groupId: 'b' },
    ]);
    const first = await receive(queueUrl, { max: 1 });
    expect(first.map((message) => message.Body)).toEqual(['a1']);
    expect(first[0]?.Attributes?.MessageGroupId).toBe('a');
    // a2 waits behind a1; b1 is free.
    expect((await receive(queueUrl)).map((message) => message.Body)).toEqual(['b1']);
    await sqs.client.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: first[0]!.ReceiptHandle!, VisibilityTimeout: 0 }));
    await sleep(20);
    // Several messages of one group may come in one receive, in order.
    const again = await receive(queueUrl);
    expect(again.map((message) => message.Body)).toEqual(['a1', 'a2']);
    await sqs.client.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: again[0]!.ReceiptHandle! }));
  });

  it('accepts a 1 MiB message and refuses a larger one', async () => {
    const { queueUrl } = await sqs.createQueue({ maxReceiveCount: 0 });
    const oneMiB = 'x'.repeat(1024 * 1024);
    await sqs.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: oneMiB }));
    await expect(sqs.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: `${oneMiB}x` }))).rejects.toThrow(/shorter than 1048576 bytes/);
    const [message] = await receive(queueUrl);
    expect(message?.Body).toHaveLength(1024 * 1024);
  });

  it('counts requests per action and answers injected faults in their place', async () => {
    const { queueUrl } = await sqs.createQueue({ maxReceiveCount: 0 });
    sqs.resetRequestCounts();
    sqs.injectFault('ReceiveMessage', 'throttling');
    await expect(receive(queueUrl)).rejects.toMatchObject({ name: 'ThrottlingException' });
    sqs.injectFault('ReceiveMessage', 'credentials');
    await expect(receive(queueUrl)).rejects.toMatchObject({ name: 'InvalidClientTokenId', $metadata: { httpStatusCode: 403 } });
    sqs.injectFault('ReceiveMessage', 'server-error');
    await expect(receive(queueUrl)).rejects.toMatchObject({ $metadata: { httpStatusCode: 500 } });
    sqs.injectFault('ReceiveMessage', 'connection-reset');
    await expect(receive(queueUrl)).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(await receive(queueUrl)).toHaveLength(0);
    expect(sqs.requestCounts()).toEqual({ ReceiveMessage: 5 });
  });
});
