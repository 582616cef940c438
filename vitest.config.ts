import { availableParallelism } from 'node:os';
import { configDefaults, defineConfig } from 'vitest/config';

// The real `cdk synth` CLI runs: the longest file (~100 s), and nothing to gain from a shared worker.
const cdkCliTests = ['test/bin/app.test.ts'];

export default defineConfig({
  test: {
    // Synthesizing a full stack takes a few seconds on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // vitest's default is one worker fewer than the CPUs: one on a 2-core machine, where the suite
    // then ran one file at a time while most files wait on child processes, sockets and timers.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    // The pinned AWS SDK runs on Node.js 20; its notice about future releases needing 22 is noise here.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    projects: [
      // Projects are scheduled in name order: 'cdk-cli' < 'suite' starts the longest file first, also
      // on a clean clone, where vitest has no durations and would order the files by size.
      { extends: true, test: { name: 'cdk-cli', include: cdkCliTests } },
      {
        extends: true,
        test: {
          name: 'suite',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...cdkCliTests],
          // One module graph per worker instead of one process per file: aws-cdk-lib, the AWS SDK
          // and the stand-ins load once, not 100 times (seconds per file on 2 cores). So a file must
          // leave global state as it found it: restore client mocks, stubbed env, fake and routed
          // timers, and reset modules it loaded under a stubbed environment.
          isolate: false,
        },
      },
    ],
  },
});
