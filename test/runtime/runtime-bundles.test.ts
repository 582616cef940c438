// The rule "no aws-cdk-lib below lib/runtime, in lambda/ or in the executables that run on instances"
// checked on what actually ships: each entry point's esbuild bundle, every input however deep.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../helpers/run-cdk.ts';
import { cdkImportsIn, findCdkInRuntimeBundles, formatCdkInBundle, typeScriptFilesUnder } from '../helpers/runtime-bundle-guard.ts';

/** Every executable but the CDK app itself runs outside `cdk synth`: on instances or in CI. */
const binEntryPoints = typeScriptFilesUnder(projectRoot, 'bin').filter((file) => file !== 'bin/app.ts');
const lambdaEntryPoints = typeScriptFilesUnder(projectRoot, 'lambda');
/** package-release.ts bundles bin/ with no externals (the AWS SDK included). */
const INSTANCE_EXTERNALS: string[] = [];
/**
 * NodejsFunction on a Node.js 22+ runtime leaves the SDK to the runtime: @aws-sdk/*, and @smithy/*
 * with the `@aws-cdk/aws-lambda-nodejs:sdkV3ExcludeSmithyPackages` flag that cdk.json sets.
 */
const LAMBDA_EXTERNALS = ['@aws-sdk/*', '@smithy/*'];

describe('runtime bundles', () => {
  it('covers every runtime entry point, found by listing bin/ and lambda/', () => {
    expect(binEntryPoints).toEqual(expect.arrayContaining(['bin/worker.ts', 'bin/server.ts', 'bin/sluice.ts']));
    expect(binEntryPoints).not.toContain('bin/app.ts');
    expect(lambdaEntryPoints).toContain('lambda/queue-consumer.ts');
  });

  it('bundle nothing from CDK into the executables in bin/', async () => {
    const found = await findCdkInRuntimeBundles({ projectRoot, entryPoints: binEntryPoints, external: INSTANCE_EXTERNALS });
    expect(found.map(formatCdkInBundle)).toEqual([]);
  });

  it('bundle nothing from CDK into the Lambda functions', async () => {
    const found = await findCdkInRuntimeBundles({ projectRoot, entryPoints: lambdaEntryPoints, external: LAMBDA_EXTERNALS });
    expect(found.map(formatCdkInBundle)).toEqual([]);
  });

  it('have no CDK import in any lib/runtime or lambda source, not even a type-only one', () => {
    const sources = [...typeScriptFilesUnder(projectRoot, 'lib/runtime'), ...lambdaEntryPoints];
    expect(sources.length).toBeGreaterThan(10);
    expect(cdkImportsIn(projectRoot, sources)).toEqual([]);
  });
});

describe('the runtime bundle guard', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'sluice-bundle-guard-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  const write = (file: string, source: string) => {
    mkdirSync(dirname(join(scratch, file)), { recursive: true });
    writeFileSync(join(scratch, file), source);
  };

  // A small project of the same shape: a runtime module reaching CDK through lib/config, a Lambda
  // reaching a construct, and a lib/config file that only borrows a CDK type (erased from bundles).
  write('lib/config/cdk-settings.ts', "import { Duration } from 'aws-cdk-lib';\nexport const drain = Duration.seconds(10);\n");
  write('lib/config/plain-settings.ts', "import type { Duration } from 'aws-cdk-lib';\nexport const drainSeconds: number = 10;\nexport type Drain = Duration;\n");
  write('lib/runtime/settings-reader.ts', "import { drain } from '../config/cdk-settings.ts';\nexport const drainMs = () => drain.toMilliseconds();\n");
  write('lib/constructs/thing/thing.ts', "import { Construct } from 'constructs';\nexport class Thing extends Construct {}\n");
  write('bin/tool.ts', "import { drainMs } from '../lib/runtime/settings-reader.ts';\nconsole.log(drainMs());\n");
  write('bin/clean.ts', "import { drainSeconds } from '../lib/config/plain-settings.ts';\nconsole.log(drainSeconds);\n");
  write('lambda/fn.ts', "import { Thing } from '../lib/constructs/thing/thing.ts';\nexport const handler = async () => Thing.name;\n");
  write('lib/runtime/typed.ts', "// a runtime file that names a CDK type\nimport type { Duration } from 'aws-cdk-lib';\nexport type D = Duration;\n");

  it('names the entry point and the import chain to CDK, through a lib/config file that imports it', async () => {
    const found = await findCdkInRuntimeBundles({ projectRoot: scratch, entryPoints: ['bin/tool.ts', 'bin/clean.ts', 'lambda/fn.ts'], external: [] });
    expect(found).toEqual([
      {
        entryPoint: 'bin/tool.ts',
        offender: 'lib/config/cdk-settings.ts',
        why: 'a lib/config file that imports aws-cdk-lib',
        chain: ['bin/tool.ts', 'lib/runtime/settings-reader.ts', 'lib/config/cdk-settings.ts', 'aws-cdk-lib'],
      },
      {
        entryPoint: 'lambda/fn.ts',
        offender: 'lib/constructs/thing/thing.ts',
        why: 'a CDK construct (lib/constructs)',
        chain: ['lambda/fn.ts', 'lib/constructs/thing/thing.ts'],
      },
    ]);
    expect(formatCdkInBundle(found[0]!)).toBe(
      'bin/tool.ts bundles lib/config/cdk-settings.ts (a lib/config file that imports aws-cdk-lib): '
        + 'bin/tool.ts → lib/runtime/settings-reader.ts → lib/config/cdk-settings.ts → aws-cdk-lib',
    );
  });

  it('refuses to run with CDK left out of the bundle, where it could not see it', async () => {
    await expect(findCdkInRuntimeBundles({ projectRoot: scratch, entryPoints: ['bin/tool.ts'], external: ['aws-cdk-lib'] }))
      .rejects.toThrow('the CDK packages must be bundled for the guard to see them (external: aws-cdk-lib)');
  });

  it('finds a type-only CDK import in a runtime source, by file and line', () => {
    expect(cdkImportsIn(scratch, ['lib/runtime/typed.ts', 'lib/runtime/settings-reader.ts'])).toEqual(['lib/runtime/typed.ts:2 imports aws-cdk-lib']);
  });
});
