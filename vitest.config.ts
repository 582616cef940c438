import { availableParallelism } from 'node:os';
import { relative } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The longest files (each 30 s or more of a worker on 2 cores), longest first. vitest starts files
 * in order of their last recorded duration, but a clean clone (CI) has none, and it falls back to
 * file size: test/runtime/sandbox/demo.test.ts came 97th of 117 and kept one worker busy for 40 s
 * after the other had finished. A stale list only costs time, never correctness.
 */
const longestFiles = [
  'test/bin/app.test.ts',
  'test/stacks/policy-checks.test.ts',
  'test/runtime/release/release-engine.property.test.ts',
  'test/runtime/sandbox/demo.test.ts',
  'test/runtime/sandbox/sandbox-cli.test.ts',
];

class LongestFilesFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => {
      const index = longestFiles.indexOf(relative(file.project.config.root, file.moduleId));
      return index === -1 ? longestFiles.length : index;
    };
    // Array.prototype.sort is stable: the other files keep vitest's order.
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Synthesizing a full stack takes a few seconds on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // vitest's default is one worker fewer than the CPUs: one on a 2-core machine, where the suite
    // then ran one file at a time while most files wait on child processes, sockets and timers.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    // One module graph per worker instead of one process per file: aws-cdk-lib, the AWS SDK and the
    // stand-ins load once per worker, not once per file (seconds each on 2 cores). So a file leaves
    // global state as it found it: it restores client mocks, stubbed env, fake and routed timers,
    // and resets the modules it loaded under a stubbed environment (see consumer-metrics.test.ts).
    // A file that cannot goes in a `projects` entry of its own with isolate: true.
    isolate: false,
    sequence: { sequencer: LongestFilesFirst },
    // The pinned AWS SDK runs on Node.js 20; its notice about future releases needing 22 is noise here.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
