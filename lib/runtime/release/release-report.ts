// The before/after report of a release: the same length of time before the rollout started and after
// the last target switched, metric by metric, and whether any got worse by more than the limit.
import { ReleaseError } from './errors.ts';
import type { MetricReading, ReportMetric, TimeWindow, WindowReadings } from './ports.ts';

const MINUTE_MS = 60_000;

/** In the order the report lists them. */
export const REPORT_METRICS: readonly ReportMetric[] = ['p99-latency', '5xx-rate', 'job-failure-rate'];

export const REPORT_METRIC_LABELS: Readonly<Record<ReportMetric, string>> = {
  'p99-latency': 'p99 latency',
  '5xx-rate': '5xx rate',
  'job-failure-rate': 'job failure rate',
};

/** How much data a window needs before a metric is judged. */
export interface ReportMinimums {
  /**
   * One-minute periods with data, in each window.
   * @default 2 — one minute alone is one datapoint of noise
   */
  readonly datapoints?: number;
  /**
   * Requests in each window for p99 latency and the 5xx rate: below 100 a p99 is just the slowest request.
   * @default 100
   */
  readonly requests?: number;
  /**
   * Jobs (processed + failed) in each window for the job failure rate.
   * @default 20
   */
  readonly jobs?: number;
}

/**
 * What "before 0" counts as. A relative change from 0 is infinite, so the baseline is never below
 * these: 1 ms of p99 latency, a 0.1 % rate (one request or job in a thousand). From 0 % errors, a
 * version at 0.1 % or less is no regression; one at 1 % reads +900 %.
 */
export const BASELINE_FLOORS: Readonly<Record<ReportMetric, number>> = {
  'p99-latency': 1,
  '5xx-rate': 0.001,
  'job-failure-rate': 0.001,
};

export type RowVerdict = 'ok' | 'regressed' | 'not-enough-traffic' | 'unreadable';

export interface ReportRow {
  readonly metric: ReportMetric;
  readonly before: MetricReading;
  readonly after: MetricReading;
  /** (after − baseline) / baseline × 100, the baseline floored (BASELINE_FLOORS); undefined when not judged. */
  readonly changePercent?: number;
  readonly verdict: RowVerdict;
  /** Why a row is not judged: the window short of data, or the read's problem. */
  readonly note?: string;
}

export interface ReleaseReport {
  /** The zone just released (`--by-zone`), or undefined for the whole release. */
  readonly zone?: string;
  readonly before: TimeWindow;
  readonly after: TimeWindow;
  /** `--max-regression`; undefined: the report only informs. */
  readonly maxRegressionPercent?: number;
  readonly rows: readonly ReportRow[];
  /** True when a judged metric got worse by more than maxRegressionPercent. */
  readonly regressed: boolean;
}

/**
 * The windows to compare. After: the whole minutes from the last switch (the last target turning
 * healthy on the new version) to the end of its bake; CloudWatch aggregates by minute, and a minute
 * the old version still served part of would dilute the new one. Before: as many whole minutes,
 * ending at the minute the rollout started in. Undefined when the bake holds no whole minute.
 */
export function reportWindows(rolloutStartedAt: number, lastSwitchAt: number, bakeEndsAt: number): { before: TimeWindow; after: TimeWindow } | undefined {
  const afterStart = Math.ceil(lastSwitchAt / MINUTE_MS) * MINUTE_MS;
  const afterEnd = Math.floor(bakeEndsAt / MINUTE_MS) * MINUTE_MS;
  if (afterEnd - afterStart < MINUTE_MS) return undefined;
  const beforeEnd = Math.floor(rolloutStartedAt / MINUTE_MS) * MINUTE_MS;
  return { before: { startMs: beforeEnd - (afterEnd - afterStart), endMs: beforeEnd }, after: { startMs: afterStart, endMs: afterEnd } };
}

