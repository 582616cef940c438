import type {
  GetMetricDataCommandInput,
  GetMetricDataCommandOutput,
  MetricDataResult,
  PutMetricDataCommandInput,
  StatusCode,
} from '@aws-sdk/client-cloudwatch';
import { awsError } from './aws-errors.ts';
import type { SimulationContext } from './simulation-context.ts';

/** Raw values of one metric at one moment, as PutMetricData (or an EMF log line) delivers them. */
export interface MetricRecord {
  readonly namespace: string;
  readonly metricName: string;
  /** The exact dimension set: CloudWatch keeps each set as a metric of its own. */
  readonly dimensions: Readonly<Record<string, string>>;
  readonly at: number;
  readonly values: readonly number[];
  /** How many times each value occurred (PutMetricData's Counts). @default - once each */
  readonly counts?: readonly number[];
  readonly unit?: string;
}

/** What a traffic source sees of one slice of time: which version each healthy target serves. */
export interface TrafficSlice {
  readonly startMs: number;
  readonly endMs: number;
  /** One entry per healthy target: the version it runs. */
  readonly serving: readonly string[];
}

/** Produces the raw metric values of one slice (requests, latencies, jobs), timestamped inside it. */
export type TrafficSource = (slice: TrafficSlice) => MetricRecord[];

export interface MetricsSettings {
  /**
   * A value is queryable this long after the minute it falls in closes: EMF metrics pass through
   * CloudWatch Logs, PutMetricData through its own pipeline, and neither is visible at once.
   * @default 30 seconds
   */
  readonly ingestionDelayMs?: number;
  /** Datapoints per GetMetricData page (AWS: up to 100,800), small so that NextToken is exercised. @default 5 */
  readonly pageSize?: number;
}

const MINUTE_MS = 60_000;
const STATISTICS = new Set(['Sum', 'SampleCount', 'Average', 'Minimum', 'Maximum']);
const PERCENTILE = /^p(\d{1,2}(?:\.\d+)?|100)$/;

interface Datapoint {
  readonly at: number;
  readonly value: number;
}

/**
 * CloudWatch's metric store for custom metrics: raw values kept with their timestamps, aggregated
 * at query time into the period each query asks for (buckets from StartTime rounded down to the
 * minute; EndTime exclusive), only periods with values returned, percentiles from the raw values.
 * GetMetricData pages across all its results (`PartialData` on a result that continues on the next
 * page), answers Forbidden or InternalError per result when a test says so, and models no metric
 * math (an Expression fails loudly).
 */
export class SimulatedMetrics {
  private readonly records: MetricRecord[] = [];
  private readonly ingestionDelayMs: number;
  private readonly pageSize: number;
  /** Metric names whose results come back with this status and no data. */
  readonly failingResults = new Map<string, Extract<StatusCode, 'Forbidden' | 'InternalError'>>();

  constructor(
    private readonly context: SimulationContext,
    private readonly servingVersions: () => string[],
    settings: MetricsSettings = {},
  ) {
    this.ingestionDelayMs = settings.ingestionDelayMs ?? 30_000;
    this.pageSize = settings.pageSize ?? 5;
  }

  put(record: MetricRecord): void {
    this.records.push(record);
  }

  /**
   * Runs `source` for every `sliceMs` of virtual time from `since` (the past slices at once, as the
   * fleet serves now) and on from now, as the fleet serves at the end of each slice.
   */
  generate(source: TrafficSource, { since, sliceMs = 10_000 }: { readonly since: number; readonly sliceMs?: number }): void {
    const now = this.context.clock.now();
    let start = since;
    for (; start + sliceMs <= now; start += sliceMs) this.putAll(source({ startMs: start, endMs: start + sliceMs, serving: this.servingVersions() }));
    const next = (startMs: number) => {
      this.context.clock.at(startMs + sliceMs, () => {
        this.putAll(source({ startMs, endMs: startMs + sliceMs, serving: this.servingVersions() }));
        next(startMs + sliceMs);
      });
    };
    next(start);
  }

  /** Every stored record of `metricName`, oldest first. */
  recordsOf(metricName: string): MetricRecord[] {
    return this.records.filter((record) => record.metricName === metricName).sort((a, b) => a.at - b.at);
  }

