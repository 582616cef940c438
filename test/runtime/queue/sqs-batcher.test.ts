// The batcher on its own, with a scripted SQS: when batches go out, and what happens to each entry
// when SQS fails a call, or some of its entries.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../../lib/runtime/clock.ts';
import { BatchEntryRejectedError, SqsCallError } from '../../../lib/runtime/queue/errors.ts';
import { type BatchRequestEntry, type BatchResponse, SqsBatcher } from '../../../lib/runtime/queue/sqs-batcher.ts';

type Script = (entries: readonly BatchRequestEntry[], call: number) => BatchResponse | Error;

function scripted(script: Script, options: { flushDelayMs?: number; attempts?: number } = {}) {
  const calls: string[][] = [];
  const callErrors: Error[] = [];
  const batcher = new SqsBatcher({
    operation: 'DeleteMessageBatch',
    flushDelayMs: options.flushDelayMs ?? 20,
    attempts: options.attempts ?? 3,
    retryBackoff: { initial: 1, max: 5 },
    onCallError: (error) => callErrors.push(error),
    clock: systemClock,
    send: async (entries) => {
      calls.push(entries.map((entry) => entry.messageId));
      const answer = script(entries, calls.length);
      if (answer instanceof Error) throw answer;
      return answer;
    },
  });
  return { batcher, calls, callErrors };
}

const allSucceed: Script = (entries) => ({ Successful: entries.map(({ Id }) => ({ Id })) });

function entry(messageId: string) {
  return { messageId, receiptHandle: `handle-${messageId}` };
}

function throttled(): Error {
  return Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
}

describe('SqsBatcher', () => {
  it('sends a full batch of 10 at once and the rest after the delay', async () => {
    const { batcher, calls } = scripted(allSucceed, { flushDelayMs: 50 });
    const outcomes = Array.from({ length: 13 }, (_, index) => batcher.add(entry(`m${index}`)));
    await Promise.resolve();
    expect(calls.map((call) => call.length)).toEqual([10]);

    expect(await Promise.all(outcomes)).toEqual(Array.from({ length: 13 }, () => ({ ok: true })));
    expect(calls.map((call) => call.length)).toEqual([10, 3]);
  });

  it('retries only the entries SQS failed on its side, and reports those it refused', async () => {
    const { batcher, calls } = scripted((entries, call) => {
      if (call > 1) return allSucceed(entries, call);
      return {
        Successful: [{ Id: '0' }],
        Failed: [
          { Id: '1', Code: 'InternalError', SenderFault: false, Message: 'try again' },
          { Id: '2', Code: 'ReceiptHandleIsInvalid', SenderFault: true, Message: 'expired' },
        ],
      };
    });
    const [first, second, third] = [batcher.add(entry('a')), batcher.add(entry('b')), batcher.add(entry('c'))];
    await batcher.drain();

    expect(await first).toEqual({ ok: true });
    expect(await second).toEqual({ ok: true });
    const refused = await third;
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.error).toBeInstanceOf(BatchEntryRejectedError);
    expect(!refused.ok && refused.error.message).toBe('SQS DeleteMessageBatch refused message c: ReceiptHandleIsInvalid: expired');
    expect(calls).toEqual([['a', 'b', 'c'], ['b']]);
  });

  it('retries a whole call that was throttled, and gives up after its attempts', async () => {
    const retried = scripted((entries, call) => (call === 1 ? throttled() : allSucceed(entries, call)));
    const outcome = retried.batcher.add(entry('a'));
    await retried.batcher.drain();
    expect(await outcome).toEqual({ ok: true });
    expect(retried.callErrors).toHaveLength(1);

    const exhausted = scripted(() => throttled(), { attempts: 2 });
    const failed = exhausted.batcher.add(entry('a'));
    await exhausted.batcher.drain();
    const result = await failed;
    expect(!result.ok && result.error).toBeInstanceOf(SqsCallError);
    expect(!result.ok && result.error.message).toBe('SQS DeleteMessageBatch failed after 2 attempts: ThrottlingException: Rate exceeded');
    expect(exhausted.calls).toHaveLength(2);
  });

  it('sends one entry per receipt handle: a later action on the same message replaces the queued one', async () => {
    const { batcher, calls } = scripted(allSucceed);
    const first = batcher.add({ ...entry('a'), visibilityTimeout: 60 });
    const second = batcher.add({ ...entry('a'), visibilityTimeout: 0 });
    await batcher.drain();
    expect(await first).toEqual({ ok: true });
    expect(await second).toEqual({ ok: true });
    expect(calls).toEqual([['a']]);
  });

  it('settles every entry exactly once, with the outcome SQS answered for it, whatever SQS answers', async () => {
    const attempts = 3;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 25 }),
        fc.array(fc.constantFrom('ok', 'server', 'sender', 'throw', 'silent'), { minLength: 1, maxLength: 60 }),
        async (count, answers) => {
          let next = 0;
          const answer = () => answers[next++ % answers.length]!;
          // Per message, what SQS answered each time it was sent: the whole call throttled, or its own entry's fate.
          const answered = new Map<string, ('ok' | 'server' | 'sender' | 'silent' | 'throttled')[]>();
          const log = (messageId: string, kind: 'ok' | 'server' | 'sender' | 'silent' | 'throttled') => answered.set(messageId, [...(answered.get(messageId) ?? []), kind]);
          const { batcher } = scripted(
            (entries) => {
              if (answer() === 'throw') {
                for (const { messageId } of entries) log(messageId, 'throttled');
                return throttled();
              }
              const response: { Successful: { Id: string }[]; Failed: { Id: string; Code: string; SenderFault: boolean }[] } = { Successful: [], Failed: [] };
              for (const { Id, messageId } of entries) {
                const kind = answer();
                if (kind === 'ok' || kind === 'throw') response.Successful.push({ Id });
                else if (kind !== 'silent') response.Failed.push({ Id, Code: kind === 'server' ? 'InternalError' : 'ReceiptHandleIsInvalid', SenderFault: kind === 'sender' });
                log(messageId, kind === 'throw' ? 'ok' : kind);
              }
              return response;
            },
            { flushDelayMs: 0, attempts },
          );
          let settled = 0;
          const outcomes = Array.from({ length: count }, (_, index) => batcher.add(entry(`m${index}`)).then((outcome) => {
            settled += 1;
            return outcome;
          }));
          await batcher.drain();
          const results = await Promise.all(outcomes);
          expect(settled).toBe(count);
          expect(batcher.size).toBe(0);

          results.forEach((outcome, index) => {
            const history = answered.get(`m${index}`) ?? [];
            // Done or refused ends an entry at once; SQS's own failures, silence and throttling are retried until the attempts run out.
            const final = history.findIndex((kind) => kind === 'ok' || kind === 'sender');
            expect(history).toHaveLength(final < 0 ? attempts : final + 1);
            const last = history.at(-1);
            const expected = {
              ok: 'ok',
              sender: 'BatchEntryRejectedError ReceiptHandleIsInvalid',
              server: 'BatchEntryRejectedError InternalError',
              silent: 'BatchEntryRejectedError MissingFromResponse',
              throttled: 'SqsCallError ThrottlingException',
            }[last!];
            expect(outcome.ok ? 'ok' : `${outcome.error.name} ${(outcome.error as BatchEntryRejectedError | SqsCallError).reasonCode}`).toBe(expected);
          });
        },
      ),
      { numRuns: 60 },
    );
  });
});
