// A release of the working tree, built for the sandbox: `npm run package`'s artifact (the same
// bundles an instance installs), unpacked into `<releasesDir>/<version>/`, where the local installer
// starts it from. A version is never rebuilt in place: its directory is the working directory of the
// services running it.

import { execFile } from 'node:child_process';
import { access, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BadInputError } from '../release/errors.ts';
import { packageRelease } from '../release/package-release.ts';

const run = promisify(execFile);

export interface SandboxReleaseOptions {
  readonly version: string;
  /** The working tree whose bin/server.ts and bin/worker.ts are bundled. */
  readonly projectRoot: string;
  readonly releasesDir: string;
  /** Where the artifact is written before it is unpacked. */
  readonly artifactsDir: string;
}

/** Builds and unpacks `version`; resolves with its directory. Throws BadInputError when the sandbox has it already. */
export async function buildSandboxRelease(options: SandboxReleaseOptions): Promise<string> {
  const target = join(options.releasesDir, options.version);
  if (await exists(target)) {
    throw new BadInputError(`the sandbox has a release ${options.version} already (${target}); build the change under a new version name, e.g. ${nextVersionName(options.version)}`);
  }
  const packaged = await packageRelease({ version: options.version, projectRoot: options.projectRoot, outDir: options.artifactsDir });
  // Unpacked beside its final place and renamed: a half-unpacked release is never startable.
  const unpacking = `${target}.unpacking`;
  await rm(unpacking, { recursive: true, force: true });
  await mkdir(unpacking, { recursive: true });
  await run('tar', ['-xzf', packaged.artifact, '-C', unpacking]);
  await rename(unpacking, target);
  return target;
}

/** `v2` after `v1`, `build-8` after `build-7`; a `-2` suffix otherwise. */
export function nextVersionName(version: string): string {
  const match = /^(.*?)(\d+)$/.exec(version);
  return match ? `${match[1]}${Number(match[2]) + 1}` : `${version}-2`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
