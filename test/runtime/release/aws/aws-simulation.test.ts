// The simulation itself: it must model what AWS does when a release is careless, not only the happy path.
import { DescribeAutoScalingGroupsCommand, ResumeProcessesCommand, SuspendProcessesCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeLoadBalancersCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { afterEach, describe, expect, it } from 'vitest';
import { Elbv2TargetPool } from '../../../../lib/runtime/release/aws/elbv2-target-pool.ts';
import { SsmInstaller } from '../../../../lib/runtime/release/aws/ssm-installer.ts';
import { type AwsSimulation, createAwsSimulation } from '../../../helpers/aws-simulation/create-aws-simulation.ts';
import { healthyTargetsAtLeast, noTrafficToStoppedApps, targetsOutOfServiceAtMost } from '../../../helpers/aws-simulation/invariants.ts';

let sim: AwsSimulation;

function adapters() {
  return {
    pool: new Elbv2TargetPool({ client: sim.clients.elbv2, targetGroupArn: sim.names.targetGroupArn, clock: sim.clock }),
    installer: new SsmInstaller({ client: sim.clients.ssm, clock: sim.clock }),
  };
}

function watchCapacity() {
  sim.invariants.add('at least 2 healthy targets', healthyTargetsAtLeast(2));
  sim.invariants.add('at most 1 target out of service', targetsOutOfServiceAtMost(1));
  sim.invariants.add('no traffic to a stopped app', noTrafficToStoppedApps());
}

afterEach(() => sim.restore());

describe('AWS simulation', () => {
  it('keeps every invariant through a careful rolling release', async () => {
    sim = createAwsSimulation();
    watchCapacity();
    const { pool, installer } = adapters();
    for (const targetId of sim.state.registeredTargets()) {
      await sim.run(pool.deregister(targetId));
      await sim.run(pool.waitDrained(targetId));
      await sim.run(installer.install(targetId, '2.0.0', { timeoutMs: 300_000 }));
      await sim.run(pool.register(targetId));
      await sim.run(pool.waitHealthy(targetId));
    }
    expect(sim.invariants.violations).toEqual([]);
    expect(Object.values(sim.state.versions())).toEqual(['2.0.0', '2.0.0', '2.0.0']);
  });

  it('catches installing on a target that was not drained, the moment its app stops', async () => {
    sim = createAwsSimulation();
    watchCapacity();
    sim.invariants.add('all 3 targets healthy', healthyTargetsAtLeast(3));
    const { installer } = adapters();
    const [targetId] = sim.state.registeredTargets();
    const startedAt = sim.clock.now();
    await sim.run(installer.install(targetId, '2.0.0', { timeoutMs: 300_000 }));

    const [stopped] = sim.invariants.violations;
    expect(stopped).toMatchObject({ invariant: 'no traffic to a stopped app', at: startedAt + 1_000 });
    expect(stopped.description).toBe(`requests to ${targetId} (healthy) fail: the app is stopped`);
    // The load balancer notices after three failed checks.
    expect(sim.state.events).toContainEqual(
      expect.objectContaining({ subject: targetId, description: 'unhealthy (Target.FailedHealthChecks)', at: startedAt + 15_000 }),
    );
    expect(sim.invariants.violations.find((violation) => violation.invariant === 'all 3 targets healthy')?.at).toBe(startedAt + 15_000);
  });

  it('replaces a terminated instance with one on the launch version when nothing is held', async () => {
    sim = createAwsSimulation();
    const [victim] = sim.state.registeredTargets();
    sim.faults.terminateInstanceAt(victim, sim.clock.now() + 1_000);
    await sim.run(sim.clock.sleep(2_000));
    expect(sim.state.targets().find((target) => target.id === victim)).toMatchObject({ state: 'unused', reasonCode: 'Target.InvalidState' });

    await sim.run(sim.clock.sleep(100_000));
    const targets = sim.state.targets();
    expect(targets.map((target) => target.id)).not.toContain(victim);
    expect(targets.filter((target) => target.state === 'healthy')).toHaveLength(3);
    const group = await sim.clients.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [sim.names.autoScalingGroupName] }));
    expect(group.AutoScalingGroups?.[0]?.Instances?.map((instance) => instance.LifecycleState)).toEqual(['InService', 'InService', 'InService']);
  });

  it('replaces a target that stays unhealthy when its health check is not held', async () => {
    sim = createAwsSimulation({ badVersions: ['2.0.0'] });
    const { pool, installer } = adapters();
    const [targetId] = sim.state.registeredTargets();
    await sim.run(pool.deregister(targetId));
    await sim.run(pool.waitDrained(targetId));
    await sim.run(installer.install(targetId, '2.0.0', { timeoutMs: 300_000 }).catch(() => undefined));
    await sim.run(pool.register(targetId));
    await sim.run(sim.clock.sleep(300_000));
    expect(sim.state.instances().find((instance) => instance.id === targetId)?.running).toBe(false);
    expect(Object.values(sim.state.versions())).toEqual(['1.0.0', '1.0.0', '1.0.0']);
  });

  it('fires an alarm while a healthy target serves a version, as late as CloudWatch would, and clears it as late', async () => {
    sim = createAwsSimulation();
    sim.faults.alarmWhileServing(sim.names.releaseGateAlarmName, '2.0.0');
    const { pool, installer } = adapters();
    const [targetId] = sim.state.registeredTargets();
    await sim.run(pool.deregister(targetId));
    await sim.run(pool.waitDrained(targetId));
    await sim.run(installer.install(targetId, '2.0.0', { timeoutMs: 300_000 }));
    expect(sim.state.firingAlarms()).toEqual([]);
    await sim.run(pool.register(targetId));
    await sim.run(pool.waitHealthy(targetId));
    // The gate's children judge one-minute datapoints and alarm on two of three: the second bad minute
    // closes more than 60 s and at most 120 s after the harm starts.
    const harmStartedAt = sim.clock.now();
    expect(sim.state.firingAlarms()).toEqual([]);
    await sim.run(sim.clock.sleep(60_000));
    expect(sim.state.firingAlarms()).toEqual([]);
    await sim.run(sim.clock.sleep(60_000));
    expect(sim.state.firingAlarms()).toEqual([sim.names.releaseGateAlarmName]);
    const fired = sim.state.events.find((event) => event.kind === 'alarm' && event.description === 'ALARM');
    expect(fired?.at).toBeGreaterThan(harmStartedAt + 60_000);
    expect((fired?.at ?? 0) % 60_000).toBe(0);

    // Once the version stops serving, two good minutes of three clear it.
    await sim.run(pool.deregister(targetId));
    const harmEndedAt = sim.clock.now();
    await sim.run(sim.clock.sleep(60_000));
    expect(sim.state.firingAlarms()).toEqual([sim.names.releaseGateAlarmName]);
    await sim.run(sim.clock.sleep(120_000));
    expect(sim.state.firingAlarms()).toEqual([]);
    const cleared = sim.state.events.findLast((event) => event.kind === 'alarm' && event.description === 'OK');
    expect(cleared?.at).toBeGreaterThan(harmEndedAt + 60_000);
  });

  it('launches nothing while Launch is suspended, and registers nothing it launches while AddToLoadBalancer is', async () => {
    sim = createAwsSimulation();
    const [first, second] = sim.state.registeredTargets();
    await sim.clients.autoScaling.send(new SuspendProcessesCommand({ AutoScalingGroupName: sim.names.autoScalingGroupName, ScalingProcesses: ['Launch'] }));
    sim.faults.terminateInstance(first);
    await sim.run(sim.clock.sleep(600_000));
    expect(Object.keys(sim.state.versions())).toHaveLength(2);

    await sim.clients.autoScaling.send(new SuspendProcessesCommand({ AutoScalingGroupName: sim.names.autoScalingGroupName, ScalingProcesses: ['AddToLoadBalancer'] }));
    await sim.clients.autoScaling.send(new ResumeProcessesCommand({ AutoScalingGroupName: sim.names.autoScalingGroupName, ScalingProcesses: ['Launch'] }));
    await sim.run(sim.clock.sleep(600_000));
    const replacement = Object.keys(sim.state.versions()).find((id) => id !== second && !sim.state.registeredTargets().includes(id));
    expect(Object.keys(sim.state.versions())).toHaveLength(3);
    expect(replacement).toBeDefined();
    expect(sim.state.targets().map((target) => target.id)).not.toContain(replacement);
  });

  it('replaces every instance one at a time in an instance refresh, and pauses it while InstanceRefresh is suspended', async () => {
    sim = createAwsSimulation();
    watchCapacity();
    const before = Object.keys(sim.state.versions());
    await sim.clients.autoScaling.send(new SuspendProcessesCommand({ AutoScalingGroupName: sim.names.autoScalingGroupName, ScalingProcesses: ['InstanceRefresh'] }));
    sim.faults.startInstanceRefresh();
    await sim.run(sim.clock.sleep(600_000));
    expect(Object.keys(sim.state.versions())).toEqual(before);

    await sim.clients.autoScaling.send(new ResumeProcessesCommand({ AutoScalingGroupName: sim.names.autoScalingGroupName, ScalingProcesses: ['InstanceRefresh'] }));
    await sim.run(sim.clock.sleep(1_800_000));
    const after = Object.keys(sim.state.versions());
    expect(after).toHaveLength(3);
    expect(after.filter((id) => before.includes(id))).toEqual([]);
    expect(sim.invariants.violations).toEqual([]);
  });

  it.each([[2, 'launches the replacement first'], [3, 'terminates first']])('rolls a deploy\'s launch template change over %i instances one at a time, never below the minimum of 2: it %s', async (instances) => {
    sim = createAwsSimulation({ instances, autoScaling: { minSize: 2 } });
    sim.invariants.add('at least 2 healthy targets', healthyTargetsAtLeast(2));
    sim.invariants.add('at most 1 target out of service', targetsOutOfServiceAtMost(1));
    const before = Object.keys(sim.state.versions());
    sim.faults.deployStack();
    expect(sim.state.stackStatus()).toBe('UPDATE_IN_PROGRESS');
    await sim.run(sim.clock.sleep(30_000 + 1_000));
    // CloudFormation's SuspendProcesses for the update.
    expect(sim.state.suspendedProcesses()).toEqual(['AZRebalance', 'AlarmNotification', 'HealthCheck', 'InstanceRefresh', 'ReplaceUnhealthy', 'ScheduledActions']);
    await sim.run(sim.clock.sleep(3_600_000));
    expect(sim.state.stackStatus()).toBe('UPDATE_COMPLETE');
    const after = Object.keys(sim.state.versions());
    expect(after).toHaveLength(instances);
    expect(after.filter((id) => before.includes(id))).toEqual([]);
    expect(Object.values(sim.state.versions())).toEqual(Array(instances).fill('1.0.0'));
    expect(sim.state.desiredCapacity()).toBe(instances);
    expect(sim.state.suspendedProcesses()).toEqual([]);
    expect(sim.invariants.violations).toEqual([]);
  });

  it('ends a deploy\'s rolling update by resuming its processes, also those a release had suspended', async () => {
    sim = createAwsSimulation();
    const held = ['ReplaceUnhealthy', 'AZRebalance', 'HealthCheck', 'AlarmNotification', 'ScheduledActions'];
    await sim.clients.autoScaling.send(new SuspendProcessesCommand({ AutoScalingGroupName: sim.names.autoScalingGroupName, ScalingProcesses: held }));
    sim.faults.deployStack();
    await sim.run(sim.clock.sleep(3_600_000));
    expect(sim.state.stackStatus()).toBe('UPDATE_COMPLETE');
    // Nothing tells the release that its hold is gone: hence it refuses to start during a deploy.
    expect(sim.state.suspendedProcesses()).toEqual([]);
  });

  it('is deterministic for a seed', () => {
    sim = createAwsSimulation({ seed: 42 });
    const first = sim.state.registeredTargets();
    sim.restore();
    sim = createAwsSimulation({ seed: 42 });
    expect(sim.state.registeredTargets()).toEqual(first);
    expect(first.every((id) => /^i-[0-9a-f]{17}$/.test(id))).toBe(true);
  });

  it('fails loudly on a command it does not model', async () => {
    sim = createAwsSimulation();
    await expect(sim.clients.elbv2.send(new DescribeLoadBalancersCommand({}))).rejects.toThrow(/does not model this elbv2 command/);
  });
});
