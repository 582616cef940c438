import { join } from 'node:path';
import type { InstanceGuard } from '../ports.ts';
import { readFileIfExists, writeFileAtomically } from './state-files.ts';

export interface LocalInstanceGuardProps {
  /** The targets file's stateDir; `launch-version` is kept there. */
  readonly stateDir: string;
}

/**
 * The InstanceGuard of local services. Nothing launches or replaces them behind the release's back
 * (there is no Auto Scaling group), so hold and release have nothing to do and no target is ever
 * terminated. The launch version, the version the fleet as a whole is on, is `<stateDir>/launch-version`:
 * the release reads it as the previous version and rolls back to it.
 */
export class LocalInstanceGuard implements InstanceGuard {
  private readonly path: string;

  constructor(props: LocalInstanceGuardProps) {
    this.path = join(props.stateDir, 'launch-version');
  }

  async hold(): Promise<void> {}

  async release(): Promise<void> {}

  async launchVersion(): Promise<string | undefined> {
    const text = (await readFileIfExists(this.path))?.trim();
    return text === '' ? undefined : text;
  }

  async setLaunchVersion(version: string): Promise<void> {
    await writeFileAtomically(this.path, `${version}\n`);
  }

  async isTerminated(): Promise<boolean> {
    return false;
  }
}
