import { Duration } from 'aws-cdk-lib';
import type { StageConfig } from './stage-config.ts';

/**
 * The stages sluice deploys; choose one with `-c stage=NAME` (default `dev`). A stage sets only what
 * it changes: everything else is the constructs' defaults (see each construct's *-defaults.ts).
 */
export const stages: Readonly<Record<string, StageConfig>> = {
  // Cheapest shape that still has two instances in two AZs, so releases behave as in prod.
  dev: {
    stageName: 'dev',
    protectData: false,
  },
  prod: {
    stageName: 'prod',
    protectData: true,
    instanceType: 't3.medium',
    maxCapacity: 8,
    // One NAT gateway per AZ: losing an AZ must not cut the other AZ's outbound traffic.
    natGateways: 2,
    // The longest SQS keeps a message: time to fix a consumer before any work is lost.
    queueRetention: Duration.days(14),
    // The app's PostgreSQL database, Multi-AZ (the default), with deletion protection (protectData).
    database: true,
  },
};

export const defaultStage = 'dev';
