// `sluice sandbox status` for people: the targets, the traffic, the queue, the stream and the current
// release, each in a few aligned lines. `--json` prints the SandboxStatus itself instead.

import type { SandboxStatus } from './sandbox-status.ts';

export function formatSandboxStatus(status: SandboxStatus): string[] {
  const lines = [`sandbox ${status.url} at ${new Date(status.at).toISOString()}`, '', 'targets'];
  lines.push(...table(['name', 'port', 'version', 'state'], status.targets.map((target) => [target.name, String(target.port), target.version ?? '-', target.state])));
  lines.push('', `traffic    ${status.requestsPerSecond} requests/s, ${status.errorsPerSecond} failed/s`);
  lines.push(`queue      ${status.queue.depth} waiting, ${status.queue.inFlight} in flight, ${status.queue.deadLetterDepth} in the dead-letter queue`);
  lines.push('', 'stream');
  lines.push(
    ...table(
      ['shard', 'lease owner', 'lag', 'checkpoint'],
      status.stream.shards.map((shard) => [shard.shardId, shard.leaseOwner ?? '(free)', shard.millisBehindLatest === undefined ? '-' : `${shard.millisBehindLatest} ms`, shard.checkpoint ?? '-']),
    ),
  );
  const release = status.release;
  lines.push('', release ? `release    ${release.fromVersion ?? '?'} → ${release.toVersion}: ${release.state}` : 'release    none yet');
  for (const entry of release?.timeline ?? []) {
    lines.push(`  ${new Date(entry.at).toISOString().slice(11, 23)}  ${entry.event}${entry.target ? ` ${entry.target}` : ''}${entry.version ? ` ${entry.version}` : ''}${entry.detail ? ` (${entry.detail})` : ''}`);
  }
  return lines;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]) => `  ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ')}`.trimEnd();
  return [line(header), ...rows.map(line)];
}
