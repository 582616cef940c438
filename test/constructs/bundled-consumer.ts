import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { expect, vi } from 'vitest';
import { testApp } from '../helpers/synth.ts';

/**
 * Synthesizes what `build` adds to a stack with bundling on (unit tests otherwise skip it), checks
 * that its one Lambda function was bundled by esbuild into a minified ES module with a source map
 * that leaves the AWS SDK to the runtime, and hands its `handler` to `use` (stdout silenced).
 */
export async function withBundledConsumer(build: (stack: Stack) => void, use: (handler: (event: unknown, context: unknown) => Promise<unknown>) => Promise<void>): Promise<void> {
  const app = testApp();
  app.node.setContext('aws:cdk:bundling-stacks', ['**']);
  const stack = new Stack(app, 'BundledStack');
  build(stack);
  const assembly = app.synth();
  try {
    const functions = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'));
    expect(functions).toHaveLength(1);
    const assetDirectory = join(assembly.directory, `asset.${String(functions[0]!.Properties.Code.S3Key).replace(/\.zip$/, '')}`);
    expect(existsSync(join(assetDirectory, 'index.mjs.map'))).toBe(true);
    const bundle = readFileSync(join(assetDirectory, 'index.mjs'), 'utf8');
    expect(bundle.split('\n').length).toBeLessThan(10);
    expect(bundle).not.toMatch(/from\s*"@aws-sdk\//);

    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const { handler } = await import(pathToFileURL(join(assetDirectory, 'index.mjs')).href);
      await use(handler);
    } finally {
      write.mockRestore();
    }
  } finally {
    rmSync(assembly.directory, { recursive: true, force: true });
  }
}
