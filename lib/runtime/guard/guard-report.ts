// The guard's verdict as a person reads it: plain lines for a terminal or a CI log, Markdown for
// the pull-request comment, and the JSON shape --json prints.
import type { GuardResult, StackComparison, StatefulChange } from './destructive-changes.ts';
import type { NagFinding, NagSummary } from './nag-summary.ts';

/** `allowed`: destructive, and the override was given. */
export type GuardVerdict = 'clean' | 'destructive' | 'allowed';

export interface GuardReport {
  readonly verdict: GuardVerdict;
  /** The directories as given on the command line. */
  readonly base: string;
  readonly head: string;
  readonly result: GuardResult;
  /** cdk-nag's findings in the head assembly. */
  readonly nag: NagSummary;
}

export function guardVerdict(result: GuardResult, allowDestructive: boolean): GuardVerdict {
  if (result.destructive.length === 0) return 'clean';
  return allowDestructive ? 'allowed' : 'destructive';
}

// --- plain text ------------------------------------------------------------------------------------

export function guardReportLines(report: GuardReport): string[] {
  const { result } = report;
  const lines = [`sluice guard: ${report.base} → ${report.head}: ${result.stacks.map((stack) => describeStack(stack)).join(', ') || 'no stacks'}`];
  if (result.destructive.length === 0) {
    lines.push('clean: no stateful resource would be replaced or removed');
  } else {
    lines.push(`${report.verdict === 'allowed' ? 'DESTRUCTIVE (allowed by --allow-destructive)' : 'DESTRUCTIVE'}: ${countOf(result.destructive)} would be replaced or removed:`);
    lines.push(...result.destructive.flatMap(changeLines));
  }
  if (result.orphaned.length > 0) {
    lines.push(`orphaned (kept in the account by DeletionPolicy Retain, no longer managed by the stack): ${countOf(result.orphaned)}:`);
    lines.push(...result.orphaned.flatMap(changeLines));
  }
  lines.push(`cdk-nag (head): ${nagHeadline(report.nag)}`);
  lines.push(...report.nag.unacknowledged.map((finding) => `  ${finding.rule} ${finding.constructPath}: ${finding.text}`));
  return lines;
}

function changeLines(change: StatefulChange): string[] {
  const where = [change.resourceType, change.constructPath].filter(Boolean).join(', ');
  return [`  ${change.stackName} ${change.logicalId} (${where}): ${change.change}`, ...change.reasons.map((reason) => `    - ${reason}`)];
}

function describeStack(stack: StackComparison, name = stack.stackName): string {
  const stateful = `${stack.statefulResources} stateful resource${stack.statefulResources === 1 ? '' : 's'}`;
  if (stack.status === 'added') return `${name} (new, ${stateful})`;
  if (stack.status === 'removed') return `${name} (removed, had ${stateful})`;
  return `${name} (${stateful})`;
}

function countOf(changes: readonly StatefulChange[]): string {
  return `${changes.length} stateful resource${changes.length === 1 ? '' : 's'}`;
}

function nagHeadline(nag: NagSummary): string {
  return `${nag.unacknowledged.length} unacknowledged finding${nag.unacknowledged.length === 1 ? '' : 's'}, ${nag.acknowledged.length} acknowledged`;
}

// --- Markdown --------------------------------------------------------------------------------------

const headlines: Record<GuardVerdict, string> = {
  clean: '✅ Destructive-change guard: no stateful resource replaced or removed',
  destructive: '🛑 Destructive-change guard: stateful resources would be replaced or removed',
  allowed: '⚠️ Destructive-change guard: stateful resources would be replaced or removed — allowed by the override',
};

export function guardReportMarkdown(report: GuardReport, overrideHint: string): string {
  const { result } = report;
  const out = [`#### ${headlines[report.verdict]}`, '', `Stacks: ${result.stacks.map((stack) => describeStack(stack, `\`${stack.stackName}\``)).join(', ') || 'none'}.`, ''];
  if (result.destructive.length > 0) {
    out.push(...changeTable(result.destructive), '');
    out.push(report.verdict === 'allowed'
      ? 'The override is set: deploying this destroys the data these resources hold.'
      : `Deploying this destroys the data these resources hold. Keep them (revert the change, or keep a moved construct's logical ID), or, if the data may go, ${overrideHint}.`);
    out.push('');
  }
  if (result.orphaned.length > 0) {
    out.push('**Orphaned** — removed, but DeletionPolicy Retain keeps them and their data in the account, no longer managed by the stack:', '');
    out.push(...changeTable(result.orphaned), '');
  }
  out.push(`#### cdk-nag: ${nagHeadline(report.nag)}`, '');
  if (report.nag.unacknowledged.length > 0) out.push(...nagTable(report.nag.unacknowledged, 'Finding'), '');
  if (report.nag.acknowledged.length > 0) {
    out.push(`<details><summary>${report.nag.acknowledged.length} acknowledged, each with its reason</summary>`, '', ...nagTable(report.nag.acknowledged, 'Reason'), '', '</details>', '');
  }
  return `${out.join('\n').trimEnd()}\n`;
}

function changeTable(changes: readonly StatefulChange[]): string[] {
  return [
    '| Stack | Logical ID | Type | Construct path | Change | Why |',
    '| --- | --- | --- | --- | --- | --- |',
    ...changes.map((change) => `| \`${change.stackName}\` | \`${change.logicalId}\` | \`${change.resourceType}\` | ${change.constructPath ? `\`${change.constructPath}\`` : '—'} | ${change.change} | ${change.reasons.map(cell).join('<br>')} |`),
  ];
}

function nagTable(findings: readonly NagFinding[], textColumn: string): string[] {
  return [
    `| Rule | Construct | ${textColumn} |`,
    '| --- | --- | --- |',
    ...findings.map((finding) => `| \`${finding.rule}\` | \`${finding.constructPath}\` | ${cell(finding.text)} |`),
  ];
}

/** Table cells cannot hold a pipe or a line break. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}
