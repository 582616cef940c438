import { describe, expect, it } from 'vitest';
import type { MetricReading, WindowReadings } from '../../../lib/runtime/release/ports.ts';
import { compareWindows, reportWindows } from '../../../lib/runtime/release/release-report.ts';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const windows = { before: { startMs: T0 - 180_000, endMs: T0 }, after: { startMs: T0 + 600_000, endMs: T0 + 780_000 } };

/** Plenty of traffic: 3 minutes with data, 3000 requests and 300 jobs. */
function readings(p99: number, errorRate: number, jobFailureRate: number, traffic: Partial<MetricReading> = {}): WindowReadings {
  const requests = { datapoints: 3, samples: 3000, ...traffic };
  return {
    'p99-latency': { value: p99, ...requests },
    '5xx-rate': { value: errorRate, ...requests },
    'job-failure-rate': { value: jobFailureRate, datapoints: 3, samples: 300, ...traffic },
  };
}

describe('reportWindows', () => {
  it('compares the whole minutes of the last bake with as many whole minutes before the rollout started', () => {
    // Last switch 12:10:20, bake 3 m → 12:13:20: the whole minutes 12:11–12:13; rollout from 11:50:40 → 11:48–11:50.
    expect(reportWindows(T0 - 9 * 60_000 - 20_000, T0 + 620_000, T0 + 800_000)).toEqual({
      before: { startMs: T0 - 12 * 60_000, endMs: T0 - 10 * 60_000 },
      after: { startMs: T0 + 11 * 60_000, endMs: T0 + 13 * 60_000 },
    });
  });

  it('has nothing to compare when the bake holds no whole minute', () => {
    expect(reportWindows(T0, T0 + 30_000, T0 + 90_000)).toBeUndefined();
  });
});

describe('compareWindows', () => {
  it('judges each metric worse when it rose by more than the limit, relative to before', () => {
    const report = compareWindows(windows, readings(100, 0.01, 0.05), readings(131, 0.0105, 0.05), { maxRegressionPercent: 30 });
    expect(report.rows.map((row) => [row.metric, row.verdict, Math.round(row.changePercent ?? NaN)])).toEqual([
      ['p99-latency', 'regressed', 31],
      ['5xx-rate', 'ok', 5],
      ['job-failure-rate', 'ok', 0],
    ]);
    expect(report.regressed).toBe(true);
  });

  it('never calls an improvement a regression, and without a limit only informs', () => {
    expect(compareWindows(windows, readings(200, 0.02, 0.1), readings(100, 0.01, 0.05), { maxRegressionPercent: 1 }).regressed).toBe(false);
    const informational = compareWindows(windows, readings(100, 0.01, 0.05), readings(900, 0.5, 0.5));
    expect(informational.regressed).toBe(false);
    expect(informational.rows.every((row) => row.verdict === 'ok')).toBe(true);
  });

  it('floors a baseline of 0 at 0.1 % (rates) and 1 ms (p99): from nothing, 0.1 % is no change and 1 % is +900 %', () => {
    const fromZero = compareWindows(windows, readings(0, 0, 0), readings(1, 0.001, 0.01), { maxRegressionPercent: 50 });
    expect(fromZero.rows.map((row) => [row.verdict, Math.round(row.changePercent ?? NaN)])).toEqual([['ok', 0], ['ok', 0], ['regressed', 900]]);
  });

  it('does not judge a window with too little traffic or too few minutes, and says which', () => {
    const report = compareWindows(windows, readings(100, 0.01, 0.05), readings(900, 0.5, 0.5, { samples: 40 }), { maxRegressionPercent: 10 });
    // 40 requests are too few for p99 and the 5xx rate; 40 jobs are enough for the job failure rate.
    expect(report.rows.map((row) => [row.verdict, row.note])).toEqual([
      ['not-enough-traffic', '40 requests after, 100 needed'],
      ['not-enough-traffic', '40 requests after, 100 needed'],
      ['regressed', undefined],
    ]);
    const oneMinute = compareWindows(windows, readings(100, 0.01, 0.05, { datapoints: 1 }), readings(100, 0.01, 0.05), { maxRegressionPercent: 10 });
    expect(oneMinute.rows[0].note).toBe('1 minute(s) with data before, 2 needed');
    expect(oneMinute.regressed).toBe(false);
  });

  it('passes a read problem through as unreadable, not judged', () => {
    const after = { ...readings(900, 0.01, 0.05), 'p99-latency': { datapoints: 0, samples: 0, problem: 'CloudWatch answered Forbidden for latency' } };
    const report = compareWindows(windows, readings(100, 0.01, 0.05), after, { maxRegressionPercent: 10 });
    expect(report.rows[0]).toMatchObject({ verdict: 'unreadable', note: 'CloudWatch answered Forbidden for latency' });
    expect(report.regressed).toBe(false);
  });
});
