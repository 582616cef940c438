import { afterEach, describe, expect, it } from 'vitest';
import { CloudWatchAlarmGate } from '../../../../lib/runtime/release/aws/cloudwatch-alarm-gate.ts';
import { BadInputError } from '../../../../lib/runtime/release/errors.ts';
import { type AwsSimulation, createAwsSimulation } from '../../../helpers/aws-simulation/create-aws-simulation.ts';

const ALARMS = [
  { name: 'release-gate', type: 'composite' as const },
  { name: 'alb-5xx' },
  { name: 'alb-latency' },
  { name: 'queue-age' },
  { name: 'dlq-depth' },
];
let sim: AwsSimulation;

function gate(alarmNames: readonly string[]) {
  return new CloudWatchAlarmGate({ client: sim.clients.cloudWatch, alarmNames, clock: sim.clock });
}

afterEach(() => sim.restore());

describe('CloudWatchAlarmGate', () => {
  it('follows every page and finds nothing firing', async () => {
    sim = createAwsSimulation({ alarms: ALARMS, alarmPageSize: 2 });
    expect(await sim.run(gate(ALARMS.map((alarm) => alarm.name)).firingAlarms())).toEqual([]);
    expect(sim.state.calls.filter((call) => call.operation === 'DescribeAlarms')).toHaveLength(3);
  });

  it('reports metric and composite alarms in ALARM, on whichever page they are', async () => {
    sim = createAwsSimulation({ alarms: ALARMS, alarmPageSize: 2 });
    sim.faults.fireAlarmAt('release-gate', sim.clock.now() + 60_000);
    sim.faults.fireAlarmAt('queue-age', sim.clock.now() + 60_000, sim.clock.now() + 120_000);
    const watched = gate(ALARMS.map((alarm) => alarm.name));
    expect(await sim.run(watched.firingAlarms())).toEqual([]);
    await sim.run(sim.clock.sleep(60_000));
    expect(await sim.run(watched.firingAlarms())).toEqual(['release-gate', 'queue-age']);
    await sim.run(sim.clock.sleep(60_000));
    expect(await sim.run(watched.firingAlarms())).toEqual(['release-gate']);
  });

  it('fails on a watched alarm that does not exist, naming it', async () => {
    sim = createAwsSimulation({ alarms: ALARMS });
    const error = await sim.run(gate(['release-gate', 'alb-5xxx']).firingAlarms()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BadInputError);
    expect((error as Error).message).toBe('alarm alb-5xxx not found in CloudWatch; check the name (stack output ReleaseGateAlarmName) and the AWS region');
  });

  it('asks for at most 100 names at a time', async () => {
    const many = Array.from({ length: 150 }, (_, index) => ({ name: `alarm-${index}` }));
    sim = createAwsSimulation({ alarms: many, alarmPageSize: 100 });
    sim.faults.setAlarmState('alarm-149', 'ALARM');
    expect(await sim.run(gate(many.map((alarm) => alarm.name)).firingAlarms())).toEqual(['alarm-149']);
  });

  it('retries a throttled read', async () => {
    sim = createAwsSimulation({ alarms: ALARMS });
    sim.faults.setAlarmState('alb-5xx', 'ALARM');
    sim.faults.failNextCalls(2, { services: ['cloudWatch'] });
    expect(await sim.run(gate(['alb-5xx']).firingAlarms())).toEqual(['alb-5xx']);
  });
});
