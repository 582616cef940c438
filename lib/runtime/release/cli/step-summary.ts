import type { ReleaseResult } from '../release-engine.ts';
import { formatDuration } from '../../duration.ts';
import { reportMarkdown } from './report-table.ts';

const outcomeTitle: Record<ReleaseResult['outcome'], string> = {
  succeeded: '✅ released',
  'rolled-back': '↩️ failed and rolled back',
  'rollback-failed': '🛑 failed, and the rollback failed',
  aborted: '⏹️ stopped',
  superseded: '⏭️ superseded',
};

/**
 * The Markdown a GitHub job summary shows: outcome, the failure, a table per target and a mermaid
 * gantt timeline of every target's steps.
 */
export function releaseSummaryMarkdown(result: ReleaseResult, stackName: string): string {
  const lines = [
    `## sluice release \`${result.version}\` → ${stackName}: ${outcomeTitle[result.outcome]}`,
    '',
    `From \`${result.previousVersion || 'n/a'}\` · ${formatDuration(result.finishedAt - result.startedAt)} · release ${result.releaseId}`,
    '',
  ];
  if (result.supersededBy) lines.push(`Superseded by \`${result.supersededBy}\`; nothing was changed.`, '');
  if (result.failure) {
    const { targetId, step, reasonCode, message } = result.failure;
    lines.push(`**Failed** at \`${step}\`${targetId ? ` on \`${targetId}\`` : ''} — \`${reasonCode}\`: ${message.split('\n')[0]}`, '');
  }
  for (const failure of result.rollbackFailures) {
    lines.push(`**Rollback failed** at \`${failure.step}\`${failure.targetId ? ` on \`${failure.targetId}\`` : ''} — \`${failure.reasonCode}\`: ${failure.message.split('\n')[0]}`, '');
  }
  if (result.zones) lines.push(`Zone by zone: ${result.zones.map((batch, index) => `${index + 1}. \`${batch.zone}\` (${batch.targets.length} target${batch.targets.length === 1 ? '' : 's'})`).join(' → ')}`, '');
  const zoneOf = new Map(result.zones?.flatMap((batch) => batch.targets.map((id) => [id, batch.zone] as const)));
  if (result.targets.length > 0) {
    const zoneColumn = result.zones !== undefined;
    lines.push(
      `| Target |${zoneColumn ? ' Zone |' : ''} Direction | From | To | Result | Time |`,
      `| --- |${zoneColumn ? ' --- |' : ''} --- | --- | --- | --- | --- |`,
    );
    for (const target of result.targets) {
      const total = target.steps.reduce((sum, step) => sum + step.durationMs, 0);
      const zone = zoneColumn ? ` ${zoneOf.get(target.targetId) ?? '—'} |` : '';
      lines.push(`| \`${target.targetId}\` |${zone} ${target.direction} | \`${target.fromVersion}\` | \`${target.toVersion}\` | ${target.outcome} | ${formatDuration(total)} |`);
    }
    lines.push('');
  }
  for (const report of result.reports ?? []) lines.push(...reportMarkdown(report));
  const timed = result.targets.filter((target) => target.steps.length > 0);
  if (timed.length > 0) {
    lines.push('```mermaid', 'gantt', `  title ${result.version} on ${stackName}`, '  dateFormat x', '  axisFormat %H:%M:%S');
    for (const target of timed) {
      lines.push(`  section ${target.targetId}${target.direction === 'release' ? '' : ` (${target.direction})`}`);
      for (const step of target.steps) {
        // Zero-length steps still get a sliver, or mermaid drops them.
        lines.push(`    ${step.step} : ${target.outcome === 'failed' && step === target.steps.at(-1) ? 'crit, ' : ''}${step.startedAt}, ${step.startedAt + Math.max(step.durationMs, 1)}`);
      }
    }
    lines.push('```', '');
  }
  return `${lines.join('\n')}\n`;
}
