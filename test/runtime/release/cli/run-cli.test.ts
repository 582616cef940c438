import { readFile, writeFile } from 'node:fs/promises';
import type { CloudFormationClient, DescribeStacksCommand, DescribeStacksCommandOutput } from '@aws-sdk/client-cloudformation';
import { describe, expect, it } from 'vitest';
import { formatDuration } from '../../../../lib/runtime/duration.ts';
import type { LockHolder } from '../../../../lib/runtime/release/ports.ts';
import type { AwsSimulation } from '../../../helpers/aws-simulation/create-aws-simulation.ts';
import { healthyTargetsAtLeast } from '../../../helpers/aws-simulation/invariants.ts';
import { type CliStage, useCliStages } from '../../../helpers/cli-stages.ts';

// `sluice release` and `sluice status` as a user runs them (see useCliStages).

const deployedStage = useCliStages();

/** Instance ids in the order the target group lists them (the order the release takes them). */
function targetIds(sim: AwsSimulation): string[] {
  return sim.state.targets().map((target) => target.id);
}

/** API calls (from the `since`th on) that change something: targets in or out, installs, the launch version, the group's processes. */
function changes(sim: AwsSimulation, since = 0): string[] {
  return sim.state.calls
    .slice(since)
    .filter((call) => ['DeregisterTargets', 'RegisterTargets', 'PutParameter', 'SuspendProcesses', 'ResumeProcesses'].includes(call.operation)
      || (call.operation === 'SendCommand' && JSON.stringify(call.input).includes('sluice-install')))
    .map((call) => call.operation);
}

/** The instance `sluice-install <version>` first ran on. */
function firstInstalledOn(sim: AwsSimulation, version: string): string {
  const call = sim.state.calls.find((candidate) => candidate.operation === 'SendCommand' && JSON.stringify(candidate.input).includes(`sluice-install '${version}'`));
  return (call?.input as { InstanceIds: string[] }).InstanceIds[0];
}

const everyStep = ['preflight', 'deregistering', 'draining', 'installing', 'verifying', 'registering', 'waiting-healthy'];
/** `[mm:ss] <target>  <step>  <duration>`, as the human progress shows each finished step. */
const stepLine = /^\[\d\d:\d\d\] (i-[0-9a-f]{17}) {2}(\S+) +(\d+(?:\.\d)?s|\d+m(?:\d\ds)?)$/;

function holder(version: string, requestedAt: number, name = 'ci-other'): LockHolder {
  return { releaseId: `release-of-${version}`, version, holder: name, requestedAt };
}

