#!/usr/bin/env -S node --import tsx
// npm run package -- <version> [out-dir]: builds <out-dir>/releases/<version>.tgz (default out-dir:
// dist) and its checksum <version>.tgz.sha256, the artifact `sluice release <version>` installs;
// upload both to the stack's artifact bucket.
import { fileURLToPath } from 'node:url';
import { BadInputError } from '../lib/runtime/release/errors.ts';
import { packageRelease } from '../lib/runtime/release/package-release.ts';

const [version, outDir = 'dist'] = process.argv.slice(2);
if (!version) {
  process.stderr.write('usage: npm run package -- <version> [out-dir]   (e.g. the commit SHA)\n');
  process.exit(3);
}
try {
  const packaged = await packageRelease({ version, projectRoot: fileURLToPath(new URL('..', import.meta.url)), outDir });
  const mebibytes = (packaged.size / 1_048_576).toFixed(1);
  process.stdout.write(
    [
      `${packaged.artifact} (${mebibytes} MiB, ${packaged.size} bytes, commit ${packaged.manifest.commit})`,
      `${packaged.checksumFile} (sha256 ${packaged.sha256})`,
      'upload both:',
      `  aws s3 cp ${packaged.artifact} s3://<ArtifactBucketName>/releases/${version}.tgz`,
      `  aws s3 cp ${packaged.checksumFile} s3://<ArtifactBucketName>/releases/${version}.tgz.sha256`,
      '',
    ].join('\n'),
  );
} catch (error) {
  if (!(error instanceof BadInputError)) throw error;
  process.stderr.write(`package: ${error.message}\n`);
  process.exit(3);
}
