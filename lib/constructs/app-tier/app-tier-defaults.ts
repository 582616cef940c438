import { Duration } from 'aws-cdk-lib';
import type { AppTierSettings } from './app-tier.ts';

/**
 * The app tier's defaults, read by the construct, its validator and the stage configuration, so
 * that each has one home. Why each value: see AppTierSettings.
 */
export const APP_TIER_DEFAULTS: Readonly<Required<Omit<AppTierSettings, 'desiredCapacity' | 'certificateArn' | 'amiId'>>> = {
  // t3a is the AMD variant of t3: the same 2 vCPUs and 2 GiB, about 10 % cheaper, in other capacity pools.
  instanceTypes: ['t3.small', 't3a.small'],
  detailedMonitoring: false,
  minCapacity: 2,
  maxCapacity: 4,
  appPort: 8080,
  healthCheckPath: '/health',
  healthCheckInterval: Duration.seconds(5),
  healthCheckTimeout: Duration.seconds(4),
  healthyThreshold: 2,
  unhealthyThreshold: 3,
  deregistrationDelay: Duration.seconds(30),
  healthCheckGracePeriod: Duration.seconds(300),
  workerStopTimeout: Duration.seconds(60),
  installHealthTimeout: Duration.seconds(60),
  instanceReadyTimeout: Duration.minutes(10),
  natGateways: 1,
};
