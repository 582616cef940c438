import type { StackStatus } from '@aws-sdk/client-cloudformation';
import { afterEach, describe, expect, it } from 'vitest';
import { FleetReplacementCheck, FleetReplacingError } from '../../../../lib/runtime/release/aws/fleet-replacement-check.ts';
import { type AwsSimulation, type AwsSimulationOptions, createAwsSimulation } from '../../../helpers/aws-simulation/create-aws-simulation.ts';

let sim: AwsSimulation;

function check(options: AwsSimulationOptions = {}) {
  sim = createAwsSimulation(options);
  return new FleetReplacementCheck({
    cloudFormation: sim.clients.cloudFormation,
    autoScaling: sim.clients.autoScaling,
    stackName: sim.names.stackName,
    autoScalingGroupName: sim.names.autoScalingGroupName,
    clock: sim.clock,
  });
}

const wait = (ms: number) => sim.run(sim.clock.sleep(ms));

afterEach(() => sim.restore());

describe('FleetReplacementCheck', () => {
  it('finds nothing on a deployed stage at rest', async () => {
    const fleet = check();
    expect(await sim.run(fleet.replacement())).toBeUndefined();
    await expect(sim.run(fleet.refuseWhileReplacing())).resolves.toBeUndefined();
  });

  it('refuses for the whole of a deploy that rolls the instances, and only then, saying what to wait for', async () => {
    const fleet = check();
    sim.faults.deployStack();
    const seen: string[] = [];
    while (sim.state.stackStatus() !== 'UPDATE_COMPLETE') {
      const replacement = await sim.run(fleet.replacement());
      seen.push(`${sim.state.stackStatus()} ${replacement ? 'refused' : 'allowed'}`);
      await wait(20_000);
    }
    // Before the update reaches the group, while it replaces instances and waits for their signals, and during the cleanup.
    expect(new Set(seen)).toEqual(new Set(['UPDATE_IN_PROGRESS refused', 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS refused']));
    expect(sim.state.events.some((event) => event.description.startsWith('rolling update started'))).toBe(true);
    expect(await sim.run(fleet.replacement())).toBeUndefined();

    sim.faults.setStackStatus('UPDATE_IN_PROGRESS');
    const refusal = await sim.run(fleet.refuseWhileReplacing()).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(FleetReplacingError);
    expect((refusal as Error).message).toBe(
      `a release cannot start now: stack ${sim.names.stackName} is UPDATE_IN_PROGRESS: a deploy is running, and its rolling update replaces the instances of ${sim.names.autoScalingGroupName}. `
        + `Wait for the deploy to finish (aws cloudformation describe-stacks --stack-name ${sim.names.stackName} --query 'Stacks[0].StackStatus'), then rerun sluice release`,
    );
  });

  it.each<[StackStatus, 'refused' | 'allowed']>([
    ['CREATE_IN_PROGRESS', 'refused'],
    ['UPDATE_IN_PROGRESS', 'refused'],
    ['UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', 'refused'],
    // A failed update rolls the instances back with the same rolling update.
    ['UPDATE_ROLLBACK_IN_PROGRESS', 'refused'],
    ['UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS', 'refused'],
    ['IMPORT_IN_PROGRESS', 'refused'],
    ['DELETE_IN_PROGRESS', 'refused'],
    ['CREATE_COMPLETE', 'allowed'],
    ['UPDATE_COMPLETE', 'allowed'],
    ['UPDATE_ROLLBACK_COMPLETE', 'allowed'],
    ['UPDATE_ROLLBACK_FAILED', 'allowed'],
    // A change set created but not executed: nothing runs.
    ['REVIEW_IN_PROGRESS', 'allowed'],
  ])('stack %s: a release is %s', async (status, verdict) => {
    const fleet = check();
    sim.faults.setStackStatus(status);
    const replacement = await sim.run(fleet.replacement());
    expect(replacement ? 'refused' : 'allowed').toBe(verdict);
    if (replacement) expect(replacement.activity).toContain(`is ${status}:`);
  });

  it('finds no deploy of a stack that does not exist (every output passed as a flag)', async () => {
    const fleet = check();
    sim.faults.deleteStack();
    expect(await sim.run(fleet.replacement())).toBeUndefined();
  });

  it('refuses while an instance refresh runs, naming it and its progress, and not once it succeeded', async () => {
    const fleet = check();
    sim.faults.startInstanceRefresh();
    const refusal = await sim.run(fleet.refuseWhileReplacing()).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(FleetReplacingError);
    expect((refusal as Error).message).toMatch(new RegExp(
      `^a release cannot start now: instance refresh [0-9a-f-]{36} of ${sim.names.autoScalingGroupName} is (Pending|InProgress), 0% done\\. `
        + `Wait for it to finish \\(aws autoscaling describe-instance-refreshes --auto-scaling-group-name ${sim.names.autoScalingGroupName}\\), then rerun sluice release$`,
    ));
    await wait(120_000);
    expect((await sim.run(fleet.replacement()))?.activity).toMatch(/is InProgress, \d+% done$/);
    // Three instances, one at a time: drain 30 s, boot 60 s, healthy 10 s, each noticed within 10 s.
    await wait(1_200_000);
    expect(await sim.run(fleet.replacement())).toBeUndefined();
  });

  it('reads every page of past refreshes before it lets a release go', async () => {
    const fleet = check({ autoScaling: { pastInstanceRefreshes: 5, refreshPageSize: 2 } });
    expect(await sim.run(fleet.replacement())).toBeUndefined();
    expect(sim.state.calls.filter((call) => call.operation === 'DescribeInstanceRefreshes')).toHaveLength(3);
  });

  it('retries throttled calls', async () => {
    const fleet = check();
    sim.faults.startInstanceRefresh();
    sim.faults.failNextCalls(2, { operations: ['DescribeStacks', 'DescribeInstanceRefreshes'] });
    expect((await sim.run(fleet.replacement()))?.activity).toMatch(/^instance refresh /);
    expect(sim.state.calls.filter((call) => call.error !== undefined)).toHaveLength(2);
  });
});
