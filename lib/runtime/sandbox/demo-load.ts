// The demo's steady load through HAProxy: page views (GET /version), jobs (POST /jobs) and events
// (POST /events, each key's events numbered in the order they were put). It records everything a
// check needs afterwards: every failed request with why, the message id of every accepted job, and
// the sequence number of every accepted event per key. A request fails on a connection error, a
// timeout or any status but the one the route answers on success.

import { Agent, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

export interface DemoLoadOptions {
  readonly url: string;
  /** Requests per second of each kind. @default { pages: 20, jobs: 5, events: 10 } */
  readonly rates?: { readonly pages: number; readonly jobs: number; readonly events: number };
  /** Partition keys the events are spread over. @default 8 */
  readonly keys?: number;
}

export interface PutEvent {
  readonly key: string;
  /** The event's number within its key, from 1. */
  readonly number: number;
  readonly sequenceNumber: string;
}

export interface DemoLoadResult {
  readonly requests: number;
  readonly failed: number;
  /** The first failures, to say what went wrong. */
  readonly failures: readonly string[];
  /** Which version answered GET /version, and how often. */
  readonly versions: Readonly<Record<string, number>>;
  readonly acceptedJobs: readonly string[];
  readonly putEvents: readonly PutEvent[];
}

export interface DemoLoad {
  /** What was sent so far. */
  progress(): { readonly requests: number; readonly failed: number };
  /** Stops sending, waits for the requests in flight, and resolves with everything recorded. */
  stop(): Promise<DemoLoadResult>;
}

const REQUEST_TIMEOUT_MS = 10_000;

export function startDemoLoad(options: DemoLoadOptions): DemoLoad {
  const target = new URL(options.url);
  const rates = options.rates ?? { pages: 20, jobs: 5, events: 10 };
  const keyCount = options.keys ?? 8;
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const failures: string[] = [];
  const versions: Record<string, number> = {};
  const acceptedJobs: string[] = [];
  const putEvents: PutEvent[] = [];
  const nextNumber = new Map<string, number>();
  let requests = 0;
  let failed = 0;
  let stopping = false;

  const send = (method: 'GET' | 'POST', path: string, body: unknown, expected: number): Promise<unknown> =>
    new Promise((resolve) => {
      requests += 1;
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const fail = (why: string) => {
        failed += 1;
        if (failures.length < 20) failures.push(`${method} ${path}: ${why}`);
        resolve(undefined);
      };
      const outgoing = request(
        { host: target.hostname, port: target.port, path, method, agent, timeout: REQUEST_TIMEOUT_MS, headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {} },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('error', (error) => fail(`response error: ${error.message}`));
          response.on('end', () => {
            if (response.statusCode !== expected) return fail(`HTTP ${response.statusCode}: ${text.slice(0, 120)}`);
            try {
              resolve(JSON.parse(text));
            } catch {
              fail(`not JSON: ${text.slice(0, 120)}`);
            }
          });
        },
      );
      outgoing.on('timeout', () => outgoing.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1000} s`)));
      outgoing.on('error', (error) => fail(`request error: ${error.message}`));
      outgoing.end(payload);
    });

  const kinds = {
    pages: async () => {
      const answer = (await send('GET', '/version', undefined, 200)) as { version?: string } | undefined;
      if (answer?.version) versions[answer.version] = (versions[answer.version] ?? 0) + 1;
    },
    jobs: async () => {
      const answer = (await send('POST', '/jobs', { type: 'demo-job', at: Date.now() }, 202)) as { messageId?: string } | undefined;
      if (answer?.messageId) acceptedJobs.push(answer.messageId);
    },
    events: async () => {
      const key = `key-${Math.floor(Math.random() * keyCount)}`;
      // One event of a key at a time: the next is put once this one is accepted, so "in order" has a meaning.
      if (nextNumber.get(key) === -1) return;
      const number = (nextNumber.get(key) ?? 0) + 1;
      nextNumber.set(key, -1);
      const answer = (await send('POST', '/events', { key, type: 'demo-event', number }, 202)) as { sequenceNumber?: string } | undefined;
      if (answer?.sequenceNumber) putEvents.push({ key, number, sequenceNumber: answer.sequenceNumber });
      nextNumber.set(key, answer?.sequenceNumber ? number : number - 1);
    },
  };

  const inFlight = new Set<Promise<void>>();
  const loop = async (kind: keyof typeof kinds, perSecond: number) => {
    if (perSecond <= 0) return;
    const intervalMs = 1000 / perSecond;
    let next = Date.now();
    while (!stopping) {
      const sent = kinds[kind]();
      inFlight.add(sent);
      void sent.finally(() => inFlight.delete(sent));
      next += intervalMs;
      await sleep(Math.max(0, next - Date.now()));
    }
  };
  const loops = (Object.keys(kinds) as (keyof typeof kinds)[]).map((kind) => loop(kind, rates[kind]));

  return {
    progress: () => ({ requests, failed }),
    async stop() {
      stopping = true;
      await Promise.all(loops);
      await Promise.all([...inFlight]);
      agent.destroy();
      return { requests, failed, failures, versions, acceptedJobs, putEvents };
    },
  };
}
