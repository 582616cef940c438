// `npx sluice sandbox --demo` in CI: a release v1 → v2 → v1 under steady load, with a worker
// SIGKILLed mid-stream and started again, must lose nothing — and the demo's exit code says so.
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sandboxProcesses } from '../../../lib/runtime/sandbox/leftovers.ts';
import { requireHaproxy } from '../../helpers/haproxy.ts';
import { requirePostgres } from '../../helpers/postgres-server.ts';
import { startSluice } from '../../helpers/sluice-process.ts';

describe.skipIf(!requireHaproxy() || !requirePostgres())('npx sluice sandbox --demo', () => {
  it('releases v1 → v2 → v1 under load and kills a worker mid-stream with 0 failed requests, 0 lost jobs, every event in order, leases rebalanced; exit 0; nothing left', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'sluice-demo-test-')), 'sandbox');
    const demo = startSluice(['sandbox', '--demo', '--dir', dir, '--no-status-page']);
    try {
      const code = await demo.exited;
      const output = demo.stdout();
      expect(code, `${output}\n${demo.stderr()}`).toBe(0);
      expect(output).toMatch(/^demo passed in \d+\.\d s$/m);
      // Both releases ran to the end, through the release CLI the sandbox prints.
      expect(output).toMatch(/release │ released v2 to 3 target\(s\)/);
      expect(output).toMatch(/release │ released v1 to 3 target\(s\)/);
      expect(output).toMatch(/SIGKILL worker1 \(\S+\) mid-stream/);

      const requests = /ok {4}no failed HTTP request: (\d+) requests, 0 failed$/m.exec(output);
      expect(requests, output).not.toBeNull();
      expect(Number(requests![1])).toBeGreaterThan(200);
      const jobs = /ok {4}every accepted job processed: (\d+) accepted, (\d+) processed, 0 lost, \d+ processed twice \(SQS delivers at least once\), 0 in the dead-letter queue$/m.exec(output);
      expect(jobs, output).not.toBeNull();
      expect(Number(jobs![1])).toBeGreaterThan(30);
      expect(jobs![2]).toBe(jobs![1]);
      const events = /ok {4}every event processed in order per key: (\d+) put over 8 keys, (\d+) processed, 0 missing, 0 keys out of order, \d+ replayed after the crash$/m.exec(output);
      expect(events, output).not.toBeNull();
      expect(events![2]).toBe(events![1]);
      expect(output).toMatch(/ok {4}leases rebalanced: 4 shards: \S+ holds 2, \S+ holds 2$/m);
      // The page views saw both versions: the load ran across both releases.
      expect(output).toMatch(/page views answered by version: (v1 \d+, v2 \d+|v2 \d+, v1 \d+)$/m);

      expect(existsSync(dir)).toBe(false);
      expect(sandboxProcesses(dir)).toEqual([]);
    } finally {
      demo.child.kill('SIGKILL');
    }
  }, 240_000);
});
