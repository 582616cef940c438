// npm run bench:queue — the queue worker (QueueProcessor) against bbc/sqs-consumer, all draining the
// same backlog from local-aws-sqs on loopback with the same handler (log-normal latency, median
// 50 ms, p99 ≈ 1 s, seeded per message body), at concurrency 10 and 50.
//
// sqs-consumer is set up as its docs recommend for throughput: batchSize 10, and concurrency / 10
// Consumer instances (each with its own client, as Consumer.create makes by default) to offer the
// same number of handlers, in both of its modes: `handleMessage` (the 10 messages of a batch handled
// side by side, each deleted with its own DeleteMessage) and `handleMessageBatch` (the handler gets
// all 10, one DeleteMessageBatch for them). sluice is compared with the better of the two, figure by
// figure. Each run: a fresh queue, N messages sent with SendMessageBatch (not counted), the consumer
// started, the clock stopped when every message has been handled and the queue is empty with nothing
// in flight, then a clean stop. API requests are counted at the emulator from the start of the
// consumer to the end of its stop (the bench's own depth checks subtracted). Lost = sent but never
// handled; duplicates = handler runs beyond the first per message. Every system runs ROUNDS times
// per concurrency, the order reversed each round so neither sits always first; figures are medians.
// The last line is JSON: {"throughputRatio", "apiCallsPerMessage", "baselineApiCallsPerMessage",
// "lost", "duplicates"}. Goals (GOALS, at concurrency 50): ratio ≥ 2, sluice ≤ 0.25 calls per
// message, lost 0, duplicates 0; exits 1 when one is missed or a run does not drain.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Message, SQSClient } from '@aws-sdk/client-sqs';
import { Consumer } from 'sqs-consumer';
import { silentLogger } from '../../lib/runtime/json-logger.ts';
import { QueueProcessor } from '../../lib/runtime/queue/queue-processor.ts';
import { type LocalSqs, startLocalSqs } from '../helpers/local-sqs.ts';
import { atLeast, atMost, enforceGoals, runBench } from './bench-goals.ts';
import { handlerLatencyMs, MEDIAN_MS, P99_MS, summarise } from './seeded-handler-latency.ts';

const SEED = 'sluice-queue-bench-1';
/**
 * Messages per run. Half of what one run each took (5,000 at concurrency 50, 1,000 at 10), so that
 * three systems × ROUNDS runs stay within ~4 minutes: the baselines drain only ~25 msg/s at
 * concurrency 10 and ~100 at 50. Every system at one concurrency gets the same messages.
 */
const PLAN: readonly { readonly concurrency: number; readonly messages: number }[] = [
  { concurrency: 10, messages: 500 },
  { concurrency: 50, messages: 2_500 },
];
/** Runs per system and concurrency, the order reversed every round. */
const ROUNDS = 2;
const GOALS = { throughputRatio: 2, apiCallsPerMessage: 0.25 } as const;
/** Run once per system before measuring (not reported), so neither pays for cold code in its first run. */
const WARM_UP = { concurrency: 50, messages: 200 };
/** A run that has not drained by then counts its unhandled messages as lost. */
const RUN_TIMEOUT_MS = 150_000;
/** The whole bench must stop by itself. */
const BENCH_TIMEOUT_MS = 8 * 60_000;

type System = 'sluice' | 'sqs-consumer' | 'sqs-consumer-batch';
const SYSTEMS: readonly System[] = ['sluice', 'sqs-consumer', 'sqs-consumer-batch'];
const BASELINES = SYSTEMS.filter((system) => system !== 'sluice');

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

