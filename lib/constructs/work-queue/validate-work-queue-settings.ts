import { SettingsProblems } from '../settings-validation.ts';
import type { WorkQueueSettings } from './work-queue.ts';

/** Every problem with the work queue's settings; the ranges are SQS's limits. */
export function validateWorkQueueSettings(settings: WorkQueueSettings): string[] {
  const check = new SettingsProblems();
  check.secondsInRange('queueVisibilityTimeout', settings.queueVisibilityTimeout, 0, 43_200);
  check.integerInRange('maxReceiveCount', settings.maxReceiveCount, 1, 1000);
  check.secondsInRange('queueRetention', settings.queueRetention, 60, 1_209_600);
  return [...check.list];
}
