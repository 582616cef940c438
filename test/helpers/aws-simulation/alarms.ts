import type { DescribeAlarmsCommandInput, DescribeAlarmsCommandOutput, StateValue } from '@aws-sdk/client-cloudwatch';
import { awsError } from './aws-errors.ts';
import type { SimulationContext } from './simulation-context.ts';

export interface SimulatedAlarmSpec {
  readonly name: string;
  /** @default 'metric' */
  readonly type?: 'metric' | 'composite';
  /** @default 'OK' */
  readonly state?: StateValue;
}

interface Alarm {
  readonly name: string;
  readonly type: 'metric' | 'composite';
  state: StateValue;
  reason: string;
  updatedAt: number;
  /** ALARM while this holds (re-evaluated after every change), OK otherwise. */
  condition?: () => boolean;
}

/**
 * CloudWatch alarms as DescribeAlarms sees them: filtered by name and type (metric alarms only when
 * AlarmTypes is omitted, as AWS does), unknown names left out silently, and paginated.
 */
export class SimulatedAlarms {
  private readonly alarms = new Map<string, Alarm>();

  constructor(
    private readonly context: SimulationContext,
    specs: readonly SimulatedAlarmSpec[],
    private readonly pageSize: number,
    private readonly region: string,
    private readonly account: string,
  ) {
    for (const spec of specs) {
      this.alarms.set(spec.name, { name: spec.name, type: spec.type ?? 'metric', state: spec.state ?? 'OK', reason: 'initial state', updatedAt: context.clock.now() });
    }
    context.log.onSettle(() => this.evaluateConditions());
  }

  setState(name: string, state: StateValue, reason = 'set by the test'): void {
    const alarm = this.require(name);
    alarm.condition = undefined;
    this.transition(alarm, state, reason);
  }

  /** Goes into ALARM at virtual time `at`, and back to OK at `resolveAt` if given. */
  fireAt(name: string, at: number, resolveAt?: number): void {
    this.require(name);
    this.context.log.at(at, () => this.setState(name, 'ALARM', 'Threshold Crossed: scheduled by the test'));
    if (resolveAt !== undefined) this.context.log.at(resolveAt, () => this.setState(name, 'OK', 'Threshold no longer crossed'));
  }

  /** ALARM exactly while `holds` is true (checked after every change in the simulation). */
  whileCondition(name: string, holds: () => boolean): void {
    const alarm = this.require(name);
    alarm.condition = holds;
    this.evaluateConditions();
  }

  firing(): string[] {
    return [...this.alarms.values()].filter((alarm) => alarm.state === 'ALARM').map((alarm) => alarm.name);
  }

  describe(input: DescribeAlarmsCommandInput): DescribeAlarmsCommandOutput {
    const names = input.AlarmNames;
    if (names && names.length > 100) {
      throw awsError('cloudWatch', 'ValidationError', `1 validation error detected: Value at 'alarmNames' failed to satisfy constraint: Member must have length less than or equal to 100`);
    }
    const types = input.AlarmTypes ?? ['MetricAlarm'];
    const matching = [...this.alarms.values()]
      .filter((alarm) => types.includes(alarm.type === 'metric' ? 'MetricAlarm' : 'CompositeAlarm'))
      .filter((alarm) => !names || names.includes(alarm.name))
      .filter((alarm) => !input.StateValue || alarm.state === input.StateValue)
      .sort((left, right) => left.type.localeCompare(right.type) || left.name.localeCompare(right.name));
    const start = input.NextToken === undefined ? 0 : decodeToken(input.NextToken);
    const size = Math.min(input.MaxRecords ?? this.pageSize, this.pageSize);
    const page = matching.slice(start, start + size);
    const next = start + size < matching.length ? encodeToken(start + size) : undefined;
    return {
      $metadata: {},
      MetricAlarms: page.filter((alarm) => alarm.type === 'metric').map((alarm) => ({ ...this.fields(alarm), Namespace: 'AWS/ApplicationELB', MetricName: 'HTTPCode_Target_5XX_Count' })),
      CompositeAlarms: page.filter((alarm) => alarm.type === 'composite').map((alarm) => ({ ...this.fields(alarm), AlarmRule: 'ALARM(*)' })),
      ...(next ? { NextToken: next } : {}),
    };
  }

  private fields(alarm: Alarm) {
    return {
      AlarmName: alarm.name,
      AlarmArn: `arn:aws:cloudwatch:${this.region}:${this.account}:alarm:${alarm.name}`,
      StateValue: alarm.state,
      StateReason: alarm.reason,
      StateUpdatedTimestamp: new Date(alarm.updatedAt),
    };
  }

  private evaluateConditions(): void {
    for (const alarm of this.alarms.values()) {
      if (alarm.condition) this.transition(alarm, alarm.condition() ? 'ALARM' : 'OK', 'Threshold Crossed: condition set by the test');
    }
  }

  private transition(alarm: Alarm, state: StateValue, reason: string): void {
    if (alarm.state === state) return;
    alarm.state = state;
    alarm.reason = reason;
    alarm.updatedAt = this.context.clock.now();
    this.context.log.record('alarm', alarm.name, state);
  }

  private require(name: string): Alarm {
    const alarm = this.alarms.get(name);
    if (!alarm) throw new Error(`simulation: no alarm ${name}`);
    return alarm;
  }
}

function encodeToken(offset: number): string {
  return Buffer.from(`alarms:${offset}`).toString('base64');
}

function decodeToken(token: string): number {
  const match = /^alarms:(\d+)$/.exec(Buffer.from(token, 'base64').toString());
  if (!match) throw awsError('cloudWatch', 'InvalidNextToken', 'The service returned an invalid NextToken.');
  return Number(match[1]);
}
