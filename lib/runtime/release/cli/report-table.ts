// The release report as a person reads it: a text table for the progress output, a Markdown table
// for the GitHub job summary.
import { describeVerdict, formatChange, formatMetricValue, REPORT_METRIC_LABELS, type ReleaseReport } from '../release-report.ts';
import type { TimeWindow } from '../ports.ts';

/** `12:03–12:06 UTC` */
function formatWindow(window: TimeWindow): string {
  const clock = (ms: number) => new Date(ms).toISOString().slice(11, 16);
  return `${clock(window.startMs)}–${clock(window.endMs)} UTC`;
}

function heading(report: ReleaseReport): string {
  const limit = report.maxRegressionPercent === undefined ? 'no --max-regression, report only' : `limit +${report.maxRegressionPercent} %`;
  return `release report${report.zone ? ` after zone ${report.zone}` : ''}: after ${formatWindow(report.after)} vs before ${formatWindow(report.before)} (${limit})`;
}

function cells(report: ReleaseReport): string[][] {
  return report.rows.map((row) => [
    REPORT_METRIC_LABELS[row.metric],
    formatMetricValue(row.metric, row.before.value),
    formatMetricValue(row.metric, row.after.value),
    formatChange(row.changePercent),
    describeVerdict(row),
  ]);
}

const COLUMNS = ['metric', 'before', 'after', 'change', 'verdict'];

/** The heading, then one aligned line per metric. */
export function reportLines(report: ReleaseReport): string[] {
  const rows = [COLUMNS, ...cells(report)];
  const widths = COLUMNS.map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return [heading(report), ...rows.map((row) => `  ${row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]))).join('  ')}`.trimEnd())];
}

/** The heading in bold, then a Markdown table. */
export function reportMarkdown(report: ReleaseReport): string[] {
  const [first, ...rest] = heading(report);
  return [
    `**${first.toUpperCase()}${rest.join('')}**`,
    '',
    `| ${COLUMNS.map((column) => column[0].toUpperCase() + column.slice(1)).join(' | ')} |`,
    `| ${COLUMNS.map(() => '---').join(' | ')} |`,
    ...cells(report).map((row) => `| ${row.join(' | ')} |`),
    '',
  ];
}