  putMetricData(input: PutMetricDataCommandInput): Record<string, never> {
    const namespace = input.Namespace ?? '';
    if (!namespace || namespace.startsWith('AWS/')) throw awsError('cloudWatch', 'InvalidParameterValue', `The value ${namespace} for parameter Namespace is not valid.`);
    const data = input.MetricData ?? [];
    if (data.length === 0 || data.length > 1000) throw awsError('cloudWatch', 'InvalidParameterValue', 'The collection MetricData must not be empty and must not exceed 1000 members.');
    for (const datum of data) {
      if (!datum.MetricName) throw awsError('cloudWatch', 'MissingRequiredParameter', 'The parameter MetricData.member.1.MetricName is required.');
      if ((datum.Dimensions?.length ?? 0) > 30) throw awsError('cloudWatch', 'InvalidParameterValue', 'The collection Dimensions must not exceed 30 members.');
      const values = datum.Values ?? (datum.Value === undefined ? [] : [datum.Value]);
      this.put({
        namespace,
        metricName: datum.MetricName,
        dimensions: Object.fromEntries((datum.Dimensions ?? []).map((dimension) => [dimension.Name ?? '', dimension.Value ?? ''])),
        at: datum.Timestamp ? new Date(datum.Timestamp).getTime() : this.context.clock.now(),
        values,
        ...(datum.Counts ? { counts: datum.Counts } : {}),
        ...(datum.Unit ? { unit: datum.Unit } : {}),
      });
    }
    return {};
  }

  getMetricData(input: GetMetricDataCommandInput): GetMetricDataCommandOutput {
    const queries = input.MetricDataQueries ?? [];
    if (queries.length === 0 || queries.length > 500) throw validation('The collection MetricDataQueries must contain between 1 and 500 members.');
    if (!input.StartTime || !input.EndTime) throw awsError('cloudWatch', 'MissingRequiredParameter', 'StartTime and EndTime are required.');
    // Less than 15 days ago: StartTime rounds down to the whole minute.
    const start = Math.floor(new Date(input.StartTime).getTime() / MINUTE_MS) * MINUTE_MS;
    const end = new Date(input.EndTime).getTime();
    if (end <= start) throw validation('The parameter StartTime must be less than the parameter EndTime.');
    const ids = new Set<string>();
    const series = queries.map((query) => {
      if (!query.Id || !/^[a-z][a-zA-Z0-9_]*$/.test(query.Id)) throw validation(`The value ${query.Id} for parameter MetricDataQueries.member.Id is not valid: it must start with a lowercase letter.`);
      if (ids.has(query.Id)) throw validation(`The value ${query.Id} for parameter MetricDataQueries.member.Id is not unique.`);
      ids.add(query.Id);
      if (query.Expression) throw new Error('the AWS simulation does not model metric math (Expression)');
      const stat = query.MetricStat;
      if (!stat?.Metric?.MetricName || !stat.Period || !stat.Stat) throw validation(`MetricDataQueries.member ${query.Id} needs MetricStat with Metric, Period and Stat.`);
      if (stat.Period % 60 !== 0 && ![1, 5, 10, 20, 30].includes(stat.Period)) throw validation(`The parameter Period must be 1, 5, 10, 20, 30 or a multiple of 60 (given ${stat.Period}).`);
      if (!STATISTICS.has(stat.Stat) && !PERCENTILE.test(stat.Stat)) throw validation(`The value ${stat.Stat} for parameter Stat is not a valid statistic.`);
      const failing = this.failingResults.get(stat.Metric.MetricName);
      const datapoints = failing ? [] : this.aggregate(stat.Metric.Namespace ?? '', stat.Metric.MetricName, dimensionsOf(stat.Metric.Dimensions), stat.Period * 1000, stat.Stat, start, end);
      if ((input.ScanBy ?? 'TimestampDescending') === 'TimestampDescending') datapoints.reverse();
      return { id: query.Id, label: query.Label ?? stat.Metric.MetricName, datapoints, status: failing, returnData: query.ReturnData ?? true };
    });

    // One page holds pageSize datapoints of the results in order; NextToken says where the next starts.
    const pageSize = Math.min(this.pageSize, input.MaxDatapoints ?? 100_800);
    const offset = input.NextToken === undefined ? 0 : decodeToken(input.NextToken);
    let index = 0;
    const results: MetricDataResult[] = [];
    for (const entry of series.filter((candidate) => candidate.returnData)) {
      const first = index;
      index += entry.datapoints.length;
      const page = entry.datapoints.slice(Math.max(0, offset - first), Math.max(0, offset + pageSize - first));
      const continues = first + entry.datapoints.length > offset + pageSize;
      const started = first + entry.datapoints.length > offset || entry.datapoints.length === 0;
      if (!started && offset > 0) continue;
      results.push({
        Id: entry.id,
        Label: entry.label,
        Timestamps: page.map((point) => new Date(point.at)),
        Values: page.map((point) => point.value),
        StatusCode: entry.status ?? (continues ? 'PartialData' : 'Complete'),
        ...(entry.status ? { Messages: [{ Code: entry.status, Value: entry.status === 'Forbidden' ? 'User is not authorized to read this metric' : 'Internal error' }] } : {}),
      });
    }
    const next = offset + pageSize < index ? encodeToken(offset + pageSize) : undefined;
    return { $metadata: {}, MetricDataResults: results, Messages: [], ...(next ? { NextToken: next } : {}) };
  }

