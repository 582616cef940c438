import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { assertReleaseVersion } from './release-version.ts';
import { requiredMigration } from './required-migration.ts';

/** The instances run Node.js 22 (the user data installs `nodejs22`). */
const NODE_TARGET = 'node22';

export interface PackageReleaseOptions {
  readonly version: string;
  /** The project: its bin/server.ts and bin/worker.ts are bundled. */
  readonly projectRoot: string;
  /** The artifact is written to `<outDir>/releases/<version>.tgz`, its checksum beside it. */
  readonly outDir: string;
  /**
   * The commit the artifact is built from, recorded in its manifest.
   * @default - GITHUB_SHA, else `git rev-parse HEAD` in projectRoot, else "unknown"
   */
  readonly commit?: string;
  /** Where GITHUB_SHA is read. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * The app's migration scripts; the highest number among them is the manifest's requiredMigration.
   * @default `<projectRoot>/lib/runtime/app/migrations`
   */
  readonly migrationsDirectory?: string;
}

/** One file of the artifact, as `manifest.json` lists it. */
export interface ManifestFile {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

/** `manifest.json` at the artifact's root: what was built, from what, and every file's checksum. */
export interface ReleaseManifest {
  readonly version: string;
  readonly commit: string;
  /** ISO 8601. */
  readonly builtAt: string;
  readonly nodeTarget: string;
  /**
   * The highest migration this code needs applied (the highest script number in
   * lib/runtime/app/migrations, 0 without scripts): `sluice release` refuses to roll it out onto a
   * stage whose schema-version parameter is lower.
   */
  readonly requiredMigration: number;
  /** Every other file in the artifact, sorted by path (the manifest cannot list its own checksum). */
  readonly files: readonly ManifestFile[];
}

export interface PackagedRelease {
  /** `<outDir>/releases/<version>.tgz` */
  readonly artifact: string;
  /** `<outDir>/releases/<version>.tgz.sha256`, in the format `sha256sum -c` reads. */
  readonly checksumFile: string;
  readonly sha256: string;
  /** The artifact's size in bytes. */
  readonly size: number;
  readonly manifest: ReleaseManifest;
}

/**
 * Builds the release artifact `sluice-install` downloads: a gzipped tarball with `server.mjs` (the web
 * app) and `worker.mjs` (the queue worker) at its root, each a minified self-contained bundle (the
 * AWS SDK included) for the instances' Node.js 22 with its source map beside it (the services run
 * with `--enable-source-maps`, so stack traces name the TypeScript sources), `release.json` naming
 * the version and `manifest.json`. `<version>.tgz.sha256` is written beside the tarball: the
 * instance refuses an artifact that does not match it.
 */
export async function packageRelease(options: PackageReleaseOptions): Promise<PackagedRelease> {
  assertReleaseVersion(options.version);
  const projectRoot = resolve(options.projectRoot);
  const commit = options.commit ?? (await commitOf(projectRoot, options.env ?? process.env));
  const staging = await mkdtemp(join(tmpdir(), 'sluice-package-'));
  try {
    await build({
      entryPoints: { server: join(projectRoot, 'bin/server.ts'), worker: join(projectRoot, 'bin/worker.ts') },
      outdir: staging,
      outExtension: { '.js': '.mjs' },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: NODE_TARGET,
      minify: true,
      // Linked .map files: stack traces map back without the maps weighing on every module load.
      // No sources content: the commit in the manifest names the sources, and the bundled SDK's
      // sources would triple the artifact.
      sourcemap: 'linked',
      sourcesContent: false,
      logLevel: 'error',
      // Some bundled dependencies are CommonJS and require Node's built-ins.
      banner: { js: "import { createRequire as sluiceCreateRequire } from 'node:module'; const require = sluiceCreateRequire(import.meta.url);" },
    });
    await Promise.all(['server.mjs.map', 'worker.mjs.map'].map((map) => relativizeSources(join(staging, map), staging, projectRoot)));
    await writeFile(join(staging, 'release.json'), `${JSON.stringify({ version: options.version })}\n`);
    const manifest: ReleaseManifest = {
      version: options.version,
      commit,
      builtAt: new Date().toISOString(),
      nodeTarget: NODE_TARGET,
      requiredMigration: await requiredMigration(options.migrationsDirectory ?? join(projectRoot, 'lib/runtime/app/migrations')),
      files: await describeFiles(staging),
    };
    await writeFile(join(staging, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);

    const releasesDir = join(options.outDir, 'releases');
    await mkdir(releasesDir, { recursive: true });
    const artifact = join(releasesDir, `${options.version}.tgz`);
    const entries = (await readdir(staging)).sort();
    await promisify(execFile)('tar', ['-czf', artifact, '--owner=0', '--group=0', '--numeric-owner', '-C', staging, ...entries]);
    const bytes = await readFile(artifact);
    const sha256 = sha256Of(bytes);
    const checksumFile = `${artifact}.sha256`;
    // Two spaces: the text-mode line `sha256sum` writes and `sha256sum -c` reads, run in releases/.
    await writeFile(checksumFile, `${sha256}  ${basename(artifact)}\n`);
    return { artifact, checksumFile, sha256, size: bytes.length, manifest };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** GITHUB_SHA in CI, else the checkout's HEAD, else "unknown" (a copy of the sources without git). */
async function commitOf(projectRoot: string, env: Readonly<Record<string, string | undefined>>): Promise<string> {
  if (env.GITHUB_SHA) return env.GITHUB_SHA;
  try {
    const { stdout } = await promisify(execFile)('git', ['rev-parse', 'HEAD'], { cwd: projectRoot });
    return stdout.trim() || 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * esbuild writes each source relative to the map, i.e. to the temporary build directory. Rewritten
 * relative to the project, a stack trace on the instance reads `<release>/lib/runtime/app/web-app.ts:41`
 * and the build does not depend on where the temporary directory was.
 */
async function relativizeSources(mapFile: string, buildDir: string, projectRoot: string): Promise<void> {
  const map = JSON.parse(await readFile(mapFile, 'utf8')) as { sources: string[] };
  map.sources = map.sources.map((source) => relative(projectRoot, resolve(buildDir, source)));
  await writeFile(mapFile, JSON.stringify(map));
}

async function describeFiles(directory: string): Promise<ManifestFile[]> {
  const names = (await readdir(directory)).sort();
  return Promise.all(
    names.map(async (name) => {
      const bytes = await readFile(join(directory, name));
      return { path: name, size: bytes.length, sha256: sha256Of(bytes) };
    }),
  );
}

function sha256Of(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