function startSqsConsumer(sqs: LocalSqs, queueUrl: string, concurrency: number, record: HandlerRecord, batch: boolean): RunningSystem {
  let errors = 0;
  let stopping = false;
  const countError = () => {
    if (!stopping) errors += 1;
  };
  const instances = Array.from({ length: Math.ceil(concurrency / 10) }, () => {
    const client = clientFor(sqs);
    // Returning a message acknowledges (deletes) it.
    const handlers = batch
      ? {
        handleMessageBatch: async (messages: Message[]) => {
          await Promise.all(messages.map((message) => record.handle(message.Body ?? '')));
          return messages;
        },
      }
      : {
        handleMessage: async (message: Message) => {
          await record.handle(message.Body ?? '');
          return message;
        },
      };
    const consumer = Consumer.create({ queueUrl, sqs: client, batchSize: 10, ...handlers });
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
  const running = system === 'sluice'
    ? startSluice(sqs, queueUrl, concurrency, record)
    : startSqsConsumer(sqs, queueUrl, concurrency, record, system === 'sqs-consumer-batch');

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

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** One system at one concurrency over its ROUNDS runs: medians, and losses and duplicates summed. */
interface Summary {
  readonly concurrency: number;
  readonly system: System;
  readonly runs: readonly RunResult[];
  readonly throughput: number;
  readonly callsPerMessage: number;
}

function summariseRuns(results: readonly RunResult[], concurrency: number, system: System): Summary {
  const runs = results.filter((result) => result.concurrency === concurrency && result.system === system);
  return { concurrency, system, runs, throughput: median(runs.map(throughput)), callsPerMessage: median(runs.map(callsPerMessage)) };
}

/** The baseline that is best at one figure: the highest throughput, or the fewest calls per message. */
function bestBaseline(summaries: readonly Summary[], concurrency: number, figure: 'throughput' | 'callsPerMessage'): Summary {
  const baselines = summaries.filter((summary) => summary.concurrency === concurrency && summary.system !== 'sluice');
  const better = (a: Summary, b: Summary) => (figure === 'throughput' ? b.throughput > a.throughput : b.callsPerMessage < a.callsPerMessage);
  return baselines.reduce((best, summary) => (better(best, summary) ? summary : best));
}

const sum = (runs: readonly RunResult[], figure: (run: RunResult) => number) => runs.reduce((total, run) => total + figure(run), 0);

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const line = (row: readonly string[]) => row.map((cell, column) => (column < 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  return [line(rows[0]!), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

function report(results: readonly RunResult[], summaries: readonly Summary[], latencies: ReadonlyMap<string, number>): void {
  const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  console.log('');
  console.log(`medians of ${ROUNDS} runs each (losses and duplicates summed):`);
  console.log(table([
    ['concurrency', 'system', 'messages', 'msg/s', 'each run', 'API calls/msg', 'lost', 'duplicates', 'wall time', 'slots busy', 'max in flight', 'stop'],
    ...summaries.map(({ concurrency, system, runs, throughput: messagesPerSecond, callsPerMessage: calls }) => [
      String(concurrency),
      system,
      String(runs[0]!.messages),
      messagesPerSecond.toFixed(1),
      runs.map((run) => throughput(run).toFixed(1)).join(' / '),
      calls.toFixed(3),
      String(sum(runs, (run) => run.lost)),
      String(sum(runs, (run) => run.duplicates)),
      seconds(median(runs.map((run) => run.wallMs))),
      `${(median(runs.map((run) => run.busyShare)) * 100).toFixed(0)}%`,
      String(Math.max(...runs.map((run) => run.maxInFlight))),
      `${median(runs.map((run) => run.stopMs)).toFixed(0)} ms`,
    ]),
  ]));
  console.log('');
  console.log('SQS requests at the emulator, per run (in the order they ran):');
  for (const result of results) {
    const actions = Object.entries(result.requests).sort(([a], [b]) => a.localeCompare(b)).map(([action, count]) => `${action} ${count}`).join(', ');
    const notes = [
      result.errors > 0 ? `${result.errors} error events` : '',
      result.leftInQueue > 0 ? `${result.leftInQueue} left in the queue` : '',
      result.timedOut ? `did not drain within ${RUN_TIMEOUT_MS / 1000} s` : '',
    ].filter(Boolean);
    console.log(`  c=${String(result.concurrency).padEnd(3)} ${result.system.padEnd(18)} ${actions}${notes.length > 0 ? `  [${notes.join('; ')}]` : ''}`);
  }
  console.log('');
  for (const { concurrency, messages } of PLAN) {
    const summary = summarise([...latencies.values()].slice(0, messages));
    const sluice = summaries.find((candidate) => candidate.system === 'sluice' && candidate.concurrency === concurrency)!;
    const fastest = bestBaseline(summaries, concurrency, 'throughput');
    const leanest = bestBaseline(summaries, concurrency, 'callsPerMessage');
    console.log(
      `c=${concurrency}: handler latency over the ${messages} messages: median ${summary.medianMs.toFixed(0)} ms, p99 ${summary.p99Ms.toFixed(0)} ms, ` +
        `mean ${summary.meanMs.toFixed(0)} ms, max ${summary.maxMs.toFixed(0)} ms; ceiling concurrency / mean = ${(concurrency / (summary.meanMs / 1000)).toFixed(0)} msg/s; ` +
        `sluice / ${fastest.system} (the faster baseline) = ${(sluice.throughput / fastest.throughput).toFixed(2)}×; ` +
        `API calls/msg sluice ${sluice.callsPerMessage.toFixed(3)}, ${leanest.system} (the leaner baseline) ${leanest.callsPerMessage.toFixed(3)}`,
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
    `${ROUNDS} runs per system of ${PLAN.map((step) => `c=${step.concurrency} × ${step.messages} messages`).join(', ')}; ` +
    'sqs-consumer: batchSize 10, concurrency / 10 consumers, handleMessage (sqs-consumer) or handleMessageBatch (sqs-consumer-batch)');

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
      for (let round = 1; round <= ROUNDS; round += 1) {
        // Reversed every other round: whatever the machine does over time hits every system alike.
        for (const system of round % 2 === 1 ? SYSTEMS : [...SYSTEMS].reverse()) {
          const result = await run(sqs, system, concurrency, bodies.slice(0, messages), latencies);
          results.push(result);
          console.log(`c=${concurrency} round ${round} ${system}: ${throughput(result).toFixed(1)} msg/s, ${callsPerMessage(result).toFixed(3)} API calls/msg, ` +
            `lost ${result.lost}, duplicates ${result.duplicates}, ${(result.wallMs / 1000).toFixed(2)} s`);
        }
      }
    }
  } finally {
    await sqs.stop();
  }

  const summaries = PLAN.flatMap(({ concurrency }) => SYSTEMS.map((system) => summariseRuns(results, concurrency, system)));
  report(results, summaries, latencies);
  const goalConcurrency = Math.max(...PLAN.map((step) => step.concurrency));
  const sluice = summaries.find((summary) => summary.system === 'sluice' && summary.concurrency === goalConcurrency)!;
  const throughputRatio = Number((sluice.throughput / bestBaseline(summaries, goalConcurrency, 'throughput').throughput).toFixed(2));
  const apiCallsPerMessage = Number(sluice.callsPerMessage.toFixed(3));
  const baselineApiCallsPerMessage = Number(bestBaseline(summaries, goalConcurrency, 'callsPerMessage').callsPerMessage.toFixed(3));
  const lost = sum(results, (result) => result.lost) + warmUpLost;
  const duplicates = sum(results.filter((result) => result.system === 'sluice'), (result) => result.duplicates);
  const incomplete = results.filter((result) => result.timedOut || result.leftInQueue > 0);
  console.log('');
  console.log(`bench wall time ${((performance.now() - benchStarted) / 1000).toFixed(1)} s`);
  if (incomplete.length > 0) console.log(`FAILED: ${incomplete.length} run(s) did not drain the queue`);
  console.log(`goals at concurrency ${goalConcurrency}, against the better of ${BASELINES.join(' and ')}:`);
  const missed = enforceGoals([
    atLeast('throughputRatio', throughputRatio, GOALS.throughputRatio),
    atMost('apiCallsPerMessage', apiCallsPerMessage, GOALS.apiCallsPerMessage),
    atMost('lost', lost, 0),
    atMost('duplicates', duplicates, 0),
  ]);
  console.log(JSON.stringify({ throughputRatio, apiCallsPerMessage, baselineApiCallsPerMessage, lost, duplicates }));
  return missed > 0 || incomplete.length > 0 ? 1 : 0;
}

runBench('queue bench', main, { timeoutMs: BENCH_TIMEOUT_MS, lingerMs: 5_000 });
