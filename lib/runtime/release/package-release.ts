import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { assertReleaseVersion } from './release-version.ts';

export interface PackageReleaseOptions {
  readonly version: string;
  /** The project: its bin/server.ts and bin/worker.ts are bundled. */
  readonly projectRoot: string;
  /** The artifact is written to `<outDir>/releases/<version>.tgz`. */
  readonly outDir: string;
}

/**
 * Builds the release artifact `sluice-install` downloads: a gzipped tarball with `server.mjs` (the web
 * app) and `worker.mjs` (the queue worker) at its root, each one self-contained bundle (the AWS SDK
 * included) for the instances' Node.js 22, plus `release.json` naming the version. Returns its path.
 */
export async function packageRelease(options: PackageReleaseOptions): Promise<string> {
  assertReleaseVersion(options.version);
  const staging = await mkdtemp(join(tmpdir(), 'sluice-package-'));
  try {
    await build({
      entryPoints: { server: join(options.projectRoot, 'bin/server.ts'), worker: join(options.projectRoot, 'bin/worker.ts') },
      outdir: staging,
      outExtension: { '.js': '.mjs' },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      minify: true,
      sourcemap: 'inline',
      logLevel: 'error',
      // Some bundled dependencies are CommonJS and require Node's built-ins.
      banner: { js: "import { createRequire as sluiceCreateRequire } from 'node:module'; const require = sluiceCreateRequire(import.meta.url);" },
    });
    await writeFile(join(staging, 'release.json'), `${JSON.stringify({ version: options.version })}\n`);
    const artifact = join(options.outDir, 'releases', `${options.version}.tgz`);
    await mkdir(join(options.outDir, 'releases'), { recursive: true });
    await promisify(execFile)('tar', ['-czf', artifact, '-C', staging, 'server.mjs', 'worker.mjs', 'release.json']);
    return artifact;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
