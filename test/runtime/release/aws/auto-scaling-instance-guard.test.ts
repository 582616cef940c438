import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { afterEach, describe, expect, it } from 'vitest';
import { AutoScalingInstanceGuard, HELD_PROCESSES } from '../../../../lib/runtime/release/aws/auto-scaling-instance-guard.ts';
import { BadInputError } from '../../../../lib/runtime/release/errors.ts';
import { type AwsSimulation, createAwsSimulation } from '../../../helpers/aws-simulation/create-aws-simulation.ts';

let sim: AwsSimulation;

function guard(parameterName = sim.names.currentVersionParameterName) {
  return new AutoScalingInstanceGuard({
    autoScaling: sim.clients.autoScaling,
    ssm: sim.clients.ssm,
    autoScalingGroupName: sim.names.autoScalingGroupName,
    currentVersionParameterName: parameterName,
    clock: sim.clock,
  });
}

afterEach(() => sim.restore());

describe('AutoScalingInstanceGuard', () => {
  it('suspends the processes that replace or terminate instances, idempotently, and resumes them', async () => {
    sim = createAwsSimulation();
    await sim.run(guard().hold());
    await sim.run(guard().hold());
    expect(sim.state.suspendedProcesses()).toEqual([...HELD_PROCESSES].sort());
    expect(sim.state.suspendedProcesses()).not.toContain('Launch');
    await sim.run(guard().release());
    await sim.run(guard().release());
    expect(sim.state.suspendedProcesses()).toEqual([]);
  });

  it('keeps a terminated instance from being replaced while held, and replaces it on the launch version after release', async () => {
    sim = createAwsSimulation();
    const [victim] = sim.state.registeredTargets();
    await sim.run(guard().hold());
    await sim.run(guard().setLaunchVersion('2.0.0'));
    sim.faults.terminateInstance(victim);
    await sim.run(sim.clock.sleep(600_000));
    expect(Object.keys(sim.state.versions())).toHaveLength(2);
    expect(sim.state.targets().find((target) => target.id === victim)).toMatchObject({ state: 'unused', reasonCode: 'Target.InvalidState' });
    expect(await sim.run(guard().isTerminated(victim))).toBe(true);

    await sim.run(guard().release());
    // The group notices (10 s), the replacement boots (60 s) and passes two health checks (10 s).
    await sim.run(sim.clock.sleep(10_000 + 60_000 + 10_000 + 1_000));
    const versions = Object.values(sim.state.versions());
    expect(versions.sort()).toEqual(['1.0.0', '1.0.0', '2.0.0']);
    expect(sim.state.targets().filter((target) => target.state === 'healthy')).toHaveLength(3);
    expect(sim.state.targets().map((target) => target.id)).not.toContain(victim);
  });

  it('tells a running instance from a terminated or unknown one', async () => {
    sim = createAwsSimulation();
    const [running] = sim.state.registeredTargets();
    expect(await sim.run(guard().isTerminated(running))).toBe(false);
    expect(await sim.run(guard().isTerminated('i-0123456789abcdef0'))).toBe(true);
  });

  it('reads and writes the version launched instances install', async () => {
    sim = createAwsSimulation();
    expect(await sim.run(guard().launchVersion())).toBe('1.0.0');
    await sim.run(guard().setLaunchVersion('2.0.0'));
    expect(sim.state.launchVersion()).toBe('2.0.0');
    expect(await sim.run(guard().launchVersion())).toBe('2.0.0');
  });

  it('has no launch version before the first release', async () => {
    sim = createAwsSimulation();
    await sim.clients.ssm.send(new PutParameterCommand({ Name: sim.names.currentVersionParameterName, Value: 'none', Overwrite: true }));
    expect(await sim.run(guard().launchVersion())).toBeUndefined();
  });

  it('names a parameter that does not exist', async () => {
    sim = createAwsSimulation();
    await expect(sim.run(guard('/sluice/dve/current-version').launchVersion())).rejects.toThrow(
      new BadInputError('parameter /sluice/dve/current-version not found; check the stack output CurrentVersionParameterName and the AWS region'),
    );
  });
});
