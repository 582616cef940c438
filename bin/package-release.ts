#!/usr/bin/env -S node --import tsx
// npm run package -- <version> [out-dir]: builds <out-dir>/releases/<version>.tgz (default out-dir:
// dist), the artifact `sluice release <version>` installs; upload it to the stack's artifact bucket.
import { fileURLToPath } from 'node:url';
import { BadInputError } from '../lib/runtime/release/errors.ts';
import { packageRelease } from '../lib/runtime/release/package-release.ts';

const [version, outDir = 'dist'] = process.argv.slice(2);
if (!version) {
  process.stderr.write('usage: npm run package -- <version> [out-dir]   (e.g. the commit SHA)\n');
  process.exit(3);
}
try {
  const artifact = await packageRelease({ version, projectRoot: fileURLToPath(new URL('..', import.meta.url)), outDir });
  process.stdout.write(`${artifact}\nupload it: aws s3 cp ${artifact} s3://<ArtifactBucketName>/releases/${version}.tgz\n`);
} catch (error) {
  if (!(error instanceof BadInputError)) throw error;
  process.stderr.write(`package: ${error.message}\n`);
  process.exit(3);
}
