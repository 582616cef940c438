/** Where the user data writes the agent's configuration, and where `fetch-config` reads it. */
export const CLOUDWATCH_AGENT_CONFIG_PATH = '/opt/aws/amazon-cloudwatch-agent/etc/sluice.json';

/** One file the agent ships, and the stack's log group it goes to. */
export interface ShippedLogFile {
  /** Absolute path of the file on the instance. */
  readonly filePath: string;
  /** Name of a log group the stack defines (a token is fine: the user data is joined at deploy time). */
  readonly logGroupName: string;
}

/**
 * The CloudWatch agent's configuration for the instances: logs only, each file to its own group,
 * one stream per instance. What is left out, and why:
 * - `retention_in_days`: the stack owns each group's retention (the stage's `logRetention`); the
 *   agent would need logs:PutRetentionPolicy and would fight CloudFormation over it.
 * - `logs.metrics_collected.emf`: that opens the agent's TCP/UDP listener (port 25888) for
 *   libraries that send embedded-metric-format events over a socket. Lines in a shipped file need no
 *   switch: the agent recognises a JSON line holding `"CloudWatchMetrics"` and sends that file's
 *   events with the `x-amzn-logs-format: json/emf` header, and CloudWatch Logs extracts the metrics
 *   (AWS documents `metrics_collected`/`emf` as no longer needed to collect metrics embedded in logs).
 *   A listener would also write to a group the stack does not define.
 * - a `metrics` section: host metrics would need cloudwatch:PutMetricData; the app's metrics come
 *   from its log lines.
 */
export function cloudWatchAgentConfig(files: readonly ShippedLogFile[]): string {
  return JSON.stringify({
    agent: { run_as_user: 'root' },
    logs: {
      logs_collected: {
        files: {
          collect_list: files.map((file) => ({
            file_path: file.filePath,
            log_group_name: file.logGroupName,
            log_stream_name: '{instance_id}',
            timezone: 'UTC',
          })),
        },
      },
      // The agent's default: a line reaches CloudWatch within about 5 seconds.
      force_flush_interval: 5,
    },
  });
}
