import type { DescribeAlarmsCommandInput, DescribeAlarmsCommandOutput, StateValue } from '@aws-sdk/client-cloudwatch';
import { awsError } from './aws-errors.ts';
import type { SimulationContext } from './simulation-context.ts';

/**
 * How CloudWatch judges an alarm's metric: one datapoint per period (aligned to the clock, as
 * CloudWatch's are), ALARM once `datapointsToAlarm` of the last `evaluationPeriods` breach, OK once
 * fewer do. The state changes only when a period closes, so an alarm lags the harm it watches.
 */
export interface AlarmEvaluation {
  /** Length of one datapoint. @default 60 seconds */
  readonly periodSeconds?: number;
  /** Datapoints each evaluation looks at, newest first. @default 3 */
  readonly evaluationPeriods?: number;
  /** Breaching datapoints among them that put the alarm in ALARM. @default 2 */
  readonly datapointsToAlarm?: number;
}

/**
 * The stack's release gate is a composite of metric alarms on one-minute periods; the one a bad
 * version trips first, the target 5xx rate, alarms on two of three minutes (lib/constructs/monitoring).
 */
export const RELEASE_GATE_EVALUATION: Required<AlarmEvaluation> = { periodSeconds: 60, evaluationPeriods: 3, datapointsToAlarm: 2 };

export interface SimulatedAlarmSpec {
  readonly name: string;
  /** @default 'metric' */
  readonly type?: 'metric' | 'composite';
  /** @default 'OK' */
  readonly state?: StateValue;
  /**
   * How a condition set with whileCondition turns into the alarm's state. For a composite alarm,
   * the evaluation of the child metric alarm the condition stands for (a composite itself follows
   * its children at once).
   * @default RELEASE_GATE_EVALUATION
   */
  readonly evaluation?: AlarmEvaluation;
}

interface Alarm {
  readonly name: string;
  readonly type: 'metric' | 'composite';
  readonly evaluation: Required<AlarmEvaluation>;
  state: StateValue;
  reason: string;
  updatedAt: number;
  /** Whether the metric breaches right now (re-checked after every change). */
  condition?: () => boolean;
  /** Whether the metric breached at any moment of the period still open. */
  breachedThisPeriod: boolean;
  /** The closed periods' datapoints, newest last, at most evaluationPeriods of them. */
  datapoints: boolean[];
  /** Stops the period timer. */
  stopPeriods?: () => void;
}

/**
 * CloudWatch alarms as DescribeAlarms sees them: filtered by name and type (metric alarms only when
 * AlarmTypes is omitted, as AWS does), unknown names left out silently, and paginated. States set by
 * a test (setState, fireAt) apply at once; a condition (whileCondition) is the alarm's metric and goes
 * through its evaluation, so the alarm fires periods after the harm starts and clears periods after
 * it ends.
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
      this.alarms.set(spec.name, {
        name: spec.name,
        type: spec.type ?? 'metric',
        evaluation: { ...RELEASE_GATE_EVALUATION, ...spec.evaluation },
        state: spec.state ?? 'OK',
        reason: 'initial state',
        updatedAt: context.clock.now(),
        breachedThisPeriod: false,
        datapoints: [],
      });
    }
    context.log.onSettle(() => this.sampleConditions());
  }

  setState(name: string, state: StateValue, reason = 'set by the test'): void {
    const alarm = this.require(name);
    alarm.condition = undefined;
    alarm.stopPeriods?.();
    alarm.stopPeriods = undefined;
    this.transition(alarm, state, reason);
  }

  /** Goes into ALARM at virtual time `at`, and back to OK at `resolveAt` if given. */
  fireAt(name: string, at: number, resolveAt?: number): void {
    this.require(name);
    this.context.log.at(at, () => this.setState(name, 'ALARM', 'Threshold Crossed: scheduled by the test'));
    if (resolveAt !== undefined) this.context.log.at(resolveAt, () => this.setState(name, 'OK', 'Threshold no longer crossed'));
  }

  /**
   * The alarm's metric breaches exactly while `holds` is true (checked after every change in the
   * simulation); the alarm follows through its evaluation, periods later.
   */
  whileCondition(name: string, holds: () => boolean): void {
    const alarm = this.require(name);
    alarm.condition = holds;
    alarm.breachedThisPeriod = holds();
    alarm.datapoints = [];
    alarm.stopPeriods?.();
    this.closePeriodsOf(alarm);
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

  private sampleConditions(): void {
    for (const alarm of this.alarms.values()) {
      if (alarm.condition?.()) alarm.breachedThisPeriod = true;
    }
  }

  /** At the end of every period: one datapoint, and the state the last evaluationPeriods of them give. */
  private closePeriodsOf(alarm: Alarm): void {
    const periodMs = alarm.evaluation.periodSeconds * 1000;
    const closesAt = (Math.floor(this.context.clock.now() / periodMs) + 1) * periodMs;
    alarm.stopPeriods = this.context.log.at(closesAt, () => {
      if (!alarm.condition) return;
      alarm.datapoints = [...alarm.datapoints, alarm.breachedThisPeriod].slice(-alarm.evaluation.evaluationPeriods);
      // The next period starts in whatever state the metric is in now.
      alarm.breachedThisPeriod = alarm.condition();
      const breaching = alarm.datapoints.filter(Boolean).length;
      const { datapointsToAlarm, evaluationPeriods, periodSeconds } = alarm.evaluation;
      if (breaching >= datapointsToAlarm) {
        this.transition(alarm, 'ALARM', `Threshold Crossed: ${breaching} out of the last ${evaluationPeriods} datapoints (${periodSeconds} s each) were breaching`);
      } else {
        this.transition(alarm, 'OK', `Threshold no longer crossed: ${breaching} out of the last ${evaluationPeriods} datapoints were breaching`);
      }
      this.closePeriodsOf(alarm);
    });
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
