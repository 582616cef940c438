import type { ReleaseEngine, ReleaseEvents } from '../release-engine.ts';
import { formatDuration } from '../../duration.ts';
import { reportLines } from './report-table.ts';

type Write = (line: string) => void;

/**
 * Shows a release as it happens: one line per step per target with its duration, or (with --json)
 * one NDJSON object per event, `{"event": "...", "at": "<ISO time>", ...}`.
 */
export function reportProgress(engine: ReleaseEngine, write: Write, options: { json: boolean; now: () => number }): void {
  const events: (keyof ReleaseEvents & string)[] = ['lock-waiting', 'lock-acquired', 'plan', 'zone-started', 'report', 'step-started', 'step', 'target-done', 'target-gone', 'failure', 'rollback', 'warning', 'finished'];
  if (options.json) {
    for (const event of events) {
      engine.on(event, (payload) => {
        // `at` is always the line's ISO time: step-started's own numeric `at` is the same instant.
        const { at: _sameInstant, ...fields } = payload as { at?: unknown };
        write(JSON.stringify({ event, at: new Date(options.now()).toISOString(), ...fields }));
      });
    }
    return;
  }
  const started = options.now();
  const stamp = () => {
    const elapsed = Math.floor((options.now() - started) / 1000);
    return `[${String(Math.floor(elapsed / 60)).padStart(2, '0')}:${String(elapsed % 60).padStart(2, '0')}]`;
  };
  engine.on('lock-waiting', ({ holder, version }) => write(`${stamp()} waiting for the release lock, held by ${holder} (${version})`));
  engine.on('lock-acquired', ({ releaseId }) => write(`${stamp()} lock acquired (release ${releaseId})`));
  engine.on('warning', ({ message }) => write(`${stamp()} warning: ${message}`));
  engine.on('plan', ({ version, previousVersion, targets, toRelease, rules }) => {
    write(`${stamp()} releasing ${version} (from ${previousVersion}) to ${toRelease.length} of ${targets.length} targets; at most ${rules.maxUnavailable} out, at least ${rules.minHealthy} healthy`);
  });
  engine.on('zone-started', ({ zone, index, zoneCount, targets }) => write(`${stamp()} zone ${zone} (${index + 1} of ${zoneCount}): ${targets.join(', ')}`));
  engine.on('report', (report) => {
    for (const line of reportLines(report)) write(`${stamp()} ${line}`);
  });
  engine.on('step', ({ targetId, step, direction, durationMs }) => {
    write(`${stamp()} ${targetId}  ${direction === 'release' ? '' : `${direction} `}${step.padEnd(16)} ${formatDuration(durationMs)}`);
  });
  engine.on('target-done', ({ targetId, version, durationMs }) => write(`${stamp()} ${targetId}  on ${version} (${formatDuration(durationMs)})`));
  engine.on('target-gone', ({ targetId }) => write(`${stamp()} ${targetId}  left the group (terminated); skipped`));
  // First line only: the installer's output tail follows once, in the closing message.
  engine.on('failure', ({ targetId, step, reasonCode, message }) => write(`${stamp()} FAILED ${targetId ?? ''} at ${step} [${reasonCode}]: ${message.split('\n')[0]}`));
  engine.on('rollback', ({ targets }) => write(`${stamp()} rolling back ${targets.length} target(s): ${targets.join(', ') || '(none moved)'}`));
}
