import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { afterEach, describe, expect, it } from 'vitest';
import { AutoScalingInstanceGuard } from '../../../../lib/runtime/release/aws/auto-scaling-instance-guard.ts';
import { FleetReplacementCheck, FleetReplacingError } from '../../../../lib/runtime/release/aws/fleet-replacement-check.ts';
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

/** What the README promises a release suspends ("Auto Scaling" under Releasing). */
const PROMISED = ['ReplaceUnhealthy', 'AZRebalance', 'HealthCheck', 'AlarmNotification', 'ScheduledActions'];

/** Running instances, sorted. */
function running(): string[] {
  return Object.keys(sim.state.versions()).sort();
}

function zonesOf(ids: readonly string[]): string[] {
  return ids.map((id) => sim.state.instances().find((instance) => instance.id === id)?.availabilityZone ?? '?').sort();
}

const wait = (ms: number) => sim.run(sim.clock.sleep(ms));

afterEach(() => sim.restore());

describe('AutoScalingInstanceGuard', () => {
  it('suspends exactly the processes the README names, idempotently, and resumes them', async () => {
    sim = createAwsSimulation();
    await sim.run(guard().hold());
    await sim.run(guard().hold());
    // Launch, Terminate and AddToLoadBalancer stay active: the group can still restore capacity.
    expect(sim.state.suspendedProcesses()).toEqual([...PROMISED].sort());
    await sim.run(guard().release());
    await sim.run(guard().release());
    expect(sim.state.suspendedProcesses()).toEqual([]);
  });

  // Each held process, provoked while held: nothing happens to the fleet until the release; the same
  // event without a hold shows that the simulated group would have acted on it.
  describe('while held, the group terminates and launches nothing', () => {
    it('ReplaceUnhealthy: an instance a custom health check marks unhealthy stays until release, then is replaced', async () => {
      sim = createAwsSimulation();
      const before = running();
      const [marked] = before;
      await sim.run(guard().hold());
      sim.faults.setInstanceHealth(marked, 'Unhealthy');
      await wait(600_000);
      expect(running()).toEqual(before);

      await sim.run(guard().release());
      // The group notices (10 s), drains it (30 s), terminates it, and the replacement boots (60 s).
      await wait(10_000 + 30_000 + 60_000 + 10_000 + 1_000);
      expect(running()).not.toContain(marked);
      expect(running()).toHaveLength(3);
    });

    it('ReplaceUnhealthy, not held: the marked instance is replaced at once', async () => {
      sim = createAwsSimulation();
      const [marked] = running();
      sim.faults.setInstanceHealth(marked, 'Unhealthy');
      await wait(10_000 + 30_000 + 1_000);
      expect(running()).not.toContain(marked);
    });

    it('HealthCheck: a target that fails its checks for a while is not marked, so it is not replaced once healthy again', async () => {
      sim = createAwsSimulation();
      const before = running();
      const [flaky] = before;
      await sim.run(guard().hold());
      // Down long enough for the load balancer to call it unhealthy (3 × 5 s), then back.
      sim.faults.crashApp(flaky, 60_000);
      await wait(120_000);
      expect(sim.state.targets().find((target) => target.id === flaky)?.state).toBe('healthy');

      await sim.run(guard().release());
      await wait(600_000);
      expect(running()).toEqual(before);
    });

    it('HealthCheck, not held: the same target is marked unhealthy and replaced', async () => {
      sim = createAwsSimulation();
      const [flaky] = running();
      sim.faults.crashApp(flaky, 60_000);
      await wait(600_000);
      expect(running()).not.toContain(flaky);
      expect(running()).toHaveLength(3);
    });

    it('AZRebalance: a group left unbalanced by a new zone stays as it is until release, then moves one instance', async () => {
      sim = createAwsSimulation();
      const before = running();
      expect(zonesOf(before)).toEqual(['us-east-1a', 'us-east-1a', 'us-east-1b']);
      await sim.run(guard().hold());
      sim.faults.addAvailabilityZone('us-east-1c');
      await wait(600_000);
      expect(running()).toEqual(before);

      await sim.run(guard().release());
      await wait(600_000);
      expect(zonesOf(running())).toEqual(['us-east-1a', 'us-east-1b', 'us-east-1c']);
    });

    it('AZRebalance, not held: the group launches into the new zone and terminates one from the fullest', async () => {
      sim = createAwsSimulation();
      const before = running();
      sim.faults.addAvailabilityZone('us-east-1c');
      await wait(600_000);
      expect(zonesOf(running())).toEqual(['us-east-1a', 'us-east-1b', 'us-east-1c']);
      expect(running().filter((id) => !before.includes(id))).toHaveLength(1);
    });

    it('AlarmNotification: a scale-in alarm does nothing while held; still in breach at release, the policy runs then', async () => {
      sim = createAwsSimulation();
      const before = running();
      await sim.run(guard().hold());
      sim.faults.scalingAlarm({ at: sim.clock.now() + 60_000, adjustment: -1 });
      await wait(600_000);
      expect(running()).toEqual(before);
      expect(sim.state.desiredCapacity()).toBe(3);

      await sim.run(guard().release());
      await wait(10_000 + 30_000 + 1_000);
      expect(sim.state.desiredCapacity()).toBe(2);
      expect(running()).toHaveLength(2);
    });

    it('AlarmNotification, not held: the scale-in terminates an instance when the alarm breaches', async () => {
      sim = createAwsSimulation();
      sim.faults.scalingAlarm({ at: sim.clock.now() + 60_000, adjustment: -1 });
      await wait(60_000 + 30_000 + 1_000);
      expect(running()).toHaveLength(2);
    });

    it('ScheduledActions: a scale-in due while held is skipped for good', async () => {
      sim = createAwsSimulation();
      const before = running();
      await sim.run(guard().hold());
      sim.faults.scheduleAction({ at: sim.clock.now() + 60_000, desiredCapacity: 2 });
      await wait(600_000);
      expect(running()).toEqual(before);

      await sim.run(guard().release());
      await wait(600_000);
      expect(running()).toEqual(before);
      expect(sim.state.desiredCapacity()).toBe(3);
    });

    it('ScheduledActions, not held: the scheduled scale-in terminates an instance at its time', async () => {
      sim = createAwsSimulation();
      sim.faults.scheduleAction({ at: sim.clock.now() + 60_000, desiredCapacity: 2 });
      await wait(60_000 + 30_000 + 1_000);
      expect(running()).toHaveLength(2);
      expect(sim.state.desiredCapacity()).toBe(2);
    });
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

  it('refuses to hold the group while a deploy rolls its instances, suspending nothing, and holds it once the deploy is done', async () => {
    sim = createAwsSimulation();
    const checked = new AutoScalingInstanceGuard({
      autoScaling: sim.clients.autoScaling,
      ssm: sim.clients.ssm,
      autoScalingGroupName: sim.names.autoScalingGroupName,
      currentVersionParameterName: sim.names.currentVersionParameterName,
      clock: sim.clock,
      replacementCheck: new FleetReplacementCheck({
        cloudFormation: sim.clients.cloudFormation,
        autoScaling: sim.clients.autoScaling,
        stackName: sim.names.stackName,
        autoScalingGroupName: sim.names.autoScalingGroupName,
        clock: sim.clock,
      }),
    });
    sim.faults.deployStack({ groupAfterMs: 600_000 });
    // The deploy has not reached the group yet: nothing is suspended, and a release must still not take it.
    await expect(sim.run(checked.hold())).rejects.toThrow(FleetReplacingError);
    expect(sim.state.calls.filter((call) => call.operation === 'SuspendProcesses')).toEqual([]);
    expect(sim.state.suspendedProcesses()).toEqual([]);

    while (sim.state.stackStatus() !== 'UPDATE_COMPLETE') await wait(60_000);
    await sim.run(checked.hold());
    expect(sim.state.suspendedProcesses()).toEqual([...PROMISED].sort());
  });
});
