import { Duration } from 'aws-cdk-lib';
import type { FeatureFlagsSettings } from './feature-flags.ts';

/**
 * The gradual strategy's defaults, read by the construct. Why the bake is long enough: the release
 * gate (lib/constructs/monitoring) fires at the earliest after its slowest member's datapoints — the
 * p99 latency alarm needs 3 bad one-minute datapoints — plus about a minute until ALB metrics reach
 * CloudWatch, plus one client poll interval (≥ 15 s, AppConfig Data) before the last instance even
 * uses the new value: about 5 minutes after the deployment reaches every instance.
 */
export const FEATURE_FLAGS_DEFAULTS: Readonly<Required<FeatureFlagsSettings>> = {
  // Four steps of 25 % over 4 minutes: a bad value reaches a quarter of the instances first, and
  // the gate starts counting after the first step.
  flagsRolloutDuration: Duration.minutes(4),
  flagsRolloutGrowthFactor: 25,
  // Twice the ~5 minutes the gate needs: a value that hurts is rolled back by AppConfig, not kept.
  flagsRolloutBakeTime: Duration.minutes(10),
};

/**
 * The least bake that still lets the gate fire before AppConfig calls a gradual deployment done
 * (see FEATURE_FLAGS_DEFAULTS): shorter is allowed, with a synth warning.
 */
export const GATE_EVALUATION_TIME = Duration.minutes(5);
