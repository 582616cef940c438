import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../clock.ts';
import { BadInputError } from '../errors.ts';
import { HaproxyRuntimeApi } from '../haproxy/haproxy-runtime-api.ts';
import { HaproxyTargetPool } from '../haproxy/haproxy-target-pool.ts';
import { FileReleaseStore } from '../local/file-release-store.ts';
import { LocalInstanceGuard } from '../local/local-instance-guard.ts';
import { LocalProcessInstaller } from '../local/local-process-installer.ts';
import { loadLocalTargets } from '../local/local-targets.ts';
import { NoAlarmGate } from '../local/no-alarm-gate.ts';
import type { LocalArgs } from './parse-args.ts';
import type { ReleasePorts, ReleaseStore } from '../ports.ts';

/**
 * HAProxy mode: the servers of one HAProxy backend are local services; the installer restarts them
 * from `<releasesDir>/<version>/`, and the lock, journal and history live in `<stateDir>`, or in
 * `store` when one is given (`--release-table`: the sandbox's DynamoDB table, as on a stage).
 */
export async function localPorts(local: LocalArgs, clock: Clock, store?: ReleaseStore): Promise<ReleasePorts & { checkArtifact(version: string): Promise<void> }> {
  const config = await loadLocalTargets(local.targetsFile);
  return {
    // Local round trips cost about a millisecond: polling every 10 ms keeps each wait within a
    // frame of the moment HAProxy or the service changes state.
    pool: new HaproxyTargetPool({ api: new HaproxyRuntimeApi({ socketPath: local.haproxySocket }), backend: local.backend, clock, pollIntervalMs: 10, healthCheckIntervalMs: local.checkIntervalMs }),
    installer: new LocalProcessInstaller({ ...config, clock, pollIntervalMs: 10 }),
    gate: new NoAlarmGate(),
    guard: new LocalInstanceGuard({ stateDir: config.stateDir }),
    store: store ?? new FileReleaseStore({ stateDir: config.stateDir }),
    async checkArtifact(version) {
      const directory = join(config.releasesDir, version);
      try {
        await access(directory);
      } catch {
        throw new BadInputError(`no release ${version}: ${directory} does not exist; unpack the release there first (for the sandbox: npx sluice sandbox package ${version})`);
      }
    },
  };
}
