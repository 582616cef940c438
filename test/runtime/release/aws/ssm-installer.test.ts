import { afterEach, describe, expect, it } from 'vitest';
import { Elbv2TargetPool } from '../../../../lib/runtime/release/aws/elbv2-target-pool.ts';
import { SsmInstaller } from '../../../../lib/runtime/release/aws/ssm-installer.ts';
import { BadInputError, InstallFailedError } from '../../../../lib/runtime/release/errors.ts';
import { type AwsSimulation, type AwsSimulationOptions, createAwsSimulation } from '../../../helpers/aws-simulation/create-aws-simulation.ts';

let sim: AwsSimulation;

/** An installer and a target that is already out of the load balancer. */
async function setUp(options: AwsSimulationOptions = {}) {
  sim = createAwsSimulation(options);
  const installer = new SsmInstaller({ client: sim.clients.ssm, clock: sim.clock });
  const pool = new Elbv2TargetPool({ client: sim.clients.elbv2, targetGroupArn: sim.names.targetGroupArn, clock: sim.clock });
  const [targetId] = sim.state.registeredTargets();
  await sim.run(pool.deregister(targetId));
  await sim.run(pool.waitDrained(targetId));
  return { installer, targetId };
}

async function installError(installer: SsmInstaller, targetId: string, version: string, timeoutMs = 300_000): Promise<InstallFailedError> {
  const error = await sim.run(installer.install(targetId, version, { timeoutMs })).catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(InstallFailedError);
  return error as InstallFailedError;
}

const instance = (id: string) => sim.state.instances().find((candidate) => candidate.id === id);

afterEach(() => sim.restore());

describe('SsmInstaller', () => {
  it('installs a version and reads it back from the instance', async () => {
    const { installer, targetId } = await setUp();
    const { elapsedMs } = await sim.timed(installer.install(targetId, '2.0.0', { timeoutMs: 300_000 }));
    // Delivery (1 s) + the install (20 s), seen at the next poll.
    expect(elapsedMs).toBeGreaterThanOrEqual(21_000);
    expect(elapsedMs).toBeLessThanOrEqual(22_000);
    expect(sim.state.versions()[targetId]).toBe('2.0.0');
    expect(await sim.run(installer.installedVersion(targetId))).toBe('2.0.0');
  });

  it('sends the install script with the version quoted and an execution timeout', async () => {
    const { installer, targetId } = await setUp();
    await sim.run(installer.install(targetId, '2.0.0+build.7', { timeoutMs: 90_000 }));
    const send = sim.state.calls.find((call) => call.operation === 'SendCommand');
    expect(send?.input).toMatchObject({
      DocumentName: 'AWS-RunShellScript',
      InstanceIds: [targetId],
      Parameters: { commands: ["/opt/sluice/bin/sluice-install '2.0.0+build.7'"], executionTimeout: ['90'] },
    });
  });

  it('waits out InvocationDoesNotExist right after SendCommand', async () => {
    const { installer, targetId } = await setUp({ runCommand: { invocationVisibleAfterMs: 2_500 } });
    await sim.run(installer.install(targetId, '2.0.0', { timeoutMs: 300_000 }));
    const polls = sim.state.calls.filter((call) => call.operation === 'GetCommandInvocation');
    expect(polls.slice(0, 3).map((call) => call.error)).toEqual(['InvocationDoesNotExist', 'InvocationDoesNotExist', 'InvocationDoesNotExist']);
    expect(polls.at(-1)?.error).toBeUndefined();
    expect(sim.state.versions()[targetId]).toBe('2.0.0');
  });

  it('rejects a version that would not be safe on a command line, before sending anything', async () => {
    const { installer, targetId } = await setUp();
    await expect(sim.run(installer.install(targetId, "2.0'; rm -rf /", { timeoutMs: 300_000 }))).rejects.toBeInstanceOf(BadInputError);
    expect(sim.state.calls.some((call) => call.operation === 'SendCommand')).toBe(false);
  });

  it('reports a failed install with the tail of its output, and leaves the old version running', async () => {
    const { installer, targetId } = await setUp();
    sim.faults.failInstall(targetId, '2.0.0', { exitCode: 1, output: 'tar: Unexpected EOF in archive' });
    const error = await installError(installer, targetId, '2.0.0');
    expect(error).toMatchObject({ targetId, version: '2.0.0', reasonCode: 'Install.ExitCode1', outputTail: 'tar: Unexpected EOF in archive' });
    expect(instance(targetId)).toMatchObject({ version: '1.0.0', appUp: true });
  });

  it('reports a version that never gets healthy (exit 4) with the installer message and the last log lines', async () => {
    const { installer, targetId } = await setUp({ badVersions: ['2.0.0'] });
    const error = await installError(installer, targetId, '2.0.0');
    expect(error.reasonCode).toBe('Install.ExitCode4');
    const lines = error.outputTail.split('\n');
    expect(lines[0]).toBe('sluice-install: http://127.0.0.1:8080/health did not report version 2.0.0 within 60s');
    expect(lines.slice(2)).toHaveLength(20);
    expect(lines.at(-1)).toContain('check 40 failed');
    expect(error.message).toContain('never reported healthy');
  });

  it('reports a missing artifact (exit 3) without touching the running app', async () => {
    const { installer, targetId } = await setUp({ missingArtifacts: ['2.0.0'] });
    const error = await installError(installer, targetId, '2.0.0');
    expect(error.reasonCode).toBe('Install.ExitCode3');
    expect(error.message).toContain('upload releases/<version>.tgz');
    expect(sim.state.events.some((event) => event.subject === targetId && event.description === 'app stopped')).toBe(false);
  });

  it('reports an install that runs past its timeout, and the agent stops it', async () => {
    const { installer, targetId } = await setUp();
    const error = await installError(installer, targetId, '2.0.0', 10_000);
    expect(error.reasonCode).toBe('Install.TimedOut');
    expect(instance(targetId)).toMatchObject({ version: '1.0.0', appUp: true });
  });

  it('cancels a command the agent never answers for, past the timeout', async () => {
    const { installer, targetId } = await setUp({ runCommand: { deliveryMs: 600_000 } });
    const startedAt = sim.clock.now();
    const error = await installError(installer, targetId, '2.0.0', 10_000);
    expect(error.reasonCode).toBe('Install.TimedOut');
    expect(error.message).toContain('the command was cancelled');
    expect(sim.clock.now() - startedAt).toBe(15_000);
    expect(sim.state.calls.filter((call) => call.operation === 'CancelCommand' && !call.error)).toHaveLength(1);
  });

  it('sends one command even when SendCommand is throttled', async () => {
    const { installer, targetId } = await setUp();
    sim.faults.failNextCalls(3, { operations: ['SendCommand'] });
    await sim.run(installer.install(targetId, '2.0.0', { timeoutMs: 300_000 }));
    expect(sim.state.calls.filter((call) => call.operation === 'SendCommand' && !call.error)).toHaveLength(1);
    expect(sim.state.versions()[targetId]).toBe('2.0.0');
  });

  it('cannot tell the version while the app is stopped or failing its health check', async () => {
    const { installer, targetId } = await setUp({ badVersions: ['2.0.0'] });
    const install = installer.install(targetId, '2.0.0', { timeoutMs: 300_000 }).catch(() => undefined);
    await sim.run(sim.clock.sleep(5_000));
    expect(await sim.run(installer.installedVersion(targetId))).toBeUndefined();
    await sim.run(install);
    expect(sim.state.versions()[targetId]).toBe('2.0.0');
    expect(await sim.run(installer.installedVersion(targetId))).toBeUndefined();
  });
});
