// Structured logs: one JSON object per line (journald and CloudWatch Logs both parse them), so a
// failure can be found by message id or event name rather than by reading prose.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  /** `event` is a short stable name (`message_failed`); `fields` carry the context. */
  log(level: LogLevel, event: string, fields?: Readonly<Record<string, unknown>>): void;
}

export interface JsonLoggerOptions {
  /** Added to every line as `component`. */
  readonly component: string;
  /** @default 'info' */
  readonly level?: LogLevel;
  /** @default - writes to standard output */
  readonly write?: (line: string) => void;
  /** @default Date.now */
  readonly now?: () => number;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * One line on standard output: where systemd's journal, the CloudWatch agent and Lambda's log
 * capture all read. The metrics writer (embedded-metrics.ts) writes through it too, so a process has
 * one writer to its output, not two that could interleave half lines.
 */
export function writeStandardOutputLine(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** A logger that prints one JSON line per entry at or above `level`. */
export function jsonLogger(options: JsonLoggerOptions): Logger {
  const minimum = RANK[options.level ?? 'info'];
  const write = options.write ?? writeStandardOutputLine;
  const now = options.now ?? Date.now;
  return {
    log(level, event, fields = {}) {
      if (RANK[level] < minimum) return;
      write(JSON.stringify({ time: new Date(now()).toISOString(), level, component: options.component, event, ...fields }, errorsAsObjects));
    },
  };
}

/** Discards everything. */
export const silentLogger: Logger = { log: () => undefined };

/** JSON.stringify turns an Error into `{}`; keep what a reader needs. */
function errorsAsObjects(_key: string, value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  const reasonCode = (value as { reasonCode?: unknown }).reasonCode;
  return { name: value.name, message: value.message, ...(typeof reasonCode === 'string' ? { reasonCode } : {}) };
}
