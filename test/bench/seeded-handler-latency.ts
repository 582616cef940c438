// The benchmark handler's latency: log-normal with a 50 ms median and a 1 s 99th percentile, derived
// from a hash of the message body and a seed. So every system sees the same latency for the same
// message, whatever order it processes the messages in, and a re-run sees the same workload.
import { createHash } from 'node:crypto';

export const MEDIAN_MS = 50;
export const P99_MS = 1_000;

/** The standard normal's 99th percentile. */
const Z_99 = 2.3263478740408408;
/** ln(P99 / median) / z99 ≈ 1.29: the spread that puts the 99th percentile at P99_MS. */
const SIGMA = Math.log(P99_MS / MEDIAN_MS) / Z_99;

/** Milliseconds the handler takes for `body` (Box–Muller over two 32-bit words of SHA-256(seed, body)). */
export function handlerLatencyMs(seed: string, body: string): number {
  const digest = createHash('sha256').update(seed).update('\0').update(body).digest();
  const u1 = (digest.readUInt32BE(0) + 1) / 2 ** 32; // (0, 1]: the logarithm stays finite
  const u2 = digest.readUInt32BE(4) / 2 ** 32;
  const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  return MEDIAN_MS * Math.exp(SIGMA * z);
}

export interface LatencySummary {
  readonly medianMs: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  readonly maxMs: number;
}

export function summarise(latencies: readonly number[]): LatencySummary {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (quantile: number) => sorted[Math.min(sorted.length - 1, Math.floor(quantile * sorted.length))]!;
  return {
    medianMs: at(0.5),
    p99Ms: at(0.99),
    meanMs: sorted.reduce((sum, value) => sum + value, 0) / sorted.length,
    maxMs: sorted[sorted.length - 1]!,
  };
}
