// Reads what `cdk synth` wrote (a cloud assembly: manifest.json, one template per stack, metadata)
// without aws-cdk-lib: the guard runs in CI and on a laptop where only the output directory is given.
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { GuardInputError } from './errors.ts';

/** A CloudFormation template as the guard reads it. */
export interface CloudFormationTemplate {
  readonly Resources?: Readonly<Record<string, CloudFormationResource>>;
  readonly [section: string]: unknown;
}

export interface CloudFormationResource {
  readonly Type: string;
  readonly Properties?: Readonly<Record<string, unknown>>;
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
  readonly Metadata?: Readonly<Record<string, unknown>>;
  readonly [attribute: string]: unknown;
}

/** One metadata entry the CDK recorded for a construct path (logical IDs, acknowledgements, warnings). */
export interface MetadataEntry {
  readonly type: string;
  readonly data?: unknown;
}

export interface AssemblyStack {
  /** The CloudFormation stack name: stacks are matched across assemblies by it. */
  readonly stackName: string;
  readonly templateFile: string;
  readonly template: CloudFormationTemplate;
  /** Metadata by construct path (`/sluice-dev/WorkQueue/Queue/Resource`). */
  readonly metadata: Readonly<Record<string, readonly MetadataEntry[]>>;
}

/** One rule violation in the `validation-report.json` that synth writes when validation plugins ran. */
export interface ValidationViolation {
  readonly pluginName: string;
  readonly ruleName: string;
  readonly description?: string;
  readonly severity?: string;
  readonly constructPaths: readonly string[];
}

export interface CloudAssembly {
  readonly directory: string;
  readonly stacks: readonly AssemblyStack[];
  /** Violations from `validation-report.json`; empty when synth wrote none. */
  readonly violations: readonly ValidationViolation[];
}

interface ManifestArtifact {
  readonly type?: string;
  readonly properties?: { readonly templateFile?: string; readonly stackName?: string; readonly directoryName?: string };
  readonly metadata?: Record<string, MetadataEntry[]>;
  readonly additionalMetadataFile?: string;
}

const STACK_ARTIFACT = 'aws:cloudformation:stack';
/** A nested assembly (a CDK Stage): its stacks are deployed like the top level's. */
const NESTED_ASSEMBLY_ARTIFACT = 'cdk:cloud-assembly';

/**
 * Every stack of the cloud assembly in `directory` (relative to `cwd`; nested assemblies included),
 * with its template and metadata. Error messages name the `flag` and the directory as given.
 */
export async function readCloudAssembly(directory: string, flag: string, cwd: string): Promise<CloudAssembly> {
  const root = resolve(cwd, directory);
  const info = await stat(root).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new GuardInputError(`${flag} ${directory}: no such directory; synthesize first (npx cdk synth --output ${directory})`);
  }
  const stacks = await readStacks(root, directory, flag);
  const seen = new Set<string>();
  for (const { stackName } of stacks) {
    if (seen.has(stackName)) throw new GuardInputError(`${flag} ${directory}: stack ${stackName} appears twice (stacks are matched by name, so each must be unique)`);
    seen.add(stackName);
  }
  return { directory: root, stacks, violations: await readViolations(root, directory, flag) };
}

/** `shown` is the directory as the user gave it, for messages. */
async function readStacks(directory: string, shown: string, flag: string): Promise<AssemblyStack[]> {
  const manifestFile = join(directory, 'manifest.json');
  const manifest = await readJson<{ artifacts?: Record<string, ManifestArtifact> }>(manifestFile, flag, () =>
    `${flag} ${shown}: not a cloud assembly (no manifest.json); pass the directory cdk synth wrote (default cdk.out)`,
  );
  const stacks: AssemblyStack[] = [];
  for (const [artifactId, artifact] of Object.entries(manifest.artifacts ?? {})) {
    if (artifact.type === NESTED_ASSEMBLY_ARTIFACT && artifact.properties?.directoryName) {
      stacks.push(...(await readStacks(join(directory, artifact.properties.directoryName), join(shown, artifact.properties.directoryName), flag)));
    }
    if (artifact.type !== STACK_ARTIFACT || !artifact.properties?.templateFile) continue;
    const templateFile = join(directory, artifact.properties.templateFile);
    const template = await readJson<CloudFormationTemplate>(templateFile, flag, () =>
      `${flag} ${shown}: manifest.json names ${artifact.properties!.templateFile} for stack ${artifactId}, but there is no such file`,
    );
    // Large assemblies keep the metadata in a file of its own beside the template.
    const extra = artifact.additionalMetadataFile
      ? await readJson<Record<string, MetadataEntry[]>>(join(directory, artifact.additionalMetadataFile), flag, () =>
        `${flag} ${shown}: manifest.json names ${artifact.additionalMetadataFile} for stack ${artifactId}, but there is no such file`)
      : {};
    stacks.push({ stackName: artifact.properties.stackName ?? artifactId, templateFile, template, metadata: { ...artifact.metadata, ...extra } });
  }
  return stacks;
}

async function readViolations(directory: string, shown: string, flag: string): Promise<ValidationViolation[]> {
  const file = join(directory, 'validation-report.json');
  if (!(await stat(file).catch(() => undefined))) return [];
  const report = await readJson<ValidationReportFile>(file, flag, () => `${flag} ${shown}: validation-report.json is missing`);
  return (report.pluginReports ?? []).flatMap((plugin) => (plugin.violations ?? []).map((violation) => ({
    pluginName: plugin.pluginName ?? '',
    ruleName: violation.ruleName ?? '',
    description: violation.description,
    severity: violation.severity,
    constructPaths: (violation.violatingConstructs ?? []).map((construct) => construct.constructPath ?? ''),
  })));
}

interface ValidationReportFile {
  readonly pluginReports?: readonly {
    readonly pluginName?: string;
    readonly violations?: readonly {
      readonly ruleName?: string;
      readonly description?: string;
      readonly severity?: string;
      readonly violatingConstructs?: readonly { readonly constructPath?: string }[];
    }[];
  }[];
}

async function readJson<T>(file: string, flag: string, whenMissing: () => string): Promise<T> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new GuardInputError(whenMissing());
    throw new GuardInputError(`${flag}: cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new GuardInputError(`${flag}: ${file} is not valid JSON (${(error as Error).message}); synthesize again`);
  }
}
