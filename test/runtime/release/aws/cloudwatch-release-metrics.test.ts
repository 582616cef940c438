import { afterEach, describe, expect, it } from 'vitest';
import { CloudWatchReleaseMetrics } from '../../../../lib/runtime/release/aws/cloudwatch-release-metrics.ts';
import { type AwsSimulation, createAwsSimulation } from '../../../helpers/aws-simulation/create-aws-simulation.ts';
import type { MetricRecord } from '../../../helpers/aws-simulation/metrics.ts';

let sim: AwsSimulation;
afterEach(() => sim.restore());

const MINUTE = 60_000;

function put(metricName: string, dimensions: Record<string, string>, at: number, values: number[], counts?: number[]): void {
  const record: MetricRecord = { namespace: 'sluice', metricName, dimensions, at, values, ...(counts ? { counts } : {}) };
  sim.metrics.put(record);
}

describe('CloudWatchReleaseMetrics', () => {
  it('reads p99 over the whole window from the raw latencies, and the rates from the window totals across pages', async () => {
    sim = createAwsSimulation({ stage: 'dev', metrics: { pageSize: 2 } });
    const start = sim.clock.now() - 10 * MINUTE;
    const web = { Stage: 'dev', Service: 'web' };
    for (let minute = 0; minute < 3; minute += 1) {
      const at = start + minute * MINUTE + 5_000;
      // 100 requests a minute, latencies 1..100 ms; 5xx in the last minute only.
      put('Requests', web, at, [1], [100]);
      put('Latency', web, at, Array.from({ length: 100 }, (_, index) => index + 1 + minute * 100));
      if (minute === 2) put('Requests', { ...web, StatusClass: '5xx' }, at, [1], [6]);
      put('JobsProcessed', { Stage: 'dev', Service: 'worker' }, at, [1], [9]);
      put('JobsFailed', { Stage: 'dev', Service: 'queue-lambda' }, at, [1], [1]);
    }
    // Another stage and the Route dimension set are other metrics: left out.
    put('Requests', { Stage: 'prod', Service: 'web' }, start, [1], [1000]);
    put('Requests', { ...web, Route: '/jobs', StatusClass: '5xx' }, start, [1], [1000]);

    const readings = await sim.run(new CloudWatchReleaseMetrics({ client: sim.clients.cloudWatch, stage: 'dev', clock: sim.clock }).read({ startMs: start, endMs: start + 3 * MINUTE }));

    // 300 latencies 1..300: the 297th is the 99th percentile (nearest rank).
    expect(readings['p99-latency']).toEqual({ value: 297, datapoints: 3, samples: 300 });
    expect(readings['5xx-rate']).toEqual({ value: 6 / 300, datapoints: 3, samples: 300 });
    // Worker and queue Lambda together: 3 failed of 30.
    expect(readings['job-failure-rate']).toEqual({ value: 3 / 30, datapoints: 3, samples: 30 });
    expect(sim.state.calls.filter((call) => call.operation === 'GetMetricData').length).toBeGreaterThan(3);
  });

  it('reports no value without data, and a result CloudWatch refused as a problem', async () => {
    sim = createAwsSimulation({ stage: 'dev' });
    const start = sim.clock.now() - 10 * MINUTE;
    put('Requests', { Stage: 'dev', Service: 'web' }, start, [1], [500]);
    sim.metrics.failingResults.set('Latency', 'Forbidden');

    const readings = await sim.run(new CloudWatchReleaseMetrics({ client: sim.clients.cloudWatch, stage: 'dev', clock: sim.clock }).read({ startMs: start, endMs: start + 2 * MINUTE }));

    expect(readings['p99-latency'].problem).toBe('CloudWatch answered Forbidden for Latency (User is not authorized to read this metric)');
    expect(readings['5xx-rate']).toEqual({ value: 0, datapoints: 1, samples: 500 });
    expect(readings['job-failure-rate']).toEqual({ datapoints: 0, samples: 0 });
  });

  it('does not see the last minute before CloudWatch has ingested it', async () => {
    sim = createAwsSimulation({ stage: 'dev', metrics: { ingestionDelayMs: 30_000 } });
    const start = sim.clock.now();
    put('Requests', { Stage: 'dev', Service: 'web' }, start + 10_000, [1], [100]);
    const metrics = new CloudWatchReleaseMetrics({ client: sim.clients.cloudWatch, stage: 'dev', clock: sim.clock });
    await sim.run(sim.clock.sleep(MINUTE + 20_000));
    expect((await sim.run(metrics.read({ startMs: start, endMs: start + MINUTE })))['5xx-rate'].samples).toBe(0);
    await sim.run(sim.clock.sleep(10_000));
    expect((await sim.run(metrics.read({ startMs: start, endMs: start + MINUTE })))['5xx-rate'].samples).toBe(100);
  });
});
