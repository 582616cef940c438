import { describe, expect, it } from 'vitest';
import { releaseSummaryMarkdown } from '../../../../lib/runtime/release/cli/step-summary.ts';
import type { ReleaseResult } from '../../../../lib/runtime/release/release-engine.ts';

const T0 = Date.UTC(2026, 0, 1);

describe('releaseSummaryMarkdown', () => {
  it('renders a failed release as GitHub shows it: the failure on one line, a row per move, the failed step marked', () => {
    const result: ReleaseResult = {
      releaseId: 'r-1',
      version: '2.0.0',
      previousVersion: '1.0.0',
      outcome: 'rollback-failed',
      startedAt: T0,
      finishedAt: T0 + 95_000,
      targets: [
        { targetId: 'i-1', fromVersion: '1.0.0', toVersion: '2.0.0', direction: 'release', outcome: 'failed', steps: [
          { step: 'deregistering', startedAt: T0, durationMs: 0 },
          { step: 'draining', startedAt: T0, durationMs: 30_000 },
          { step: 'installing', startedAt: T0 + 30_000, durationMs: 40_000 },
        ] },
        { targetId: 'i-1', fromVersion: '2.0.0', toVersion: '1.0.0', direction: 'rollback', outcome: 'failed', steps: [
          { step: 'installing', startedAt: T0 + 70_000, durationMs: 25_000 },
        ] },
        { targetId: 'i-2', fromVersion: '1.0.0', toVersion: '1.0.0', direction: 'release', outcome: 'skipped', steps: [] },
      ],
      failure: { targetId: 'i-1', step: 'installing', reasonCode: 'Install.ExitCode4', message: 'installing 2.0.0 on i-1 failed:\ntail of the log' },
      rollbackFailures: [{ targetId: 'i-1', step: 'installing', reasonCode: 'Install.ExitCode1', message: 'installing 1.0.0 on i-1 failed:\ntar: Unexpected EOF' }],
    };

    expect(releaseSummaryMarkdown(result, 'sluice-prod')).toBe(`## sluice release \`2.0.0\` → sluice-prod: 🛑 failed, and the rollback failed

From \`1.0.0\` · 1m35s · release r-1

**Failed** at \`installing\` on \`i-1\` — \`Install.ExitCode4\`: installing 2.0.0 on i-1 failed:

**Rollback failed** at \`installing\` on \`i-1\` — \`Install.ExitCode1\`: installing 1.0.0 on i-1 failed:

| Target | Direction | From | To | Result | Time |
| --- | --- | --- | --- | --- | --- |
| \`i-1\` | release | \`1.0.0\` | \`2.0.0\` | failed | 1m10s |
| \`i-1\` | rollback | \`2.0.0\` | \`1.0.0\` | failed | 25s |
| \`i-2\` | release | \`1.0.0\` | \`1.0.0\` | skipped | 0s |

\`\`\`mermaid
gantt
  title 2.0.0 on sluice-prod
  dateFormat x
  axisFormat %H:%M:%S
  section i-1
    deregistering : ${T0}, ${T0 + 1}
    draining : ${T0}, ${T0 + 30_000}
    installing : crit, ${T0 + 30_000}, ${T0 + 70_000}
  section i-1 (rollback)
    installing : crit, ${T0 + 70_000}, ${T0 + 95_000}
\`\`\`

`);
  });

  it('says a superseded release changed nothing, with no table or timeline', () => {
    const result: ReleaseResult = {
      releaseId: 'r-2',
      version: '2.0.0',
      previousVersion: '',
      outcome: 'superseded',
      startedAt: T0,
      finishedAt: T0 + 7_000,
      targets: [],
      rollbackFailures: [],
      supersededBy: '3.0.0',
    };

    expect(releaseSummaryMarkdown(result, 'sluice-dev')).toBe(`## sluice release \`2.0.0\` → sluice-dev: ⏭️ superseded

From \`n/a\` · 7s · release r-2

Superseded by \`3.0.0\`; nothing was changed.

`);
  });
});
