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
  check.matches('alarmEmail', settings.alarmEmail, /^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'an e-mail address such as ops@example.com');
  return [...check.list];
}
