// What keeps CDK out of the code that runs on instances, in Lambda and in CI: bundle each runtime
// entry point the way it ships (esbuild, platform node) and look at every input the bundle would
// contain, however deep the import that pulled it in. A grep of direct imports misses the chain
// bin/sluice.ts → lib/runtime/… → lib/config/stages.ts → aws-cdk-lib; the bundle does not.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { build, type Metafile, type Plugin } from 'esbuild';
import ts from 'typescript';

/** The CDK packages: nothing from them may run outside `cdk synth`. */
const CDK_PACKAGES = ['aws-cdk-lib', 'constructs'] as const;
const CDK_SPECIFIER = /^(aws-cdk-lib|constructs)(\/|$)/;
/** Where esbuild's metafile names the boundary's stand-in for a CDK package (see cdkBoundary). */
const BOUNDARY_NAMESPACE = 'cdk-boundary';

export interface CdkInBundle {
  /** The entry point, relative to the project root. */
  readonly entryPoint: string;
  /** The first input on the chain that does not belong in a runtime bundle. */
  readonly offender: string;
  readonly why: string;
  /** entry point → … → offender (→ … → the CDK package, for a lib/config file). */
  readonly chain: readonly string[];
}

export interface RuntimeBundleOptions {
  readonly projectRoot: string;
  /** Entry points relative to projectRoot. */
  readonly entryPoints: readonly string[];
  /** What the real packaging leaves out of the bundle (never the CDK packages). */
  readonly external: readonly string[];
}

/**
 * Stops the bundle at the first import of a CDK package: the import resolves to an empty stand-in
 * that is still an input of the metafile (`cdk-boundary:aws-cdk-lib`), so the guard sees it, but
 * esbuild does not parse the ~3,000 files of aws-cdk-lib behind it (8 s on a 2-core machine), which
 * say nothing more than that first import does. Deep relative imports into node_modules/aws-cdk-lib
 * still load the real files, and those are caught by their path.
 */
const cdkBoundary: Plugin = {
  name: 'cdk-boundary',
  setup(builder) {
    builder.onResolve({ filter: CDK_SPECIFIER }, (args) => ({ path: args.path.split('/')[0]!, namespace: BOUNDARY_NAMESPACE }));
    builder.onLoad({ filter: /.*/, namespace: BOUNDARY_NAMESPACE }, () => ({ contents: '', loader: 'js' }));
  },
};

/** The CDK package an input belongs to, if any. */
function cdkPackageOf(input: string): string | undefined {
  if (input.startsWith(`${BOUNDARY_NAMESPACE}:`)) return input.slice(BOUNDARY_NAMESPACE.length + 1);
  return CDK_PACKAGES.find((name) => input.includes(`node_modules/${name}/`));
}

/** Why `input` may not be in a runtime bundle, given what it imports; undefined when it may. */
function whyForbidden(input: string, reachesCdk: (input: string) => string | undefined): string | undefined {
  const cdkPackage = cdkPackageOf(input);
  if (cdkPackage) return `the CDK package ${cdkPackage}`;
  if (input.startsWith('lib/constructs/')) return 'a CDK construct (lib/constructs)';
  if (input.startsWith('lib/stacks/')) return 'a CDK stack (lib/stacks)';
  if (input.startsWith('lib/config/')) {
    const reached = reachesCdk(input);
    if (reached) return `a lib/config file that imports ${reached}`;
  }
  return undefined;
}

/** Shortest import chains from `from` to every input it reaches (breadth first), as parent links. */
function importTree(metafile: Metafile, from: string): Map<string, string | undefined> {
  const parents = new Map<string, string | undefined>([[from, undefined]]);
  const queue = [from];
  for (let input = queue.shift(); input !== undefined; input = queue.shift()) {
    for (const { path, external } of metafile.inputs[input]?.imports ?? []) {
      if (external || parents.has(path)) continue;
      parents.set(path, input);
      queue.push(path);
    }
  }
  return parents;
}

function chainTo(parents: Map<string, string | undefined>, input: string): string[] {
  const chain: string[] = [];
  for (let at: string | undefined = input; at !== undefined; at = parents.get(at)) chain.unshift(at);
  return chain;
}

const display = (input: string) => cdkPackageOf(input) ?? input;

/** Every CDK input in the bundles of `entryPoints`, each with the import chain that brings it in. */
export async function findCdkInRuntimeBundles({ projectRoot, entryPoints, external }: RuntimeBundleOptions): Promise<CdkInBundle[]> {
  // An external CDK package is no input of the bundle: the guard would see nothing.
  const hidden = external.filter((pattern) => CDK_SPECIFIER.test(pattern));
  if (hidden.length > 0) throw new Error(`the CDK packages must be bundled for the guard to see them (external: ${hidden.join(', ')})`);
  const { metafile } = await build({
    absWorkingDir: projectRoot,
    entryPoints: [...entryPoints],
    external: [...external],
    plugins: [cdkBoundary],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    metafile: true,
    write: false,
    outdir: 'out',
    logLevel: 'silent',
  });
  // The CDK package a lib/config file's own imports reach, and the chain from that file to it.
  const reachesCdk = (input: string): { name: string; chain: string[] } | undefined => {
    const tree = importTree(metafile, input);
    const cdkInput = [...tree.keys()].find((reached) => cdkPackageOf(reached) !== undefined);
    return cdkInput === undefined ? undefined : { name: cdkPackageOf(cdkInput)!, chain: chainTo(tree, cdkInput) };
  };

  const found: CdkInBundle[] = [];
  for (const entryPoint of entryPoints) {
    // The metafile names inputs relative to absWorkingDir.
    const tree = importTree(metafile, relative(projectRoot, join(projectRoot, entryPoint)));
    const offenders = new Map<string, string>();
    for (const input of tree.keys()) {
      const why = whyForbidden(input, (file) => reachesCdk(file)?.name);
      if (why) offenders.set(input, why);
    }
    for (const [offender, why] of offenders) {
      const chain = chainTo(tree, offender);
      // Only the first wrong turn: what lies behind another offender is reported through it.
      if (chain.slice(0, -1).some((input) => offenders.has(input))) continue;
      const onwards = offender.startsWith('lib/config/') ? reachesCdk(offender)!.chain.slice(1) : [];
      found.push({ entryPoint, offender: display(offender), why, chain: [...chain, ...onwards].map(display) });
    }
  }
  return found;
}

export function formatCdkInBundle({ entryPoint, offender, why, chain }: CdkInBundle): string {
  return `${entryPoint} bundles ${offender} (${why}): ${chain.join(' → ')}`;
}

/** `.ts` files under `directory` (relative to projectRoot), at any depth, relative to projectRoot. */
export function typeScriptFilesUnder(projectRoot: string, directory: string): string[] {
  return readdirSync(join(projectRoot, directory), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .map((file) => join(directory, file))
    .sort();
}

/**
 * Every import of a CDK package in the sources, type-only ones included (they vanish from a bundle,
 * but still tie the file to CDK), as `file:line imports aws-cdk-lib`.
 */
export function cdkImportsIn(projectRoot: string, files: readonly string[]): string[] {
  const found: string[] = [];
  for (const file of files) {
    const source = readFileSync(join(projectRoot, file), 'utf8');
    for (const { fileName, pos } of ts.preProcessFile(source, true, true).importedFiles) {
      if (!CDK_SPECIFIER.test(fileName)) continue;
      const line = source.slice(0, pos).split('\n').length;
      found.push(`${file}:${line} imports ${fileName}`);
    }
  }
  return found;
}
