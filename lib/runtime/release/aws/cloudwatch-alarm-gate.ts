import { type CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { type Clock, systemClock } from '../../clock.ts';
import { BadInputError } from '../errors.ts';
import type { AlarmGate } from '../ports.ts';
import { callAws, type RetryPolicy } from './aws-call.ts';

export interface CloudWatchAlarmGateProps {
  readonly client: CloudWatchClient;
  /** Metric or composite alarms; the stack's release gate (output ReleaseGateAlarmName) is composite. */
  readonly alarmNames: readonly string[];
  /** Waits between throttled retries. @default systemClock */
  readonly clock?: Clock;
  /** @default - see RetryPolicy */
  readonly retry?: RetryPolicy;
}

/** DescribeAlarms accepts at most 100 names per request. */
const NAMES_PER_REQUEST = 100;

/** The CloudWatch alarms a release watches between targets. */
export class CloudWatchAlarmGate implements AlarmGate {
  private readonly client: CloudWatchClient;
  private readonly alarmNames: readonly string[];
  private readonly clock: Clock;
  private readonly retry?: RetryPolicy;

  constructor(props: CloudWatchAlarmGateProps) {
    this.client = props.client;
    this.alarmNames = [...new Set(props.alarmNames)];
    this.clock = props.clock ?? systemClock;
    this.retry = props.retry;
  }

  async firingAlarms(signal?: AbortSignal): Promise<string[]> {
    const states = new Map<string, string | undefined>();
    for (let start = 0; start < this.alarmNames.length; start += NAMES_PER_REQUEST) {
      const names = this.alarmNames.slice(start, start + NAMES_PER_REQUEST);
      let nextToken: string | undefined;
      do {
        const page = await this.describe(names, nextToken, signal);
        // Without AlarmTypes, DescribeAlarms returns metric alarms only: a composite gate would look missing.
        for (const alarm of [...(page.MetricAlarms ?? []), ...(page.CompositeAlarms ?? [])]) {
          if (alarm.AlarmName) states.set(alarm.AlarmName, alarm.StateValue);
        }
        nextToken = page.NextToken;
      } while (nextToken);
    }
    // DescribeAlarms leaves unknown names out silently; a typo must not let every release through.
    const missing = this.alarmNames.filter((name) => !states.has(name));
    if (missing.length > 0) {
      throw new BadInputError(
        `alarm${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not found in CloudWatch; check the name (stack output ReleaseGateAlarmName) and the AWS region`,
      );
    }
    return this.alarmNames.filter((name) => states.get(name) === 'ALARM');
  }

  private describe(names: readonly string[], nextToken: string | undefined, signal?: AbortSignal) {
    const send = (abortSignal?: AbortSignal) =>
      this.client.send(
        new DescribeAlarmsCommand({ AlarmNames: [...names], AlarmTypes: ['CompositeAlarm', 'MetricAlarm'], NextToken: nextToken }),
        { abortSignal },
      );
    return callAws(
      {
        clock: this.clock,
        operation: 'DescribeAlarms',
        subject: `alarm${names.length > 1 ? 's' : ''} ${names.join(', ')}`,
        hint: 'check the AWS region and that the credentials allow cloudwatch:DescribeAlarms on *, then rerun',
        signal,
        retry: this.retry,
      },
      send,
    );
  }
}

