import { SettingsProblems } from '../settings-validation.ts';
import type { MonitoringSettings } from './monitoring.ts';

/** Every problem with the alarm thresholds and the alarm address. */
export function validateMonitoringSettings(settings: MonitoringSettings): string[] {
  const check = new SettingsProblems();
  check.numberInRange('elb5xxRateThreshold', settings.elb5xxRateThreshold, 0, 100, 'percent');
  check.numberInRange('target5xxRateThreshold', settings.target5xxRateThreshold, 0, 100, 'percent');
  const p99 = settings.responseTimeP99Threshold;
  if (p99 !== undefined && !p99.isUnresolved()) {
    check.numberInRange('responseTimeP99Threshold', p99.toMilliseconds() / 1000, 0.01, 3600, 'seconds');
  }
  check.wholeNumber('minHealthyHosts', settings.minHealthyHosts, 1, 100);
  check.secondsInRange('queueMessageAgeThreshold', settings.queueMessageAgeThreshold, 60, 1_209_600);
  check.secondsInRange('streamIteratorAgeThreshold', settings.streamIteratorAgeThreshold, 1, 604_800);
  check.numberInRange('jobFailureRateThreshold', settings.jobFailureRateThreshold, 0, 100, 'percent');
  check.numberInRange('streamFailureRateThreshold', settings.streamFailureRateThreshold, 0, 100, 'percent');
  // An alarm period is whole minutes; a shorter window fires whenever a job accepted at the end of
  // one minute is processed in the next.
  const stalled = settings.jobsStalledAfter;
  if (stalled !== undefined && !stalled.isUnresolved()) {
    const minutes = stalled.toSeconds({ integral: false }) / 60;
    if (!Number.isInteger(minutes) || minutes < 5 || minutes > 1440) {
      check.add(`jobsStalledAfter must be a whole number of minutes between 5 and 1440 (given ${minutes} minutes)`);
    }
  }
  check.numberInRange('latencyAnomalyBandWidth', settings.latencyAnomalyBandWidth, 1, 10, 'standard deviations');
  check.matches('alarmEmail', settings.alarmEmail, /^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'an e-mail address such as ops@example.com');
  return [...check.list];
}
