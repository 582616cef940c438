// npm run bench:queue — the queue worker (QueueProcessor) against bbc/sqs-consumer, both draining the
// same backlog from local-aws-sqs on loopback with the same handler (log-normal latency, median
// 50 ms, p99 ≈ 1 s, seeded per message body), at concurrency 10 and 50.
//
// sqs-consumer is set up as its docs recommend for throughput: `handleMessage` with batchSize 10, and
// concurrency / 10 Consumer instances (each with its own client, as Consumer.create makes by default)
// to offer the same number of handlers. Each run: a fresh queue, N messages sent with
// SendMessageBatch (not counted), the consumer started, the clock stopped when every message has been
// handled and the queue is empty with nothing in flight, then a clean stop. API requests are counted
// at the emulator from the start of the consumer to the end of its stop (the bench's own depth checks
// subtracted). Lost = sent but never handled; duplicates = handler runs beyond the first per message.
// The last line is JSON: {"throughputRatio", "apiCallsPerMessage", "lost", "duplicates"}.
// Goals: ratio ≥ 2, ≤ 0.25 calls per message (sluice at concurrency 50), lost 0. Exits 1 on a loss.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { SQSClient } from '@aws-sdk/client-sqs';
import { Consumer } from 'sqs-consumer';
import { silentLogger } from '../../lib/runtime/json-logger.ts';
import { QueueProcessor } from '../../lib/runtime/queue/queue-processor.ts';
import { type LocalSqs, startLocalSqs } from '../helpers/local-sqs.ts';
import { handlerLatencyMs, MEDIAN_MS, P99_MS, summarise } from './seeded-handler-latency.ts';

const SEED = 'sluice-queue-bench-1';
/**
 * Messages per run. Concurrency 50 gets the full 5,000; concurrency 10 gets 1,000 because the baseline
 * drains only ~20 msg/s there (5,000 would take ~4 minutes on its own). Both systems at one
 * concurrency get the same messages.
 */
const PLAN: readonly { readonly concurrency: number; readonly messages: number }[] = [
  { concurrency: 10, messages: 1_000 },
  { concurrency: 50, messages: 5_000 },
];
/** Run once per system before measuring (not reported), so neither pays for cold code in its first run. */
const WARM_UP = { concurrency: 50, messages: 200 };
/** A run that has not drained by then counts its unhandled messages as lost. */
const RUN_TIMEOUT_MS = 150_000;
/** The whole bench must stop by itself. */
const BENCH_TIMEOUT_MS = 8 * 60_000;

type System = 'sluice' | 'sqs-consumer';
const SYSTEMS: readonly System[] = ['sluice', 'sqs-consumer'];

interface RunResult {
  readonly concurrency: number;
  readonly system: System;
  readonly messages: number;
  readonly wallMs: number;
  readonly stopMs: number;
  readonly requests: Readonly<Record<string, number>>;
  readonly apiCalls: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly leftInQueue: number;
  readonly maxInFlight: number;
  /** Handler time over (concurrency × wall time): how busy the offered handler slots were. */
  readonly busyShare: number;
  readonly errors: number;
  readonly timedOut: boolean;
}

/** The handler both systems run, and its own record of what it handled. */
class HandlerRecord {
  readonly handled = new Map<string, number>();
  inFlight = 0;
  maxInFlight = 0;
  busyMs = 0;
  readonly allHandled: Promise<void>;
  private resolveAllHandled!: () => void;

  constructor(private readonly latencies: ReadonlyMap<string, number>) {
    this.allHandled = new Promise((resolve) => (this.resolveAllHandled = resolve));
  }

  async handle(body: string): Promise<void> {
    const latencyMs = this.latencies.get(body);
    if (latencyMs === undefined) throw new Error(`unexpected message body ${JSON.stringify(body)}`);
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await sleep(latencyMs);
    this.inFlight -= 1;
    this.busyMs += latencyMs;
    this.handled.set(body, (this.handled.get(body) ?? 0) + 1);
    if (this.handled.size === this.latencies.size) this.resolveAllHandled();
  }
}

interface RunningSystem {
  /** Stops cleanly and resolves when nothing is left running. */
  stop(): Promise<void>;
  readonly errors: () => number;
}