describe('sluice release', () => {
  it('rolls every target onto the version with one progress line per step per target, and says how long it took', async () => {
    const { sim, cli } = await deployedStage({ instances: 3 });
    sim.invariants.add('never below two healthy targets', healthyTargetsAtLeast(2));
    const ids = targetIds(sim);

    const run = await cli(['release', '2.0.0']);

    expect(run.exitCode).toBe(0);
    expect(run.stderr).toEqual([]);
    expect(sim.state.versions()).toEqual(Object.fromEntries(ids.map((id) => [id, '2.0.0'])));
    expect(sim.state.registeredTargets().sort()).toEqual([...ids].sort());
    expect(sim.state.launchVersion()).toBe('2.0.0');
    expect(sim.invariants.violations).toEqual([]);
    const steps = run.stdout.map((line) => stepLine.exec(line)).filter((match) => match !== null);
    expect(steps).toHaveLength(everyStep.length * ids.length);
    for (const id of ids) expect(steps.filter((match) => match[1] === id).map((match) => match[2])).toEqual(everyStep);
    // The drain lasts the target group's 30 s deregistration delay, and the progress says so.
    expect(steps.filter((match) => match[2] === 'draining').map((match) => match[3])).toEqual(['30s', '30s', '30s']);
    expect(run.stdout.at(-1)).toBe(`released 2.0.0 to 3 target(s) in ${formatDuration(run.elapsedMs)}`);
    // drain 30 s + install ~21 s + healthy 10 s per target, one at a time.
    expect(run.elapsedMs).toBeGreaterThanOrEqual(3 * 60_000);
    expect(run.elapsedMs).toBeLessThan(3 * 60_000 * 1.1);
  });

  it.each([
    ['at exactly the migration the version needs', { schemaVersion: '3', artifactManifests: { '2.0.0': { version: '2.0.0', requiredMigration: 3 } } }],
    ['ahead of it (a later deploy already migrated further)', { schemaVersion: '5', artifactManifests: { '2.0.0': { version: '2.0.0', requiredMigration: 3 } } }],
    ['and the artifact was built before manifests recorded requiredMigration', { schemaVersion: '1', artifactManifests: { '2.0.0': { version: '2.0.0' } } }],
  ])('releases onto a database %s', async (_case, options) => {
    const { sim, cli } = await deployedStage(options);
    const run = await cli(['release', '2.0.0']);
    expect(run.exitCode).toBe(0);
    expect(Object.values(sim.state.versions())).toEqual(['2.0.0', '2.0.0', '2.0.0']);
    expect(sim.state.calls.filter((call) => call.operation === 'GetObject')).toHaveLength(1);
  });

  it('checks nothing on a stage without a database (no schema-version parameter), not even the artifact', async () => {
    const { sim, cli } = await deployedStage({ artifactManifests: { '2.0.0': { version: '2.0.0', requiredMigration: 7 } } });
    const run = await cli(['release', '2.0.0']);
    expect(run.exitCode).toBe(0);
    const schemaReads = sim.state.calls.filter((call) => call.operation === 'GetParameter' && JSON.stringify(call.input).includes('schema-version'));
    expect(schemaReads.map((call) => call.error)).toEqual(['ParameterNotFound']);
    expect(sim.state.calls.filter((call) => call.operation === 'GetObject')).toEqual([]);
  });

  it('with --json prints one JSON event per line, each with its time, ending with the result', async () => {
    const { sim, cli } = await deployedStage({ instances: 3 });
    const ids = targetIds(sim);

    const run = await cli(['release', '2.0.0', '--json']);

    expect(run.exitCode).toBe(0);
    expect(run.stderr).toEqual([]);
    const events = run.stdout.map((line) => JSON.parse(line) as { event: string; at: string; [field: string]: unknown });
    for (const event of events) {
      expect(event.event).toEqual(expect.any(String));
      expect(event.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    const times = events.map((event) => Date.parse(event.at));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(events.slice(0, 2).map((event) => event.event)).toEqual(['lock-acquired', 'plan']);
    expect(events[1]).toMatchObject({ version: '2.0.0', previousVersion: '1.0.0', toRelease: ids });
    for (const id of ids) {
      expect(events.filter((event) => event.event === 'step' && event.targetId === id).map((event) => event.step)).toEqual(everyStep);
    }
    expect(events.at(-2)).toMatchObject({ event: 'finished', outcome: 'succeeded' });
    expect(events.at(-1)).toEqual({
      event: 'result',
      at: new Date(sim.clock.now()).toISOString(),
      outcome: 'succeeded',
      exitCode: 0,
      message: `released 2.0.0 to 3 target(s) in ${formatDuration(run.elapsedMs)}`,
    });
  });

  it('exits 1 when the version never turns healthy, naming target, step and reason, with every instance back on the old version', async () => {
    const { sim, cli } = await deployedStage({ instances: 3, badVersions: ['2.0.0'] });
    const ids = targetIds(sim);

    const run = await cli(['release', '2.0.0']);

    expect(run.exitCode).toBe(1);
    const failed = firstInstalledOn(sim, '2.0.0');
    expect(run.stderr[0]).toBe(`sluice: release of 2.0.0 failed and was rolled back to 1.0.0 in ${formatDuration(run.elapsedMs)}`);
    expect(run.stderr[1]).toBe(
      `  cause: ${failed} at installing [Install.ExitCode4]: installing 2.0.0 on ${failed} failed (exit code 4: the new version never reported healthy on the instance, which restored its previous version; see its log below):`,
    );
    // The installer's own words are there to act on.
    expect(run.stderr).toContain('sluice-install: http://127.0.0.1:8080/health did not report version 2.0.0 within 60s');
    expect(sim.state.versions()).toEqual(Object.fromEntries(ids.map((id) => [id, '1.0.0'])));
    expect(sim.state.registeredTargets().sort()).toEqual([...ids].sort());
    expect(sim.state.targets().map((target) => target.state)).toEqual(['healthy', 'healthy', 'healthy']);
    expect(sim.state.launchVersion()).toBe('1.0.0');
    expect(sim.state.suspendedProcesses()).toEqual([]);
  });

  it('exits 2 when the rollback fails too, naming the target to fix', async () => {
    const { sim, cli } = await deployedStage({ instances: 3, badVersions: ['2.0.0'] });
    for (const id of targetIds(sim)) sim.faults.failInstall(id, '1.0.0', { exitCode: 1, output: 'tar: Unexpected EOF in archive' });

    const run = await cli(['release', '2.0.0']);

    expect(run.exitCode).toBe(2);
    const failed = firstInstalledOn(sim, '2.0.0');
    expect(run.stderr[0]).toBe(`sluice: release of 2.0.0 failed AND the rollback failed: ${failed} at installing [Install.ExitCode1]. Fix those targets, then rerun.`);
    expect(run.stderr[1]).toMatch(new RegExp(`^  cause: ${failed} at installing \\[Install\\.ExitCode4\\]: `));
    // Nothing else was touched after the first target failed, and it is back in the load balancer.
    expect(changes(sim).filter((operation) => operation === 'DeregisterTargets')).toHaveLength(1);
    expect(sim.state.registeredTargets()).toContain(failed);
  });

  describe('bad input: exit 3 and nothing touched', () => {
    it.each([
      ['an unknown flag', ['release', '2.0.0', '--max-unavalable', '2'], "sluice: Unknown option '--max-unavalable'"],
      [
        'a malformed --max-unavailable',
        ['release', '2.0.0', '--max-unavailable', 'half'],
        'sluice: --max-unavailable must be a count of at least 1 (e.g. 2) or a percentage from 1% to 100% (e.g. 25%) (given "half")',
      ],
      [
        'an invalid version',
        ['release', '2.0.0;rm -rf /'],
        'sluice: version must be 1–128 letters, digits, ".", "_", "+" or "-", starting with a letter or digit (given "2.0.0;rm -rf /")',
      ],
    ])('%s', async (_case, argv, message) => {
      const { sim, cli } = await deployedStage();
      const run = await cli(argv);
      expect(run.exitCode).toBe(3);
      expect(run.stderr[0]).toBe(message);
      expect(run.stdout).toEqual([]);
      expect(sim.state.calls).toEqual([]);
    });

    it('a version whose artifact was never uploaded, saying how to build and upload both files', async () => {
      const { sim, cli } = await deployedStage({ missingArtifacts: ['2.0.0'] });
      const bucket = sim.names.artifactBucketName;
      const run = await cli(['release', '2.0.0']);
      expect(run.exitCode).toBe(3);
      expect(run.stderr).toEqual([
        `sluice: no artifact for 2.0.0: s3://${bucket}/releases/2.0.0.tgz and s3://${bucket}/releases/2.0.0.tgz.sha256 do not exist; build both files with npm run package -- 2.0.0 and upload them: `
          + `aws s3 cp dist/releases/2.0.0.tgz s3://${bucket}/releases/2.0.0.tgz && aws s3 cp dist/releases/2.0.0.tgz.sha256 s3://${bucket}/releases/2.0.0.tgz.sha256`,
      ]);
      expect(sim.state.calls.map((call) => call.operation)).toEqual(['DescribeStacks', 'HeadObject', 'HeadObject']);
    });

    it('a version whose artifact was uploaded without its checksum', async () => {
      const { sim, cli } = await deployedStage({ missingChecksums: ['2.0.0'] });
      const bucket = sim.names.artifactBucketName;
      const run = await cli(['release', '2.0.0']);
      expect(run.exitCode).toBe(3);
      expect(run.stderr).toHaveLength(1);
      expect(run.stderr[0]).toMatch(new RegExp(`^sluice: no artifact for 2\\.0\\.0: s3://${bucket}/releases/2\\.0\\.0\\.tgz\\.sha256 does not exist; build both files with npm run package -- 2\\.0\\.0 and upload them: `));
      expect(sim.state.calls.map((call) => call.operation)).toEqual(['DescribeStacks', 'HeadObject', 'HeadObject']);
      expect(sim.state.versions()).toEqual(Object.fromEntries(targetIds(sim).map((id) => [id, '1.0.0'])));
    });

    it('an artifact removed from the bucket, or its checksum', async () => {
      const { sim, cli } = await deployedStage();
      sim.faults.removeArtifact('2.0.0');
      const run = await cli(['release', '2.0.0']);
      expect(run.exitCode).toBe(3);
      expect(run.stderr[0]).toMatch(/^sluice: no artifact for 2\.0\.0: /);
      expect(sim.state.calls.map((call) => call.operation)).toEqual(['DescribeStacks', 'HeadObject', 'HeadObject']);

      sim.faults.removeChecksum('3.0.0');
      const checksumRun = await cli(['release', '3.0.0']);
      expect(checksumRun.exitCode).toBe(3);
      expect(checksumRun.stderr[0]).toContain(`s3://${sim.names.artifactBucketName}/releases/3.0.0.tgz.sha256 does not exist`);
      expect(checksumRun.stderr[0]).not.toContain('3.0.0.tgz and');
      expect(sim.state.versions()).toEqual(Object.fromEntries(targetIds(sim).map((id) => [id, '1.0.0'])));
    });

    describe('a database behind the version (the artifact needs a migration the stage has not applied)', () => {
      it('refuses, naming both numbers and the fix, touching nothing; after the deploy ran the migrations, the release goes ahead', async () => {
        const { sim, stage, cli } = await deployedStage({ schemaVersion: '2', artifactManifests: { '2.0.0': { version: '2.0.0', requiredMigration: 3 } } });
        const ids = targetIds(sim);

        const run = await cli(['release', '2.0.0']);

        expect(run.exitCode).toBe(3);
        expect(run.stderr).toEqual([
          `sluice: nothing was changed: 2.0.0 needs database migration 3, but the ${stage} database has applied only up to 2 (SSM parameter /sluice/${stage}/schema-version). `
            + `Deploy the stack first so that the migrations run (npx cdk deploy -c stage=${stage}), then release 2.0.0 again.`,
        ]);
        expect(run.stdout).toEqual([]);
        expect(sim.state.calls.map((call) => call.operation)).toEqual(['DescribeStacks', 'HeadObject', 'HeadObject', 'GetParameter', 'GetObject']);
        expect(sim.state.versions()).toEqual(Object.fromEntries(ids.map((id) => [id, '1.0.0'])));
        expect(sim.state.launchVersion()).toBe('1.0.0');

        // cdk deploy: the migration custom resource applied 0003, the stack wrote the parameter.
        sim.faults.setSchemaVersion('3');
        const again = await cli(['release', '2.0.0']);
        expect(again.exitCode).toBe(0);
        expect(sim.state.versions()).toEqual(Object.fromEntries(ids.map((id) => [id, '2.0.0'])));
      });

      it('refuses a dry run too, since the release it plans would be refused', async () => {
        const { sim, cli } = await deployedStage({ schemaVersion: '0', artifactManifests: { '2.0.0': { version: '2.0.0', requiredMigration: 1 } } });
        const run = await cli(['release', '2.0.0', '--dry-run']);
        expect(run.exitCode).toBe(3);
        expect(run.stderr[0]).toMatch(/^sluice: nothing was changed: 2\.0\.0 needs database migration 1, but the cli\d+ database has applied only up to 0 /);
        expect(changes(sim)).toEqual([]);
      });

      it('refuses a schema-version parameter that holds no migration number, saying how to rewrite it', async () => {
        const { sim, stage, cli } = await deployedStage({ schemaVersion: 'none' });
        const run = await cli(['release', '2.0.0']);
        expect(run.exitCode).toBe(3);
        expect(run.stderr).toEqual([
          `sluice: nothing was changed: /sluice/${stage}/schema-version holds "none", not a migration number; it is written only by the stack's migration custom resource: deploy the stack again (npx cdk deploy) to rewrite it`,
        ]);
        expect(changes(sim)).toEqual([]);
      });
    });

    it('a stage whose stack is not deployed, saying how to fix it; passing every output as a flag then works', async () => {
      const { sim, stage, cli } = await deployedStage();
      sim.faults.deleteStack();

      const run = await cli(['release', '2.0.0']);

      expect(run.exitCode).toBe(3);
      expect(run.stderr).toEqual([`sluice: stack sluice-${stage} not found in us-east-1; deploy it with npx cdk deploy -c stage=${stage}, or pass every output as a flag`]);
      expect(sim.state.calls.map((call) => call.operation)).toEqual(['DescribeStacks']);

      const { names } = sim;
      const withFlags = await cli(['release', '2.0.0', '--target-group-arn', names.targetGroupArn, '--auto-scaling-group', names.autoScalingGroupName,
        '--artifact-bucket', names.artifactBucketName, '--release-table', names.releaseTableName, '--version-parameter', names.currentVersionParameterName,
        '--release-gate-alarm', names.releaseGateAlarmName]);
      expect(withFlags.exitCode).toBe(0);
      expect(Object.values(sim.state.versions())).toEqual(['2.0.0', '2.0.0', '2.0.0']);
      // The outputs come from the flags; the release still asks twice (before the lock, before holding
      // the group) whether a deploy is running, and a stack that does not exist runs none.
      expect(sim.state.calls.filter((call) => call.operation === 'DescribeStacks').map((call) => call.error)).toEqual(['ValidationError', 'ValidationError', 'ValidationError']);
    });

    it('a stack deployed before an output existed names the output and its flag; the flag then works', async () => {
      const { sim, stage, cli } = await deployedStage();
      const olderStack = { cloudFormation: withoutOutput(sim.clients.cloudFormation, 'ReleaseTableName') };

      const run = await cli(['release', '2.0.0'], { clients: olderStack });

      expect(run.exitCode).toBe(3);
      expect(run.stderr).toEqual([
        `sluice: stack sluice-${stage} has no output ReleaseTableName: deploy the current stack (npx cdk deploy -c stage=${stage}) or pass --release-table`,
      ]);
      expect(changes(sim)).toEqual([]);

      const withFlag = await cli(['release', '2.0.0', '--release-table', sim.names.releaseTableName], { clients: olderStack });
      expect(withFlag.exitCode).toBe(0);
      expect(Object.values(sim.state.versions())).toEqual(['2.0.0', '2.0.0', '2.0.0']);
    });
  });

  it('exits 1 when it fails before changing any target (the release table is missing), touching nothing', async () => {
    const { sim, cli } = await deployedStage();
    const run = await cli(['release', '2.0.0', '--release-table', 'no-such-table']);
    expect(run.exitCode).toBe(1);
    expect(run.stderr.join('\n')).toMatch(/^sluice: the release failed before changing any target: release table no-such-table not found/);
    expect(changes(sim)).toEqual([]);
  });

  it('exits 4 when another release holds the lock for longer than --lock-timeout, touching nothing', async () => {
    const { sim, store, cli } = await deployedStage();
    const now = sim.clock.now();
    await store.tryAcquireLock(holder('1.5.0', now - 60_000), 3_600_000, now);

    const run = await cli(['release', '2.0.0', '--lock-timeout', '30s']);

    expect(run.exitCode).toBe(4);
    expect(run.stderr).toEqual(['sluice: another release holds the lock: 1.5.0 by ci-other (expires 2026-01-01T01:00:00.000Z); wait for it, or rerun later']);
    expect(run.stdout[0]).toBe('[00:00] waiting for the release lock, held by ci-other (1.5.0)');
    expect(run.elapsedMs).toBe(30_000);
    expect(changes(sim)).toEqual([]);
    expect((await store.readLock())?.holder).toBe('ci-other');
  });

  describe('--supersede: exit 5 and nothing touched', () => {
    it('when a newer version joins the queue while this one waits for the lock', async () => {
      const { sim, store, cli } = await deployedStage();
      const startedAt = sim.clock.now();
      await store.tryAcquireLock(holder('1.5.0', startedAt - 60_000, 'ci-older'), 3_600_000, startedAt);
      sim.clock.at(startedAt + 7_000, () => void sim.clock.io(() => store.joinQueue(holder('3.0.0', startedAt + 7_000), startedAt + 7_000, 600_000)));

      const run = await cli(['release', '2.0.0', '--supersede']);

      expect(run.exitCode).toBe(5);
      expect(run.stdout.at(-1)).toBe('2.0.0 superseded by 3.0.0; nothing was changed');
      expect(run.stderr).toEqual([]);
      expect(changes(sim)).toEqual([]);
      expect(await store.listQueue(sim.clock.now())).toEqual([holder('3.0.0', startedAt + 7_000)]);
    });

    it('when a newer version was released while this one waited for the lock', async () => {
      const { sim, store, cli } = await deployedStage();
      const startedAt = sim.clock.now();
      const older = await store.tryAcquireLock(holder('1.5.0', startedAt - 60_000, 'ci-older'), 3_600_000, startedAt);
      // The older release ends; a newer one, asked for after ours, takes the lock, succeeds and lets go.
      sim.clock.at(startedAt + 7_000, () => void sim.clock.io(async () => {
        if (older.acquired) await store.releaseLock(older.lock);
        const newer = { ...holder('3.0.0', startedAt + 2_000), previousVersion: '1.5.0', startedAt: startedAt + 2_000, targets: 3 };
        await store.startJournal(newer);
        await store.finishRelease({ ...newer, finishedAt: startedAt + 7_000, outcome: 'succeeded' });
      }));

      const run = await cli(['release', '2.0.0', '--supersede']);

      expect(run.exitCode).toBe(5);
      expect(run.stdout.at(-1)).toBe('2.0.0 superseded by 3.0.0; nothing was changed');
      expect(changes(sim)).toEqual([]);
      expect(Object.values(sim.state.versions())).toEqual(['1.0.0', '1.0.0', '1.0.0']);
    });
  });

  describe('while the group is replacing instances: exit 1 and nothing touched', () => {
    it('refuses during a deploy\'s rolling update, naming it and what to wait for; once the deploy is done, the release goes ahead', async () => {
      const { sim, stage, store, cli } = await deployedStage({ instances: 3 });
      sim.faults.deployStack();
      // The rolling update is under way: one old instance is out, its replacement is booting.
      await sim.run(sim.clock.sleep(60_000));
      expect(sim.state.suspendedProcesses()).toContain('HealthCheck');

      const run = await cli(['release', '2.0.0']);

      expect(run.exitCode).toBe(1);
      expect(run.stderr).toEqual([
        `sluice: nothing was changed: a release cannot start now: stack sluice-${stage} is UPDATE_IN_PROGRESS: a deploy is running, and its rolling update replaces the instances of ${sim.names.autoScalingGroupName}. `
          + `Wait for the deploy to finish (aws cloudformation describe-stacks --stack-name sluice-${stage} --query 'Stacks[0].StackStatus'), then rerun sluice release`,
      ]);
      expect(changes(sim)).toEqual([]);
      expect(sim.state.launchVersion()).toBe('1.0.0');
      // Not even the release table: no lock taken, no release recorded.
      expect(await store.readLock()).toBeUndefined();
      expect(await store.listHistory(10)).toEqual([]);

      while (sim.state.stackStatus() !== 'UPDATE_COMPLETE') await sim.run(sim.clock.sleep(30_000));
      // The deploy resumed what it suspended, on its own.
      expect(sim.state.suspendedProcesses()).toEqual([]);
      const after = await cli(['release', '2.0.0']);
      expect(after.exitCode).toBe(0);
      expect(Object.values(sim.state.versions())).toEqual(['2.0.0', '2.0.0', '2.0.0']);
      expect(sim.state.suspendedProcesses()).toEqual([]);
    });

    it('refuses during a rollback of a failed deploy, too', async () => {
      const { sim, cli } = await deployedStage();
      sim.faults.setStackStatus('UPDATE_ROLLBACK_IN_PROGRESS');
      const run = await cli(['release', '2.0.0']);
      expect(run.exitCode).toBe(1);
      expect(run.stderr[0]).toContain('is UPDATE_ROLLBACK_IN_PROGRESS: a deploy is running');
      expect(changes(sim)).toEqual([]);
    });

    it('refuses during an instance refresh, naming it; once it succeeded, the release goes ahead', async () => {
      const { sim, cli } = await deployedStage();
      sim.faults.startInstanceRefresh();
      await sim.run(sim.clock.sleep(30_000));

      const run = await cli(['release', '2.0.0', '--json']);

      expect(run.exitCode).toBe(1);
      expect(run.stderr).toEqual([expect.stringMatching(new RegExp(
        `^sluice: nothing was changed: a release cannot start now: instance refresh [0-9a-f-]{36} of ${sim.names.autoScalingGroupName} is InProgress, \\d+% done\\. Wait for it to finish `,
      ))]);
      expect(JSON.parse(run.stdout.at(-1) ?? '{}')).toMatchObject({ event: 'result', outcome: 'not-started', exitCode: 1 });
      expect(changes(sim)).toEqual([]);

      await sim.run(sim.clock.sleep(1_800_000));
      expect((await cli(['release', '2.0.0'])).exitCode).toBe(0);
      expect(Object.values(sim.state.versions())).toEqual(['2.0.0', '2.0.0', '2.0.0']);
    });

    it('refuses when a deploy starts while the release waits for the lock, before suspending anything', async () => {
      const { sim, store, cli } = await deployedStage();
      const startedAt = sim.clock.now();
      const other = await store.tryAcquireLock(holder('1.5.0', startedAt - 60_000), 3_600_000, startedAt);
      sim.clock.at(startedAt + 20_000, () => sim.faults.deployStack());
      sim.clock.at(startedAt + 25_000, () => void sim.clock.io(async () => {
        if (other.acquired) await store.releaseLock(other.lock);
      }));

      const run = await cli(['release', '2.0.0']);

      expect(run.exitCode).toBe(1);
      expect(run.stderr.join('\n')).toMatch(/failed before changing any target: a release cannot start now: stack \S+ is UPDATE_IN_PROGRESS/);
      expect(changes(sim)).toEqual([]);
      expect(Object.values(sim.state.versions())).toEqual(['1.0.0', '1.0.0', '1.0.0']);
    });

    it('says in a dry run that a release now would be refused', async () => {
      const { sim, cli } = await deployedStage();
      sim.faults.deployStack();
      const run = await cli(['release', '2.0.0', '--dry-run']);
      expect(run.exitCode).toBe(0);
      expect(run.stdout.at(-1)).toMatch(/^warning: a release now would be refused: stack \S+ is UPDATE_IN_PROGRESS: a deploy is running/);
      expect(changes(sim)).toEqual([]);
    });
  });

  describe('--dry-run', () => {
    it('prints the plan and the time budget from the target group, changing nothing', async () => {
      const { sim, stage, cli } = await deployedStage({ instances: 3 });
      const ids = targetIds(sim);

      const run = await cli(['release', '2.0.0', '--dry-run']);

      expect(run.exitCode).toBe(0);
      expect(run.stdout).toEqual([
        `Plan: release 2.0.0 to sluice-${stage} (now on 1.0.0) — dry run, nothing will change`,
        ...ids.map((id) => `  ${id}  healthy   1.0.0            release`),
        '  3 to release, 1 at a time (at least 2 healthy): 3 wave(s)',
        // 30 s deregistration delay, the default 30 s install estimate, 2 healthy checks 5 s apart.
        'Budget: 3 × (drain 30s + install 30s + healthy 10s) = 3m30s',
      ]);
      expect(changes(sim)).toEqual([]);
    });

    it("warns when the deregistration delay is AWS's 300 s default", async () => {
      const { cli } = await deployedStage({ instances: 3, targetGroup: { deregistrationDelaySeconds: 300 } });

      const run = await cli(['release', '2.0.0', '--dry-run']);

      expect(run.exitCode).toBe(0);
      expect(run.stdout.slice(-2)).toEqual([
        'Budget: 3 × (drain 5m + install 30s + healthy 10s) = 17m',
        "warning: deregistration delay is 300 s (AWS's default is 300 s): every target waits that long; 10–30 s suits most web apps (setting deregistrationDelay)",
      ]);
    });

    it('with --json prints the plan as one JSON object', async () => {
      const { sim, stage, cli } = await deployedStage({ instances: 3 });
      const ids = targetIds(sim);

      const run = await cli(['release', '2.0.0', '--dry-run', '--json', '--max-unavailable', '2']);

      expect(run.exitCode).toBe(0);
      expect(run.stdout).toHaveLength(1);
      expect(JSON.parse(run.stdout[0])).toEqual({
        event: 'plan',
        version: '2.0.0',
        currentVersion: '1.0.0',
        stack: `sluice-${stage}`,
        targets: ids.map((targetId) => ({ targetId, state: 'healthy', version: '1.0.0', action: 'release' })),
        maxUnavailable: 2,
        minHealthy: 1,
        waves: 2,
        budget: { drainMs: 30_000, installMs: 30_000, healthyMs: 10_000, bakeMs: 0, perTargetMs: 70_000, totalMs: 140_000 },
        warnings: [],
      });
      expect(changes(sim)).toEqual([]);
    });
  });

  describe('GITHUB_STEP_SUMMARY', () => {
    /** The ```mermaid block of a summary, without its fences. */
    function mermaidOf(markdown: string): string {
      const block = /```mermaid\n([\s\S]*?)\n```/.exec(markdown);
      expect(block, 'a ```mermaid block').not.toBeNull();
      return block?.[1] ?? '';
    }

    it('gets a table row per target and a gantt section per target, after what earlier steps wrote', async () => {
      const { sim, stage, summaryPath, cli } = await deployedStage({ instances: 3 });
      const ids = targetIds(sim);
      await writeFile(summaryPath, '## Tests\n\nall passed\n');

      const run = await cli(['release', '2.0.0'], { env: { GITHUB_STEP_SUMMARY: summaryPath } });

      expect(run.exitCode).toBe(0);
      const summary = await readFile(summaryPath, 'utf8');
      expect(summary.startsWith('## Tests\n\nall passed\n')).toBe(true);
      expect(summary).toContain(`## sluice release \`2.0.0\` → sluice-${stage}: ✅ released`);
      const rows = summary.split('\n').filter((line) => line.startsWith('| `i-'));
      expect(rows).toEqual(ids.map((id) => `| \`${id}\` | release | \`1.0.0\` | \`2.0.0\` | done | 1m01s |`));
      const gantt = mermaidOf(summary);
      expect(gantt.split('\n').slice(0, 2)).toEqual(['gantt', `  title 2.0.0 on sluice-${stage}`]);
      expect(gantt.split('\n').filter((line) => line.startsWith('  section '))).toEqual(ids.map((id) => `  section ${id}`));
      expect(gantt).not.toContain('crit');
    });

    it('shows a failed release: the failure, the rollback, and the failed step marked', async () => {
      const { sim, stage, summaryPath, cli } = await deployedStage({ instances: 3, badVersions: ['2.0.0'] });

      const run = await cli(['release', '2.0.0'], { env: { GITHUB_STEP_SUMMARY: summaryPath } });

      expect(run.exitCode).toBe(1);
      const failed = firstInstalledOn(sim, '2.0.0');
      const summary = await readFile(summaryPath, 'utf8');
      expect(summary).toContain(`## sluice release \`2.0.0\` → sluice-${stage}: ↩️ failed and rolled back`);
      expect(summary).toContain(`**Failed** at \`installing\` on \`${failed}\` — \`Install.ExitCode4\`: installing 2.0.0 on ${failed} failed`);
      expect(summary).toMatch(new RegExp(`^\\| \`${failed}\` \\| release \\| \`1\\.0\\.0\` \\| \`2\\.0\\.0\` \\| failed \\| .+ \\|$`, 'm'));
      expect(summary).toMatch(new RegExp(`^\\| \`${failed}\` \\| rollback \\| \`2\\.0\\.0\` \\| \`1\\.0\\.0\` \\| done \\| .+ \\|$`, 'm'));
      const gantt = mermaidOf(summary).split('\n');
      expect(gantt.filter((line) => line.startsWith('  section '))).toEqual([`  section ${failed}`, `  section ${failed} (rollback)`]);
      // The step that failed, and only that one, is marked critical.
      expect(gantt.filter((line) => line.includes('crit'))).toEqual([expect.stringMatching(/^ {4}installing : crit, \d+, \d+$/)]);
    });
  });
});

describe('sluice status', () => {
  /** A stage after one release by ci-42, with a release of 3.0.0 by ci-other holding the lock now. */
  async function releasedStage(): Promise<CliStage> {
    const stage = await deployedStage({ instances: 3 });
    expect((await stage.cli(['release', '2.0.0', '--holder', 'ci-42'])).exitCode).toBe(0);
    const now = stage.sim.clock.now();
    await stage.store.tryAcquireLock(holder('3.0.0', now), 3_600_000, now);
    return stage;
  }

  it('shows the version and health of every target, the lock holder and the recent releases', async () => {
    const { sim, stage, cli } = await releasedStage();
    const callsBefore = sim.state.calls.length;

    const run = await cli(['status']);

    expect(run.exitCode).toBe(0);
    expect(run.stdout).toEqual([
      `sluice-${stage}: current version 2.0.0`,
      'Targets:',
      ...targetIds(sim).map((id) => `  ${id}  healthy   2.0.0`),
      'Lock: held by ci-other releasing 3.0.0 since 2026-01-01T00:03:05.000Z',
      'Recent releases:',
      '  2026-01-01T00:00:00.000Z  2.0.0            succeeded       3m05s   ci-42',
    ]);
    expect(changes(sim, callsBefore)).toEqual([]);
  });

  it('with --json prints the same as one JSON object', async () => {
    const { sim, stage, cli } = await releasedStage();

    const run = await cli(['status', '--json']);

    expect(run.exitCode).toBe(0);
    expect(run.stdout).toHaveLength(1);
    expect(JSON.parse(run.stdout[0])).toEqual({
      stack: `sluice-${stage}`,
      currentVersion: '2.0.0',
      targets: targetIds(sim).map((targetId) => ({ targetId, state: 'healthy', reasonCode: null, version: '2.0.0' })),
      lock: expect.objectContaining({ holder: 'ci-other', version: '3.0.0', acquiredAt: Date.parse('2026-01-01T00:03:05.000Z') }),
      history: [expect.objectContaining({ version: '2.0.0', previousVersion: '1.0.0', outcome: 'succeeded', holder: 'ci-42', targets: 3 })],
    });
  });
});

describe('sluice --help', () => {
  it('prints the usage with the exit codes and touches nothing', async () => {
    const { sim, cli } = await deployedStage();

    const run = await cli(['--help']);

    expect(run.exitCode).toBe(0);
    expect(run.stdout[0]).toBe('Usage:');
    expect(run.stdout.slice(-2)).toEqual([
      'Exit codes: 0 released; 1 failed and rolled back; 2 failed and rollback failed;',
      '            3 bad input (nothing touched); 4 lock not acquired; 5 superseded.',
    ]);
    expect(sim.state.calls).toEqual([]);
  });
});

/** The client of a stack deployed before `outputKey` was added: DescribeStacks answers without it. */
function withoutOutput(client: CloudFormationClient, outputKey: string): CloudFormationClient {
  const send = async (command: DescribeStacksCommand, options?: { abortSignal?: AbortSignal }): Promise<DescribeStacksCommandOutput> => {
    const output = await client.send(command, options);
    return { ...output, Stacks: output.Stacks?.map((stack) => ({ ...stack, Outputs: stack.Outputs?.filter((entry) => entry.OutputKey !== outputKey) })) };
  };
  return new Proxy(client, { get: (target, property, receiver) => (property === 'send' ? send : Reflect.get(target, property, receiver)) });
}