/** Compares two windows metric by metric. Every metric here is worse when it is higher. */
export function compareWindows(
  windows: { readonly before: TimeWindow; readonly after: TimeWindow },
  before: WindowReadings,
  after: WindowReadings,
  options: { readonly maxRegressionPercent?: number; readonly minimums?: ReportMinimums; readonly zone?: string } = {},
): ReleaseReport {
  const minimums = { datapoints: options.minimums?.datapoints ?? 2, requests: options.minimums?.requests ?? 100, jobs: options.minimums?.jobs ?? 20 };
  const rows = REPORT_METRICS.map((metric): ReportRow => {
    const pair = { metric, before: before[metric], after: after[metric] };
    const problem = pair.before.problem ?? pair.after.problem;
    if (problem) return { ...pair, verdict: 'unreadable', note: problem };
    const short = shortOfData(metric, pair.before, pair.after, minimums);
    if (short || pair.before.value === undefined || pair.after.value === undefined) {
      return { ...pair, verdict: 'not-enough-traffic', note: short ?? 'no data' };
    }
    const baseline = Math.max(pair.before.value, BASELINE_FLOORS[metric]);
    const changePercent = ((pair.after.value - baseline) / baseline) * 100;
    const regressed = options.maxRegressionPercent !== undefined && changePercent > options.maxRegressionPercent;
    return { ...pair, changePercent, verdict: regressed ? 'regressed' : 'ok' };
  });
  return {
    ...(options.zone === undefined ? {} : { zone: options.zone }),
    before: windows.before,
    after: windows.after,
    ...(options.maxRegressionPercent === undefined ? {} : { maxRegressionPercent: options.maxRegressionPercent }),
    rows,
    regressed: rows.some((row) => row.verdict === 'regressed'),
  };
}

function shortOfData(metric: ReportMetric, before: MetricReading, after: MetricReading, minimums: Required<ReportMinimums>): string | undefined {
  const needed = metric === 'job-failure-rate' ? minimums.jobs : minimums.requests;
  const unit = metric === 'job-failure-rate' ? 'jobs' : 'requests';
  for (const [name, reading] of [['before', before], ['after', after]] as const) {
    if (reading.datapoints < minimums.datapoints) return `${reading.datapoints} minute(s) with data ${name}, ${minimums.datapoints} needed`;
    if (reading.samples < needed) return `${reading.samples} ${unit} ${name}, ${needed} needed`;
  }
  return undefined;
}

/** A metric got worse by more than `--max-regression`: the release rolls back. */
export class MetricRegressionError extends ReleaseError {
  constructor(readonly report: ReleaseReport) {
    const worse = report.rows.filter((row) => row.verdict === 'regressed');
    super(
      `${worse.map((row) => `${REPORT_METRIC_LABELS[row.metric]} ${formatMetricValue(row.metric, row.before.value)} → ${formatMetricValue(row.metric, row.after.value)} (${formatChange(row.changePercent)})`).join(', ')}`
        + ` after ${report.zone ? `zone ${report.zone}` : 'the release'}: worse by more than --max-regression ${report.maxRegressionPercent}%`,
      'MetricRegression',
    );
    this.name = 'MetricRegressionError';
  }
}

/** `412 ms`, `0.35 %`, or `—` without a value. */
export function formatMetricValue(metric: ReportMetric, value: number | undefined): string {
  if (value === undefined) return '—';
  if (metric === 'p99-latency') return `${Number(value.toFixed(value < 10 ? 1 : 0))} ms`;
  return `${Number((value * 100).toFixed(2))} %`;
}

/** `+242 %`, `-3 %`, or empty when not judged. */
export function formatChange(changePercent: number | undefined): string {
  if (changePercent === undefined) return '';
  const rounded = Math.abs(changePercent) < 10 ? Number(changePercent.toFixed(1)) : Math.round(changePercent);
  return `${rounded > 0 ? '+' : ''}${rounded} %`;
}

/** What a row says in the report's last column. */
export function describeVerdict(row: ReportRow): string {
  switch (row.verdict) {
    case 'ok':
      return 'ok';
    case 'regressed':
      return 'REGRESSED';
    case 'not-enough-traffic':
      return `not enough traffic to judge (${row.note})`;
    case 'unreadable':
      return `could not read: ${row.note}`;
  }
}
