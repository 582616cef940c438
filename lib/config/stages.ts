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
    // Two equivalent types (2 vCPUs, 4 GiB): the group launches t3a.medium when t3.medium is short in an AZ.
    instanceTypes: ['t3.medium', 't3a.medium'],
    // One-minute EC2 metrics for every instance: about $2.10 per instance a month.
    detailedMonitoring: true,
    // AWS managed rules and a per-IP rate limit in front of the public load balancer (about $9 a month).
    webFirewall: true,
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
