// The EMF writer: what it prints is a valid embedded metric format document whose numbers are what
// was recorded (sums for counters, every value for distributions), within the format's limits, in
// the CloudWatch period the values happened in, and written on its interval and at stop.
import { describe, expect, it } from 'vitest';
import { EmbeddedMetrics, EmbeddedMetricsError, type EmbeddedMetricsOptions } from '../../lib/runtime/embedded-metrics.ts';
import type { LogLevel } from '../../lib/runtime/json-logger.ts';
import { dataPoints, emfDocuments, samplesOf, sumOf } from '../helpers/emf.ts';
import { SIMULATION_EPOCH, VirtualClock } from '../helpers/virtual-clock.ts';

const WRITER = { Stage: 'dev', Service: 'web' };
const TOTAL = [['Stage', 'Service']];
const BY_ROUTE = [['Stage', 'Service'], ['Stage', 'Service', 'Route', 'StatusClass']];

function writer(options: Partial<EmbeddedMetricsOptions> = {}) {
  const lines: string[] = [];
  const clock = new VirtualClock();
  const metrics = new EmbeddedMetrics({ namespace: 'sluice', dimensions: WRITER, clock, write: (line) => lines.push(line), ...options });
  return { metrics, lines, clock };
}

describe('EmbeddedMetrics', () => {
  it('writes one document per series: counters summed, every value of a distribution kept, under the declared dimension sets', () => {
    const { metrics, lines, clock } = writer();
    const jobs = { dimensions: { Route: '/jobs', StatusClass: '2xx' }, dimensionSets: BY_ROUTE };
    const missing = { dimensions: { Route: 'unmatched', StatusClass: '4xx' }, dimensionSets: BY_ROUTE };
    metrics.count(jobs, 'Requests');
    metrics.observe(jobs, 'Latency', 'Milliseconds', 12.5);
    clock.timers.tick(1_000);
    metrics.count(jobs, 'Requests');
    metrics.observe(jobs, 'Latency', 'Milliseconds', 40);
    metrics.count(missing, 'Requests');
    metrics.observe(missing, 'Latency', 'Milliseconds', 0.25);
    metrics.count({ dimensionSets: TOTAL }, 'JobsAccepted', 2);
    expect(lines).toEqual([]);
    metrics.flush();

    const documents = emfDocuments(lines);
    expect(documents).toHaveLength(3);
    expect(documents[0]).toMatchObject({
      level: 'info',
      event: 'metrics',
      Stage: 'dev',
      Service: 'web',
      Route: '/jobs',
      StatusClass: '2xx',
      Requests: 2,
      Latency: [12.5, 40],
      _aws: {
        // The window's first value: CloudWatch files the data point under the minute it began in.
        Timestamp: SIMULATION_EPOCH,
        CloudWatchMetrics: [{
          Namespace: 'sluice',
          Dimensions: BY_ROUTE,
          Metrics: [{ Name: 'Requests', Unit: 'Count' }, { Name: 'Latency', Unit: 'Milliseconds' }],
        }],
      },
    });
    const points = dataPoints(documents);
    expect(sumOf(points, 'Requests', { Stage: 'dev', Service: 'web' })).toBe(3);
    expect(sumOf(points, 'Requests', { Stage: 'dev', Service: 'web', Route: '/jobs', StatusClass: '2xx' })).toBe(2);
    expect(samplesOf(points, 'Latency', { Stage: 'dev', Service: 'web' }).sort((a, b) => a - b)).toEqual([0.25, 12.5, 40]);
    expect(sumOf(points, 'JobsAccepted', { Stage: 'dev', Service: 'web' })).toBe(2);
    // Nothing recorded since: nothing more to write.
    metrics.flush();
    expect(lines).toHaveLength(3);
  });

  it('writes a distribution as soon as it holds 100 values, so no line holds more and memory stays bounded', () => {
    const { metrics, lines } = writer();
    const series = { dimensionSets: TOTAL };
    const recorded = Array.from({ length: 250 }, (_, n) => n + 0.5);
    for (const value of recorded) metrics.observe(series, 'JobDuration', 'Milliseconds', value);
    expect(lines).toHaveLength(2);
    metrics.flush();
    const documents = emfDocuments(lines);
    expect(documents.map((document) => (document.JobDuration as number[]).length)).toEqual([100, 100, 50]);
    expect(samplesOf(dataPoints(documents), 'JobDuration', WRITER)).toEqual(recorded);
  });

  it('never lets a window span two CloudWatch periods: a value in a new minute writes the old minute first', () => {
    const { metrics, lines, clock } = writer();
    const series = { dimensionSets: TOTAL };
    clock.timers.setSystemTime(Date.UTC(2026, 0, 1, 12, 0, 59, 500));
    metrics.count(series, 'JobsProcessed');
    clock.timers.setSystemTime(Date.UTC(2026, 0, 1, 12, 1, 0, 100));
    metrics.count(series, 'JobsProcessed');
    metrics.count(series, 'JobsProcessed');
    metrics.flush();
    expect(emfDocuments(lines).map((document) => [new Date(document._aws.Timestamp).toISOString(), document.JobsProcessed])).toEqual([
      ['2026-01-01T12:00:59.500Z', 1],
      ['2026-01-01T12:01:00.100Z', 2],
    ]);
  });

  it('at high resolution marks every metric StorageResolution 1 and keeps windows within one second', () => {
    const { metrics, lines, clock } = writer({ storageResolution: 1 });
    const series = { dimensionSets: TOTAL };
    metrics.count(series, 'Requests');
    clock.timers.tick(1_000);
    metrics.count(series, 'Requests');
    metrics.flush();
    const documents = emfDocuments(lines);
    expect(documents).toHaveLength(2);
    expect(documents[0]!._aws.CloudWatchMetrics[0]!.Metrics).toEqual([{ Name: 'Requests', Unit: 'Count', StorageResolution: 1 }]);
  });

  it('splits a series with more than 100 metrics over several documents', () => {
    const { metrics, lines } = writer();
    const series = { dimensionSets: TOTAL };
    for (let n = 0; n < 150; n += 1) metrics.count(series, `Metric${n}`, n);
    metrics.flush();
    const documents = emfDocuments(lines);
    expect(documents.map((document) => document._aws.CloudWatchMetrics[0]!.Metrics.length)).toEqual([100, 50]);
    const points = dataPoints(documents);
    expect(sumOf(points, 'Metric149', WRITER)).toBe(149);
    expect(new Set(points.map((point) => point.name)).size).toBe(150);
  });

  it('writes every flushIntervalMs once started, and what is left at stop; start and stop are safe twice', async () => {
    const { metrics, lines, clock } = writer({ flushIntervalMs: 5_000 });
    const series = { dimensionSets: TOTAL };
    metrics.start();
    metrics.start();
    metrics.count(series, 'JobsProcessed');
    await clock.timers.tickAsync(4_999);
    expect(lines).toHaveLength(0);
    await clock.timers.tickAsync(1);
    expect(emfDocuments(lines).map((document) => document.JobsProcessed)).toEqual([1]);
    metrics.count(series, 'JobsProcessed', 3);
    await metrics.stop();
    await metrics.stop();
    expect(emfDocuments(lines).map((document) => document.JobsProcessed)).toEqual([1, 3]);
    // Stopped: the timer is gone.
    metrics.count(series, 'JobsProcessed');
    await clock.timers.tickAsync(60_000);
    expect(lines).toHaveLength(2);
    expect(clock.timers.countTimers()).toBe(0);
  });

  it('drops a value that is not a finite number, and says so once per metric', () => {
    const logged: { level: LogLevel; event: string; fields: Record<string, unknown> }[] = [];
    const { metrics, lines } = writer({ logger: { log: (level, event, fields = {}) => logged.push({ level, event, fields: { ...fields } }) } });
    const series = { dimensionSets: TOTAL };
    metrics.observe(series, 'Latency', 'Milliseconds', Number.NaN);
    metrics.observe(series, 'Latency', 'Milliseconds', Number.POSITIVE_INFINITY);
    metrics.observe(series, 'Latency', 'Milliseconds', 3);
    metrics.flush();
    expect(emfDocuments(lines).map((document) => document.Latency)).toEqual([3]);
    expect(logged).toEqual([{ level: 'warn', event: 'metrics.value_dropped', fields: { metric: 'Latency', value: 'NaN', reason: 'CloudWatch accepts finite numbers only' } }]);
  });

  it('refuses settings that CloudWatch would reject, listing every problem', () => {
    const thrown = (() => {
      try {
        new EmbeddedMetrics({ namespace: 'my app', dimensions: { Stage: '', time: 'x' }, flushIntervalMs: -1 });
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(thrown).toBeInstanceOf(EmbeddedMetricsError);
    expect((thrown as EmbeddedMetricsError).problems).toEqual([
      'namespace must be 1 to 256 letters, digits or . _ # : / - (given "my app")',
      'flushIntervalMs must be a whole number between 0 and 60000 milliseconds (given -1)',
      'dimension Stage must be 1 to 1024 printable ASCII characters, not only spaces (given "")',
      'dimension name "time" is taken by the line itself (_aws, time, level, component, event)',
    ]);
  });

  it('refuses a series that names a dimension without a value, or more than 30 in one set, or a bad unit', () => {
    const { metrics } = writer();
    expect(() => metrics.count({ dimensionSets: [['Stage', 'Route']] }, 'Requests')).toThrow(/dimension set \[Stage, Route\] names Route, which has no value \(known: Stage, Service\)/);
    const many = Object.fromEntries(Array.from({ length: 31 }, (_, n) => [`D${n}`, 'x']));
    expect(() => metrics.count({ dimensions: many, dimensionSets: [Object.keys(many)] }, 'Requests')).toThrow(/a dimension set may hold at most 30 dimensions \(given 31\)/);
    expect(() => metrics.count({ dimensions: { Stage: 'prod' }, dimensionSets: TOTAL }, 'Requests')).toThrow(/dimension Stage is the writer's own/);
    expect(() => metrics.observe({ dimensionSets: TOTAL }, 'Latency', 'Millis' as never, 1)).toThrow(/the unit of Latency must be one of Seconds, Microseconds, Milliseconds/);
    expect(() => metrics.count({ dimensionSets: TOTAL }, 'Stage')).toThrow(/metric name "Stage" is taken by a dimension/);
    metrics.observe({ dimensionSets: TOTAL }, 'Latency', 'Milliseconds', 1);
    expect(() => metrics.count({ dimensionSets: TOTAL }, 'Latency')).toThrow(/metric Latency is recorded both as a count and as a distribution/);
  });
});