  private putAll(records: readonly MetricRecord[]): void {
    for (const record of records) this.put(record);
  }

  private aggregate(namespace: string, metricName: string, dimensions: Record<string, string>, periodMs: number, stat: string, start: number, end: number): Datapoint[] {
    const now = this.context.clock.now();
    const buckets = new Map<number, number[]>();
    for (const record of this.records) {
      if (record.namespace !== namespace || record.metricName !== metricName || !sameDimensions(record.dimensions, dimensions)) continue;
      if (record.at < start || record.at >= end) continue;
      // Not ingested yet: the minute it falls in closed less than ingestionDelayMs ago.
      if (Math.floor(record.at / MINUTE_MS) * MINUTE_MS + MINUTE_MS + this.ingestionDelayMs > now) continue;
      const bucket = start + Math.floor((record.at - start) / periodMs) * periodMs;
      const values = buckets.get(bucket) ?? [];
      record.values.forEach((value, position) => {
        for (let count = record.counts?.[position] ?? 1; count > 0; count -= 1) values.push(value);
      });
      buckets.set(bucket, values);
    }
    return [...buckets.entries()]
      .filter(([, values]) => values.length > 0)
      .sort(([a], [b]) => a - b)
      .map(([at, values]) => ({ at, value: statistic(stat, values) }));
  }
}

function statistic(stat: string, values: number[]): number {
  switch (stat) {
    case 'Sum':
      return values.reduce((sum, value) => sum + value, 0);
    case 'SampleCount':
      return values.length;
    case 'Average':
      return values.reduce((sum, value) => sum + value, 0) / values.length;
    case 'Minimum':
      return Math.min(...values);
    case 'Maximum':
      return Math.max(...values);
    default: {
      // Nearest rank: the smallest value at or above the percentile.
      const percentile = Number(stat.slice(1));
      const sorted = [...values].sort((a, b) => a - b);
      return sorted[Math.max(0, Math.ceil((percentile / 100) * sorted.length) - 1)];
    }
  }
}

function dimensionsOf(dimensions: ReadonlyArray<{ Name?: string; Value?: string }> | undefined): Record<string, string> {
  return Object.fromEntries((dimensions ?? []).map((dimension) => [dimension.Name ?? '', dimension.Value ?? '']));
}

function sameDimensions(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}

function validation(message: string): Error {
  return awsError('cloudWatch', 'InvalidParameterValue', message);
}

function encodeToken(offset: number): string {
  return Buffer.from(`metrics:${offset}`).toString('base64');
}

function decodeToken(token: string): number {
  const match = /^metrics:(\d+)$/.exec(Buffer.from(token, 'base64').toString());
  if (!match) throw awsError('cloudWatch', 'InvalidNextToken', 'The service returned an invalid NextToken.');
  return Number(match[1]);
}
