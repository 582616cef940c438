// Reads log lines as CloudWatch would: a line whose root holds `_aws.CloudWatchMetrics` is an
// embedded metric format document, and is checked against the specification's rules
// (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html)
// before a test looks at its numbers. Written from the specification, not from the writer under test.
import { expect } from 'vitest';

/** MetricDatum.Unit's values, as the CloudWatch API reference lists them. */
const CLOUDWATCH_UNITS = new Set([
  'Seconds', 'Microseconds', 'Milliseconds', 'Bytes', 'Kilobytes', 'Megabytes', 'Gigabytes', 'Terabytes', 'Bits', 'Kilobits',
  'Megabits', 'Gigabits', 'Terabits', 'Percent', 'Count', 'Bytes/Second', 'Kilobytes/Second', 'Megabytes/Second',
  'Gigabytes/Second', 'Terabytes/Second', 'Bits/Second', 'Kilobits/Second', 'Megabits/Second', 'Gigabits/Second',
  'Terabits/Second', 'Count/Second', 'None',
]);

export interface MetricDefinition {
  readonly Name: string;
  readonly Unit?: string;
  readonly StorageResolution?: number;
}

export interface MetricDirective {
  readonly Namespace: string;
  readonly Dimensions: string[][];
  readonly Metrics: MetricDefinition[];
}

export interface EmfDocument {
  readonly _aws: { readonly Timestamp: number; readonly CloudWatchMetrics: MetricDirective[] };
  readonly [member: string]: unknown;
}

/** Every EMF document among `lines` (other log lines are skipped), each checked against the specification. */
export function emfDocuments(lines: readonly string[]): EmfDocument[] {
  const documents: EmfDocument[] = [];
  for (const line of lines) {
    const text = line.trim();
    if (!text.startsWith('{')) continue;
    const root = JSON.parse(text) as Record<string, unknown>;
    if (typeof root._aws !== 'object' || root._aws === null || !('CloudWatchMetrics' in root._aws)) continue;
    expectValidEmf(root);
    documents.push(root as EmfDocument);
  }
  return documents;
}

/** The specification's MUSTs, for one parsed log event. */
export function expectValidEmf(root: Record<string, unknown>): void {
  const meta = root._aws as Record<string, unknown>;
  expect(Object.keys(meta).sort(), 'the metadata object holds Timestamp and CloudWatchMetrics').toEqual(['CloudWatchMetrics', 'Timestamp']);
  expect(Number.isInteger(meta.Timestamp) && (meta.Timestamp as number) > 0, 'Timestamp is milliseconds since the epoch').toBe(true);
  const directives = meta.CloudWatchMetrics as unknown[];
  expect(Array.isArray(directives) && directives.length > 0, 'CloudWatchMetrics is a non-empty array').toBe(true);
  for (const directive of directives as Record<string, unknown>[]) {
    expect(Object.keys(directive).sort(), 'a MetricDirective holds Namespace, Dimensions and Metrics only').toEqual(['Dimensions', 'Metrics', 'Namespace']);
    expect(typeof directive.Namespace === 'string' && /^[a-zA-Z0-9._#:/-]{1,256}$/.test(directive.Namespace), `Namespace ${String(directive.Namespace)}`).toBe(true);
    const dimensionSets = directive.Dimensions as unknown[][];
    expect(Array.isArray(dimensionSets), 'Dimensions is an array of dimension sets').toBe(true);
    for (const set of dimensionSets) {
      expect(Array.isArray(set) && set.length <= 30, `a dimension set holds at most 30 names (given ${JSON.stringify(set)})`).toBe(true);
      for (const name of set) {
        expect(typeof root[name as string], `dimension ${String(name)} is a string member of the root`).toBe('string');
      }
    }
    const metrics = directive.Metrics as Record<string, unknown>[];
    expect(Array.isArray(metrics) && metrics.length >= 1 && metrics.length <= 100, `a directive holds 1 to 100 metrics (given ${metrics.length})`).toBe(true);
    for (const definition of metrics) {
      expect(Object.keys(definition).every((key) => ['Name', 'Unit', 'StorageResolution'].includes(key)), `MetricDefinition members ${Object.keys(definition).join(', ')}`).toBe(true);
      const name = definition.Name as string;
      expect(typeof name === 'string' && name.length > 0 && name.length <= 1024, 'a metric has a name').toBe(true);
      if (definition.Unit !== undefined) expect(CLOUDWATCH_UNITS.has(definition.Unit as string), `unit ${String(definition.Unit)} of ${name}`).toBe(true);
      if (definition.StorageResolution !== undefined) expect([1, 60]).toContain(definition.StorageResolution);
      const value = root[name];
      const values = Array.isArray(value) ? value : [value];
      expect(values.length >= 1 && values.length <= 100, `${name} has 1 to 100 values (given ${values.length})`).toBe(true);
      expect(values.every((entry) => typeof entry === 'number' && Number.isFinite(entry)), `${name}'s values are numbers (given ${JSON.stringify(value)})`).toBe(true);
    }
  }
}

/** One data point as CloudWatch stores it: which metric, under which dimension set and values, what it holds. */
export interface DataPoint {
  readonly namespace: string;
  readonly name: string;
  readonly unit: string | undefined;
  /** The dimension set's names and their values, e.g. { Stage: 'dev', Service: 'web' }. */
  readonly dimensions: Readonly<Record<string, string>>;
  readonly values: readonly number[];
  readonly timestamp: number;
}

/** Every data point the documents make: one per metric per dimension set. */
export function dataPoints(documents: readonly EmfDocument[]): DataPoint[] {
  return documents.flatMap((document) =>
    document._aws.CloudWatchMetrics.flatMap((directive) =>
      directive.Dimensions.flatMap((set) =>
        directive.Metrics.map((definition) => {
          const value = document[definition.Name];
          return {
            namespace: directive.Namespace,
            name: definition.Name,
            unit: definition.Unit,
            dimensions: Object.fromEntries(set.map((dimension) => [dimension, document[dimension] as string])),
            values: (Array.isArray(value) ? value : [value]) as number[],
            timestamp: document._aws.Timestamp,
          };
        }),
      ),
    ),
  );
}

/** The Sum statistic of one metric under exactly these dimensions, over all the data points. */
export function sumOf(points: readonly DataPoint[], name: string, dimensions: Readonly<Record<string, string>>): number {
  return samplesOf(points, name, dimensions).reduce((total, value) => total + value, 0);
}

/** Every value of one metric under exactly these dimensions (what CloudWatch computes percentiles over). */
export function samplesOf(points: readonly DataPoint[], name: string, dimensions: Readonly<Record<string, string>>): number[] {
  const wanted = JSON.stringify(Object.entries(dimensions).sort());
  return points.filter((point) => point.name === name && JSON.stringify(Object.entries(point.dimensions).sort()) === wanted).flatMap((point) => point.values);
}

/** The distinct dimension sets (as sorted name lists) a metric is published under. */
export function dimensionSetsOf(points: readonly DataPoint[], name: string): string[][] {
  const sets = new Set(points.filter((point) => point.name === name).map((point) => JSON.stringify(Object.keys(point.dimensions).sort())));
  return [...sets].map((set) => JSON.parse(set) as string[]).sort((a, b) => (a.join(',') < b.join(',') ? -1 : 1));
}
