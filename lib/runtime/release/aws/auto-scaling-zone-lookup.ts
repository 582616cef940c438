import { type AutoScalingClient, DescribeAutoScalingInstancesCommand } from '@aws-sdk/client-auto-scaling';
import { type Clock, systemClock } from '../../clock.ts';
import type { ZoneLookup } from '../ports.ts';
import { callAws, type RetryPolicy } from './aws-call.ts';

export interface AutoScalingZoneLookupProps {
  readonly client: AutoScalingClient;
  /** Waits between throttled retries. @default systemClock */
  readonly clock?: Clock;
  /** @default - see RetryPolicy */
  readonly retry?: RetryPolicy;
}

/** DescribeAutoScalingInstances takes at most 50 instance ids per request. */
const IDS_PER_REQUEST = 50;

/**
 * Each target's Availability Zone from Auto Scaling. DescribeTargetHealth does not say it for
 * instance targets (its Target.AvailabilityZone is set only for IP targets outside the VPC), and the
 * group's own record of its instances is one call for up to 50, with nothing more to grant.
 */
export class AutoScalingZoneLookup implements ZoneLookup {
  private readonly props: AutoScalingZoneLookupProps;

  constructor(props: AutoScalingZoneLookupProps) {
    this.props = props;
  }

  async zonesOf(targetIds: readonly string[], signal?: AbortSignal): Promise<Map<string, string>> {
    const zones = new Map<string, string>();
    for (let start = 0; start < targetIds.length; start += IDS_PER_REQUEST) {
      const ids = targetIds.slice(start, start + IDS_PER_REQUEST);
      let nextToken: string | undefined;
      do {
        const page = await callAws(
          {
            clock: this.props.clock ?? systemClock,
            operation: 'DescribeAutoScalingInstances',
            subject: `the zones of ${ids.length} instance(s)`,
            hint: 'check the AWS region, then rerun',
            signal,
            retry: this.props.retry,
          },
          (abortSignal) => this.props.client.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: ids, MaxRecords: IDS_PER_REQUEST, NextToken: nextToken }), { abortSignal }),
        );
        for (const instance of page.AutoScalingInstances ?? []) {
          if (instance.InstanceId && instance.AvailabilityZone) zones.set(instance.InstanceId, instance.AvailabilityZone);
        }
        nextToken = page.NextToken;
      } while (nextToken);
    }
    return zones;
  }
}
