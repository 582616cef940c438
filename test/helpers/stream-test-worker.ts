// A worker process for the stream consumer's process tests and the stream bench: the real worker
// composition (runWorkerFromEnvironment: the environment, the clients, SIGTERM handling) around a
// stream processor and a queue handler that record what they saw in RECORD_FILE, one line per
// record or message, written synchronously (what is on disk is what happened, even after a SIGKILL):
//   stream <worker> <shardId> <sequenceNumber> <data> <epoch ms>
//   queue <worker> <body> <epoch ms>
// The stack's variables (STREAM_NAME, CHECKPOINT_TABLE_NAME, QUEUE_URL, AWS_ENDPOINT_URL_*) come
// from the test; test-only: RECORD_FILE, WORKER_NAME (the lease owner is `<name>:<pid>`), and the
// consumer's timings LEASE_MS, SCAN_MS, IDLE_MS, CHECKPOINT_MS, PROCESS_MS (per batch) — each
// unset means the production default.
import { appendFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { jsonLogger } from '../../lib/runtime/json-logger.ts';
import { runWorkerFromEnvironment } from '../../lib/runtime/worker/worker-from-environment.ts';

const record = process.env.RECORD_FILE;
if (!record) throw new Error('stream-test-worker: RECORD_FILE is not set');
const name = process.env.WORKER_NAME ?? 'worker';
const number = (variable: string) => (process.env[variable] ? Number(process.env[variable]) : undefined);
const processMs = number('PROCESS_MS') ?? 0;
const timings = {
  leaseDurationMs: number('LEASE_MS'),
  leaseScanIntervalMs: number('SCAN_MS'),
  idleWaitMs: number('IDLE_MS'),
  checkpointIntervalMs: number('CHECKPOINT_MS'),
};

process.exitCode = await runWorkerFromEnvironment(
  process.env,
  {
    queue: {
      handler: async (message) => {
        appendFileSync(record, `queue ${name} ${message.body} ${Date.now()}\n`);
      },
    },
    stream: {
      processor: async (records, { shardId, signal }) => {
        if (processMs > 0) await sleep(processMs, undefined, { signal });
        const at = Date.now();
        appendFileSync(record, records.map((entry) => `stream ${name} ${shardId} ${entry.sequenceNumber} ${Buffer.from(entry.data).toString()} ${at}\n`).join(''));
      },
    },
  },
  {
    logger: jsonLogger({ component: `test-worker-${name}`, level: 'warn' }),
    streamLogger: jsonLogger({ component: `test-worker-${name}`, level: 'warn' }),
    queueOptions: { waitTimeSeconds: 1 },
    streamOptions: {
      workerId: `${name}:${process.pid}`,
      ...Object.fromEntries(Object.entries(timings).filter(([, value]) => value !== undefined)),
    },
  },
);