function clientFor(sqs: LocalSqs): SQSClient {
  return new SQSClient({ endpoint: sqs.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
}

function startSluice(sqs: LocalSqs, queueUrl: string, concurrency: number, record: HandlerRecord): RunningSystem {
  const client = clientFor(sqs);
  let errors = 0;
  const processor = new QueueProcessor({ sqs: client, queueUrl, concurrency, logger: silentLogger, handler: (message) => record.handle(message.body) });
  processor.on('error', () => (errors += 1));
  processor.start();
  return {
    async stop() {
      await processor.stop({ deadline: 10_000 });
      client.destroy();
    },
    errors: () => errors,
  };
}

function startSqsConsumer(sqs: LocalSqs, queueUrl: string, concurrency: number, record: HandlerRecord): RunningSystem {
  let errors = 0;
  let stopping = false;
  const countError = () => {
    if (!stopping) errors += 1;
  };
  const instances = Array.from({ length: Math.ceil(concurrency / 10) }, () => {
    const client = clientFor(sqs);
    const consumer = Consumer.create({
      queueUrl,
      sqs: client,
      batchSize: 10,
      handleMessage: async (message) => {
        await record.handle(message.Body ?? '');
        return message; // returning the message acknowledges (deletes) it
      },
    });
    consumer.on('error', countError);
    consumer.on('processing_error', countError);
    consumer.on('timeout_error', countError);
    consumer.start();
    return { client, consumer };
  });
  return {
    async stop() {
      stopping = true;
      // The backlog is drained and deleted, so aborting the idle 20 s long polls loses nothing; a
      // graceful stop would only wait them out.
      await Promise.all(instances.map(({ consumer }) => {
        const stopped = new Promise<void>((resolve) => consumer.once('stopped', () => resolve()));
        consumer.stop({ abort: true });
        return stopped;
      }));
      for (const { client } of instances) client.destroy();
    },
    errors: () => errors,
  };
}

async function run(sqs: LocalSqs, system: System, concurrency: number, bodies: readonly string[], latencies: ReadonlyMap<string, number>): Promise<RunResult> {
  const { queueUrl } = await sqs.createQueue({ maxReceiveCount: 0, visibilityTimeoutSeconds: 30 });
  await sqs.send(queueUrl, bodies);
  const record = new HandlerRecord(new Map(bodies.map((body) => [body, latencies.get(body)!])));
  let ownDepthChecks = 0;
  const depth = () => {
    ownDepthChecks += 1;
    return sqs.depth(queueUrl);
  };

  sqs.resetRequestCounts();
  const started = performance.now();
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  const running = system === 'sluice' ? startSluice(sqs, queueUrl, concurrency, record) : startSqsConsumer(sqs, queueUrl, concurrency, record);

  const runTimer = new AbortController();
  let timedOut = await Promise.race([
    record.allHandled.then(() => false),
    sleep(RUN_TIMEOUT_MS, true, { signal: runTimer.signal }).catch(() => false),
  ]);
  runTimer.abort();
  // Handled is not yet deleted: wait for the queue to be empty with nothing in flight.
  while (!timedOut) {
    const { visible, inFlight } = await depth();
    if (visible === 0 && inFlight === 0) break;
    if (Date.now() > deadline) timedOut = true;
    else await sleep(10);
  }
  const wallMs = performance.now() - started;

  const stopStarted = performance.now();
  await running.stop();
  const stopMs = performance.now() - stopStarted;
  const requests = { ...sqs.requestCounts() } as Record<string, number>;
  requests.GetQueueAttributes = (requests.GetQueueAttributes ?? 0) - ownDepthChecks;
  if (requests.GetQueueAttributes === 0) delete requests.GetQueueAttributes;
  const left = await sqs.depth(queueUrl);

  const counts = [...record.handled.values()];
  return {
    concurrency,
    system,
    messages: bodies.length,
    wallMs,
    stopMs,
    requests,
    apiCalls: Object.values(requests).reduce((sum, count) => sum + count, 0),
    lost: bodies.length - record.handled.size,
    duplicates: counts.reduce((sum, count) => sum + count - 1, 0),
    leftInQueue: left.visible + left.inFlight,
    maxInFlight: record.maxInFlight,
    busyShare: record.busyMs / (concurrency * wallMs),
    errors: running.errors(),
    timedOut,
  };
}

// ---- reporting -----------------------------------------------------------------------------------

const throughput = (result: RunResult) => result.messages / (result.wallMs / 1000);
const callsPerMessage = (result: RunResult) => result.apiCalls / result.messages;

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const line = (row: readonly string[]) => row.map((cell, column) => (column < 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  return [line(rows[0]!), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

function report(results: readonly RunResult[], latencies: ReadonlyMap<string, number>): void {
  console.log('');
  console.log(table([
    ['concurrency', 'system', 'messages', 'msg/s', 'API calls/msg', 'lost', 'duplicates', 'wall time', 'slots busy', 'max in flight', 'stop'],
    ...results.map((result) => [
      String(result.concurrency),
      result.system,
      String(result.messages),
      throughput(result).toFixed(1),
      callsPerMessage(result).toFixed(3),
      String(result.lost),
      String(result.duplicates),
      `${(result.wallMs / 1000).toFixed(2)} s`,
      `${(result.busyShare * 100).toFixed(0)}%`,
      String(result.maxInFlight),
      `${result.stopMs.toFixed(0)} ms`,
    ]),
  ]));
  console.log('');
  console.log('SQS requests at the emulator, per run:');
  for (const result of results) {
    const actions = Object.entries(result.requests).sort(([a], [b]) => a.localeCompare(b)).map(([action, count]) => `${action} ${count}`).join(', ');
    const notes = [
      result.errors > 0 ? `${result.errors} error events` : '',
      result.leftInQueue > 0 ? `${result.leftInQueue} left in the queue` : '',
      result.timedOut ? `did not drain within ${RUN_TIMEOUT_MS / 1000} s` : '',
    ].filter(Boolean);
    console.log(`  c=${String(result.concurrency).padEnd(3)} ${result.system.padEnd(12)} ${actions}${notes.length > 0 ? `  [${notes.join('; ')}]` : ''}`);
  }
  console.log('');
  for (const { concurrency, messages } of PLAN) {
    const summary = summarise([...latencies.values()].slice(0, messages));
    const sluice = results.find((result) => result.system === 'sluice' && result.concurrency === concurrency)!;
    const baseline = results.find((result) => result.system === 'sqs-consumer' && result.concurrency === concurrency)!;
    console.log(
      `c=${concurrency}: handler latency over the ${messages} messages: median ${summary.medianMs.toFixed(0)} ms, p99 ${summary.p99Ms.toFixed(0)} ms, ` +
        `mean ${summary.meanMs.toFixed(0)} ms, max ${summary.maxMs.toFixed(0)} ms; ceiling concurrency / mean = ${(concurrency / (summary.meanMs / 1000)).toFixed(0)} msg/s; ` +
        `sluice / sqs-consumer = ${(throughput(sluice) / throughput(baseline)).toFixed(2)}×`,
    );
  }
}

// ---- main ----------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const benchStarted = performance.now();
  const largest = Math.max(...PLAN.map((step) => step.messages), WARM_UP.messages);
  const bodies = Array.from({ length: largest }, (_, index) => `message-${String(index).padStart(5, '0')}`);
  const latencies = new Map(bodies.map((body) => [body, handlerLatencyMs(SEED, body)]));
  console.log(`queue bench: local-aws-sqs on 127.0.0.1, handler log-normal (median ${MEDIAN_MS} ms, p99 ${P99_MS} ms, seed ${JSON.stringify(SEED)}), ` +
    `runs ${PLAN.map((step) => `c=${step.concurrency} × ${step.messages} messages`).join(', ')}; sqs-consumer: batchSize 10, concurrency / 10 consumers`);

  const sqs = await startLocalSqs();
  const results: RunResult[] = [];
  let warmUpLost = 0;
  try {
    for (const system of SYSTEMS) {
      const warmUp = await run(sqs, system, WARM_UP.concurrency, bodies.slice(0, WARM_UP.messages), latencies);
      warmUpLost += warmUp.lost;
      console.log(`warm-up ${system}: ${warmUp.messages} messages in ${(warmUp.wallMs / 1000).toFixed(2)} s (not reported)`);
    }
    for (const { concurrency, messages } of PLAN) {
      for (const system of SYSTEMS) {
        const result = await run(sqs, system, concurrency, bodies.slice(0, messages), latencies);
        results.push(result);
        console.log(`c=${concurrency} ${system}: ${throughput(result).toFixed(1)} msg/s, ${callsPerMessage(result).toFixed(3)} API calls/msg, ` +
          `lost ${result.lost}, duplicates ${result.duplicates}, ${(result.wallMs / 1000).toFixed(2)} s`);
      }
    }
  } finally {
    await sqs.stop();
  }

  report(results, latencies);
  const at50 = (system: System) => results.find((result) => result.system === system && result.concurrency === 50)!;
  const lost = results.reduce((sum, result) => sum + result.lost, 0) + warmUpLost;
  const duplicates = results.filter((result) => result.system === 'sluice').reduce((sum, result) => sum + result.duplicates, 0);
  const incomplete = results.filter((result) => result.timedOut || result.leftInQueue > 0);
  console.log('');
  console.log(`bench wall time ${((performance.now() - benchStarted) / 1000).toFixed(1)} s`);
  if (lost > 0) console.log(`FAILED: ${lost} message(s) lost`);
  if (incomplete.length > 0) console.log(`FAILED: ${incomplete.length} run(s) did not drain the queue`);
  console.log(JSON.stringify({
    throughputRatio: Number((throughput(at50('sluice')) / throughput(at50('sqs-consumer'))).toFixed(2)),
    apiCallsPerMessage: Number(callsPerMessage(at50('sluice')).toFixed(3)),
    lost,
    duplicates,
  }));
  return lost > 0 || incomplete.length > 0 ? 1 : 0;
}

const watchdog = setTimeout(() => {
  console.error(`queue bench: still running after ${BENCH_TIMEOUT_MS / 60_000} minutes, giving up`);
  process.exit(1);
}, BENCH_TIMEOUT_MS);

main().then(
  (exitCode) => {
    clearTimeout(watchdog);
    process.exitCode = exitCode;
    // Everything was stopped; if a forgotten handle still holds the process, say so rather than hang.
    setTimeout(() => {
      console.error('queue bench: a handle kept the process alive after the bench finished');
      process.exit(exitCode || 1);
    }, 5_000).unref();
  },
  (error: unknown) => {
    console.error('queue bench failed:', error);
    process.exit(1);
  },
);
