// Traffic a test controls: what each version's requests and jobs look like, turned into the raw
// metric values the app and the worker would publish (embedded metric format: the same names and
// dimension sets as lib/runtime/metric-contract.ts promises; spelled out here, not imported).
import type { MetricRecord, TrafficSource } from './metrics.ts';

/** How one version behaves while a healthy target serves it. */
export interface VersionBehaviour {
  /** Typical latency; each request takes 80–120 % of it, spread evenly (no randomness). */
  readonly latencyMs: number;
  /** Share of requests answered 5xx. @default 0 */
  readonly errorRate?: number;
  /** Share of jobs whose handler fails. @default 0 */
  readonly jobFailureRate?: number;
}

export interface StageTraffic {
  readonly stage: string;
  /** Behaviour per version; a version not listed behaves like `otherwise`. */
  readonly versions: Readonly<Record<string, VersionBehaviour>>;
  readonly otherwise: VersionBehaviour;
  /** Requests per healthy target per slice (10 s). @default 20 */
  readonly requestsPerTarget?: number;
  /** Jobs per healthy target per slice. @default 5 */
  readonly jobsPerTarget?: number;
}

/**
 * The web app's Requests (by Stage+Service and by StatusClass) and Latency, and the worker's
 * JobsProcessed / JobsFailed, for the targets serving in a slice. Failures are spread evenly: a
 * fractional share carries over to the next slice, so 1 % of 20 requests is one every 5 slices.
 */
export function stageTraffic(traffic: StageTraffic): TrafficSource {
  const carried = new Map<string, number>();
  const share = (key: string, rate: number, total: number) => {
    const exact = rate * total + (carried.get(key) ?? 0);
    const whole = Math.floor(exact + 1e-9);
    carried.set(key, exact - whole);
    return whole;
  };
  return ({ startMs, endMs, serving }) => {
    const at = Math.floor((startMs + endMs) / 2);
    const web = { Stage: traffic.stage, Service: 'web' };
    const worker = { Stage: traffic.stage, Service: 'worker' };
    const record = (metricName: string, dimensions: Record<string, string>, values: number[], counts?: number[]): MetricRecord => ({
      namespace: 'sluice', metricName, dimensions, at, values, ...(counts ? { counts } : {}),
    });
    const records: MetricRecord[] = [];
    for (const version of new Set(serving)) {
      const targets = serving.filter((candidate) => candidate === version).length;
      const behaviour = traffic.versions[version] ?? traffic.otherwise;
      const requests = targets * (traffic.requestsPerTarget ?? 20);
      const errors = share(`${version} 5xx`, behaviour.errorRate ?? 0, requests);
      const latencies = Array.from({ length: requests }, (_, index) => behaviour.latencyMs * (0.8 + (0.4 * ((index * 7) % requests)) / Math.max(1, requests - 1)));
      records.push(record('Requests', web, [1], [requests]), record('Latency', web, latencies));
      records.push(record('Requests', { ...web, StatusClass: '2xx' }, [1], [requests - errors]));
      if (errors > 0) records.push(record('Requests', { ...web, StatusClass: '5xx' }, [1], [errors]));
      const jobs = targets * (traffic.jobsPerTarget ?? 5);
      const failed = share(`${version} jobs`, behaviour.jobFailureRate ?? 0, jobs);
      if (jobs - failed > 0) records.push(record('JobsProcessed', worker, [1], [jobs - failed]));
      if (failed > 0) records.push(record('JobsFailed', worker, [1], [failed]));
    }
    return records;
  };
}
