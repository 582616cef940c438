import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalSqs, startLocalSqs } from '../../helpers/local-sqs.ts';
import { projectRoot } from '../../helpers/run-cdk.ts';

// A real worker child process, stopped the way a release (systemd) stops it, and killed outright.

let sqs: LocalSqs;
const children: ChildProcess[] = [];
beforeAll(async () => {
  sqs = await startLocalSqs();
});
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await sqs.stop();
});

function startWorker(queueUrl: string, record: string, options: { handlerMs: number; concurrency: number; stopDeadlineMs?: number }): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/test-worker.ts'], {
    cwd: projectRoot,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      ...process.env,
      QUEUE_URL: queueUrl,
      SQS_ENDPOINT: sqs.endpoint,
      RECORD_FILE: record,
      HANDLER_MS: String(options.handlerMs),
      CONCURRENCY: String(options.concurrency),
      STOP_DEADLINE_MS: String(options.stopDeadlineMs ?? 10_000),
    },
  });
  children.push(child);
  return child;
}

interface Record {
  readonly started: Map<string, number[]>;
  readonly done: Map<string, number[]>;
}

function readRecord(path: string): Record {
  const started = new Map<string, number[]>();
  const done = new Map<string, number[]>();
  for (const line of readFileSync(path, 'utf8').split('\n').filter(Boolean)) {
    const [event, body, at] = line.split(' ');
    const map = event === 'start' ? started : done;
    map.set(body, [...(map.get(body) ?? []), Number(at)]);
  }
  return { started, done };
}

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('worker process', () => {
  it('on SIGTERM finishes running handlers, returns the rest, exits in time: 0 lost, 0 duplicates', async () => {
    const queue = await sqs.createQueue({ visibilityTimeoutSeconds: 5, maxReceiveCount: 5 });
    const bodies = Array.from({ length: 120 }, (_, index) => `m${index}`);
    await sqs.send(queue.queueUrl, bodies);
    const record = join(mkdtempSync(join(tmpdir(), 'sluice-worker-')), 'record.log');
    writeFileSync(record, '');

    const handlerMs = 400;
    const first = startWorker(queue.queueUrl, record, { handlerMs, concurrency: 8 });
    await waitFor(() => readRecord(record).done.size >= 20, 30_000, 'the first worker to process 20 messages');
    const signalledAt = Date.now();
    first.kill('SIGTERM');
    const [code] = (await once(first, 'exit')) as [number | null];
    const exitedAfterMs = Date.now() - signalledAt;

    expect(code).toBe(0);
    // Within the longest running handler + 1 s.
    expect(exitedAfterMs).toBeLessThan(handlerMs + 1_000);
    const atStop = readRecord(record);
    // Every handler that had started finished: nothing was cut off.
    for (const [body, starts] of atStop.started) expect(atStop.done.get(body)?.length ?? 0, body).toBe(starts.length);

    const second = startWorker(queue.queueUrl, record, { handlerMs: 50, concurrency: 8 });
    await waitFor(() => readRecord(record).done.size === bodies.length, 60_000, 'every message to be processed');
    await waitFor(async () => {
      const depth = await sqs.depth(queue.queueUrl);
      return depth.visible === 0 && depth.inFlight === 0;
    }, 15_000, 'the queue to empty');
    second.kill('SIGTERM');
    await once(second, 'exit');

    const final = readRecord(record);
    expect([...final.done.keys()].sort()).toEqual([...bodies].sort());
    const duplicates = [...final.done.values()].filter((times) => times.length > 1).length;
    expect(duplicates).toBe(0);
    expect(await sqs.receiveAll(queue.deadLetterQueueUrl ?? '')).toEqual([]);
  });

  it('on SIGKILL loses nothing: what was in flight is redelivered after the visibility timeout', async () => {
    const queue = await sqs.createQueue({ visibilityTimeoutSeconds: 3, maxReceiveCount: 5 });
    const bodies = Array.from({ length: 60 }, (_, index) => `k${index}`);
    await sqs.send(queue.queueUrl, bodies);
    const record = join(mkdtempSync(join(tmpdir(), 'sluice-worker-')), 'record.log');
    writeFileSync(record, '');

    const first = startWorker(queue.queueUrl, record, { handlerMs: 500, concurrency: 8 });
    await waitFor(() => readRecord(record).started.size >= 12, 30_000, 'handlers to be running');
    first.kill('SIGKILL');
    await once(first, 'exit');
    const atKill = readRecord(record);
    const cutOff = [...atKill.started.keys()].filter((body) => !atKill.done.has(body));
    expect(cutOff.length).toBeGreaterThan(0);

    const second = startWorker(queue.queueUrl, record, { handlerMs: 20, concurrency: 8 });
    await waitFor(() => bodies.every((body) => readRecord(record).done.has(body)), 60_000, 'every message to be processed');
    second.kill('SIGTERM');
    await once(second, 'exit');
    const final = readRecord(record);
    expect(bodies.filter((body) => !final.done.has(body))).toEqual([]);
    // The ones cut off by the kill ran again: at least once, never lost.
    for (const body of cutOff) expect(final.started.get(body)?.length).toBeGreaterThanOrEqual(2);
  });
});
