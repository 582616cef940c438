import type { AlarmGate } from '../ports.ts';

/**
 * The AlarmGate of a local release: no alarm ever fires. On one machine there is no CloudWatch and
 * nothing that aggregates error rates or latency across requests; what would trip an alarm there
 * (a version that does not serve) is already caught per target, by the installer's own health check
 * (Install.NeverHealthy) and by HAProxy's health checks before the next target is touched.
 */
export class NoAlarmGate implements AlarmGate {
  async firingAlarms(): Promise<string[]> {
    return [];
  }
}
