// The web app's metrics, from real HTTP requests against the local stand-ins: the lines it prints
// are embedded metric format documents in the sluice namespace, Requests and Latency per route
// pattern (never a raw path) and status class, JobsAccepted per job on the queue; the counts are the
// requests actually answered, health checks aside.
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebApp } from '../../../lib/runtime/app/web-app.ts';
import { silentLogger } from '../../../lib/runtime/json-logger.ts';
import { serviceMetrics } from '../../../lib/runtime/service-metrics.ts';
import { dataPoints, dimensionSetsOf, emfDocuments, samplesOf, sumOf } from '../../helpers/emf.ts';
import { type LocalKinesis, startKinesalite } from '../../helpers/kinesalite.ts';
import { type LocalSqs, startLocalSqs } from '../../helpers/local-sqs.ts';

let sqs: LocalSqs;
let kinesis: LocalKinesis;
let streamName: string;
beforeAll(async () => {
  [sqs, kinesis] = await Promise.all([startLocalSqs(), startKinesalite()]);
  streamName = await kinesis.createStream({ shards: 1 });
});
afterAll(async () => {
  await Promise.all([sqs?.stop(), kinesis?.stop()]);
});

function send(port: number, method: string, path: string, body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false, headers: { 'Content-Type': 'application/json' } }, (res) => {
      res.resume().on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** An app on the local stand-ins whose metrics are captured; `enqueueDelayMs` slows every SendMessage. */
async function startApp(queueUrl: string, { enqueueDelayMs = 0 } = {}) {
  const lines: string[] = [];
  const metrics = serviceMetrics({ service: 'web', env: { SLUICE_STAGE: 'dev' }, logger: silentLogger, write: (line) => lines.push(line) });
  const slowSqs = { send: async (...args: Parameters<SQSClient['send']>) => {
    await sleep(enqueueDelayMs);
    return sqs.client.send(...args);
  } } as unknown as SQSClient;
  const app = new WebApp({
    version: 'a1b2c3d',
    port: 0,
    host: '127.0.0.1',
    logger: silentLogger,
    metrics,
    workQueue: { sqs: slowSqs, queueUrl },
    eventStream: { kinesis: kinesis.client, streamName },
  });
  const port = await app.start();
  return { port, app, lines };
}

const WEB = { Stage: 'dev', Service: 'web' };

describe('WebApp metrics', () => {
  it('counts every request answered by route pattern and status class, with its latency, and every job accepted', async () => {
    const { queueUrl } = await sqs.createQueue({ maxReceiveCount: 0 });
    const { port, app, lines } = await startApp(queueUrl, { enqueueDelayMs: 60 });
    const statuses = [
      await send(port, 'GET', '/'),
      await send(port, 'GET', '/?utm=1'),
      await send(port, 'GET', '/version'),
      await send(port, 'GET', '/users/123'),
      await send(port, 'GET', '/users/456'),
      await send(port, 'GET', '/health'),
      await send(port, 'GET', '/health'),
      ...(await Promise.all([1, 2, 3].map((n) => send(port, 'POST', '/jobs', JSON.stringify({ type: 'send-invoice', invoiceId: n }))))),
      await send(port, 'POST', '/jobs', '{"invoiceId":7}'),
      await send(port, 'GET', '/jobs'),
      await send(port, 'POST', '/events', JSON.stringify({ type: 'order-placed', key: 'order-1' })),
    ];
    expect(statuses).toEqual([200, 200, 200, 404, 404, 200, 200, 202, 202, 202, 400, 405, 202]);
    await app.stop({ deadlineMs: 1_000 });

    const points = dataPoints(emfDocuments(lines));
    expect(points.length).toBeGreaterThan(0);
    expect(new Set(points.map((point) => point.namespace))).toEqual(new Set(['sluice']));
    // Eleven requests; the two health checks are the load balancer's and are not counted.
    expect(sumOf(points, 'Requests', WEB)).toBe(11);
    expect(sumOf(points, 'Requests', { ...WEB, StatusClass: '2xx' })).toBe(7);
    expect(sumOf(points, 'Requests', { ...WEB, StatusClass: '4xx' })).toBe(4);
    expect(sumOf(points, 'Requests', { ...WEB, Route: '/', StatusClass: '2xx' })).toBe(2);
    expect(sumOf(points, 'Requests', { ...WEB, Route: '/version', StatusClass: '2xx' })).toBe(1);
    expect(sumOf(points, 'Requests', { ...WEB, Route: '/jobs', StatusClass: '2xx' })).toBe(3);
    expect(sumOf(points, 'Requests', { ...WEB, Route: '/jobs', StatusClass: '4xx' })).toBe(2);
    expect(sumOf(points, 'Requests', { ...WEB, Route: '/events', StatusClass: '2xx' })).toBe(1);
    // Paths that match no route are one bounded value, never the path itself.
    expect(sumOf(points, 'Requests', { ...WEB, Route: 'unmatched', StatusClass: '4xx' })).toBe(2);
    expect(new Set(points.filter((point) => point.dimensions.Route !== undefined).map((point) => point.dimensions.Route))).toEqual(new Set(['/', '/version', '/jobs', '/events', 'unmatched']));

    expect(points.filter((point) => point.name === 'Latency').every((point) => point.unit === 'Milliseconds')).toBe(true);
    const latencies = samplesOf(points, 'Latency', WEB);
    expect(latencies).toHaveLength(11);
    expect(latencies.every((latency) => latency >= 0)).toBe(true);
    // The accepted jobs waited 60 ms for SendMessage: the latency is the time the client waited.
    const acceptedJobLatencies = samplesOf(points, 'Latency', { ...WEB, Route: '/jobs', StatusClass: '2xx' });
    expect(acceptedJobLatencies).toHaveLength(3);
    expect(Math.min(...acceptedJobLatencies)).toBeGreaterThanOrEqual(55);

    expect(sumOf(points, 'JobsAccepted', WEB)).toBe(3);
    expect(points.filter((point) => point.name === 'JobsAccepted').every((point) => point.unit === 'Count')).toBe(true);
    expect(dimensionSetsOf(points, 'Requests')).toEqual([['Route', 'Service', 'Stage', 'StatusClass'], ['Service', 'Stage'], ['Service', 'Stage', 'StatusClass']]);
    expect(dimensionSetsOf(points, 'Latency')).toEqual([['Route', 'Service', 'Stage', 'StatusClass'], ['Service', 'Stage'], ['Service', 'Stage', 'StatusClass']]);
    expect(dimensionSetsOf(points, 'JobsAccepted')).toEqual([['Service', 'Stage']]);
  });

  it('counts a job the queue refused as a 5xx on /jobs and not as accepted', async () => {
    const { port, app, lines } = await startApp(`${sqs.endpoint}/000000000000/no-such-queue`);
    expect(await send(port, 'POST', '/jobs', JSON.stringify({ type: 'send-invoice' }))).toBe(503);
    await app.stop({ deadlineMs: 1_000 });
    const points = dataPoints(emfDocuments(lines));
    expect(sumOf(points, 'Requests', { ...WEB, Route: '/jobs', StatusClass: '5xx' })).toBe(1);
    expect(sumOf(points, 'JobsAccepted', WEB)).toBe(0);
  });
});
