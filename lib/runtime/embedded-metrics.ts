// Metrics as CloudWatch embedded metric format (EMF) lines on standard output: CloudWatch Logs turns
// them into metrics where the line lands (the CloudWatch agent's log group on an instance, the
// function's log group in Lambda), so recording a metric is never an API call, a credential or a
// network wait on the request path.
//
// Written directly rather than with aws-embedded-metrics: the format is one JSON object per line,
// which is what json-logger.ts already writes, through the same standard-output writer. The library
// would add a dependency, a second writer to stdout (its console sink) and a flush lifecycle of its
// own (metricScope per request, or a TCP/UDP agent endpoint), and would still write one document per
// request unless wrapped in an aggregator like this one.
//
// Aggregated per series (dimension values plus dimension sets) over a short window: a counter is
// one summed value per window, a distribution (a latency) keeps every value, at most 100 per line
// (written as soon as it has 100). Under load that is a few lines per flush interval instead of one
// per request, and percentiles stay exact, because CloudWatch still sees every latency. A window
// never spans two CloudWatch periods (a minute, a second at high resolution): a value in a new
// period writes the old window first, so every data point lands in the period it happened in.
// Limits kept (EMF specification): ≤ 100 metrics per directive, ≤ 30 dimensions per dimension set,
// ≤ 100 values per metric, every dimension and metric the directive names present at the root.
import { type Clock, systemClock } from './clock.ts';
import { type Logger, silentLogger, writeStandardOutputLine } from './json-logger.ts';
import { formatProblems, Problems } from './problems.ts';

/** The units CloudWatch accepts (MetricDatum.Unit). */
export const METRIC_UNITS = [
  'Seconds', 'Microseconds', 'Milliseconds', 'Bytes', 'Kilobytes', 'Megabytes', 'Gigabytes', 'Terabytes',
  'Bits', 'Kilobits', 'Megabits', 'Gigabits', 'Terabits', 'Percent', 'Count',
  'Bytes/Second', 'Kilobytes/Second', 'Megabytes/Second', 'Gigabytes/Second', 'Terabytes/Second',
  'Bits/Second', 'Kilobits/Second', 'Megabits/Second', 'Gigabits/Second', 'Terabits/Second', 'Count/Second', 'None',
] as const;
export type MetricUnit = (typeof METRIC_UNITS)[number];

/** The embedded metric format's limits per directive. */
export const EMF_LIMITS = { metricsPerDirective: 100, dimensionsPerSet: 30, valuesPerMetric: 100 } as const;

/** Root members every line has besides the metrics and dimensions; no metric or dimension may take these names. */
const RESERVED_MEMBERS = ['_aws', 'time', 'level', 'component', 'event'];

/** Which data points a value belongs to: dimension values beyond the writer's own, and the sets it is published under. */
export interface MetricSeries {
  /** Added to the writer's dimensions (which they may not redefine). @default - the writer's dimensions only */
  readonly dimensions?: Readonly<Record<string, string>>;
  /**
   * Each set is one CloudWatch metric per metric name; every name in a set must be a dimension of
   * the writer or of this series. Every distinct combination of values is a billed metric: keep the
   * values bounded.
   */
  readonly dimensionSets: readonly (readonly string[])[];
}

export interface EmbeddedMetricsOptions {
  readonly namespace: string;
  /** On every line, e.g. Stage and Service. */
  readonly dimensions: Readonly<Record<string, string>>;
  /** The line's `component`, as json-logger writes it. @default 'metrics' */
  readonly component?: string;
  /**
   * How often the windows are written while start()ed. 0 writes only on flush() and stop(): a Lambda
   * handler flushes at the end of each invocation, before the sandbox is frozen.
   * @default 5000 (the CloudWatch agent's own flush interval: the metrics are not the slower part)
   */
  readonly flushIntervalMs?: number;
  /** 1 makes every metric high resolution (1-second periods, billed as such). @default 60 */
  readonly storageResolution?: 1 | 60;
  /** Timestamps, windows and the flush timer. @default systemClock */
  readonly clock?: Clock;
  /** @default - a line on standard output, beside json-logger's */
  readonly write?: (line: string) => void;
  /** Where a dropped value (not a finite number) is reported, once per metric. @default - nowhere */
  readonly logger?: Logger;
}

/** A metric, series or writer setting that would produce a line CloudWatch rejects; lists every problem. */
export class EmbeddedMetricsError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid embedded metrics:\n${formatProblems(problems)}`);
    this.name = 'EmbeddedMetricsError';
  }
}

interface Distribution {
  readonly unit: MetricUnit;
  values: number[];
}

/** What one series has gathered since it was last written. */
interface Window {
  readonly dimensions: Readonly<Record<string, string>>;
  readonly dimensionSets: readonly (readonly string[])[];
  startedAt: number;
  period: number;
  readonly counters: Map<string, number>;
  readonly distributions: Map<string, Distribution>;
}

interface MetricEntry {
  readonly name: string;
  readonly unit: MetricUnit;
  readonly value: number | number[];
}

/**
 * Gathers counters and distributions per series and writes them as EMF lines. count() and observe()
 * are cheap and never throw for a value; a series that breaks the format's rules throws
 * EmbeddedMetricsError on first use, naming the rule (a programming error, found by any test that
 * records it). start()/stop() run the flush timer; stop() writes what is left and is safe to call twice.
 */
export class EmbeddedMetrics {
  private readonly options: Required<Omit<EmbeddedMetricsOptions, 'logger'>> & { readonly logger: Logger };
  private readonly windows = new Map<string, Window>();
  /** Series already checked, by key: the rules are checked once, not per value. */
  private readonly checkedSeries = new Set<string>();
  private readonly droppedReported = new Set<string>();
  private timer?: { readonly controller: AbortController; readonly loop: Promise<void> };

  constructor(options: EmbeddedMetricsOptions) {
    this.options = {
      namespace: options.namespace,
      dimensions: options.dimensions,
      component: options.component ?? 'metrics',
      flushIntervalMs: options.flushIntervalMs ?? 5_000,
      storageResolution: options.storageResolution ?? 60,
      clock: options.clock ?? systemClock,
      write: options.write ?? writeStandardOutputLine,
      logger: options.logger ?? silentLogger,
    };
    const problems = new Problems();
    problems.matches('namespace', this.options.namespace, /^[a-zA-Z0-9._#:/-]{1,256}$/, '1 to 256 letters, digits or . _ # : / -');
    problems.wholeNumber('flushIntervalMs', this.options.flushIntervalMs, 0, 60_000, 'milliseconds');
    problems.check([1, 60].includes(this.options.storageResolution), `storageResolution must be 1 or 60 (given ${this.options.storageResolution})`);
    problems.addAll(dimensionProblems(this.options.dimensions));
    problems.throwIfAny((list) => new EmbeddedMetricsError(list));
  }

  /** Adds `by` (default 1) to a Count metric; a window writes the sum. */
  count(series: MetricSeries, name: string, by = 1): void {
    const found = this.windowFor(series, name, 'counter', by);
    if (found) found.window.counters.set(name, (found.window.counters.get(name) ?? 0) + by);
  }

  /** Keeps one value of a distribution (a duration, a size); a window writes every value, so percentiles are exact. */
  observe(series: MetricSeries, name: string, unit: MetricUnit, value: number): void {
    if (!METRIC_UNITS.includes(unit)) throw new EmbeddedMetricsError([`the unit of ${name} must be one of ${METRIC_UNITS.join(', ')} (given "${unit}")`]);
    const found = this.windowFor(series, name, 'distribution', value);
    if (!found) return;
    const { key, window } = found;
    const distribution = window.distributions.get(name) ?? { unit, values: [] };
    window.distributions.set(name, distribution);
    distribution.values.push(value);
    // A full array is written at once: memory and line length stay bounded however busy the process is.
    if (distribution.values.length >= EMF_LIMITS.valuesPerMetric) this.writeWindow(key, window);
  }

  /** Writes every window now. */
  flush(): void {
    for (const [key, window] of [...this.windows]) this.writeWindow(key, window);
  }

  /** Writes the windows every flushIntervalMs until stop(). Safe to call twice; does nothing with flushIntervalMs 0. */
  start(): void {
    if (this.timer || this.options.flushIntervalMs === 0) return;
    const controller = new AbortController();
    const loop = (async () => {
      try {
        for (;;) {
          await this.options.clock.sleep(this.options.flushIntervalMs, controller.signal);
          this.flush();
        }
      } catch {
        // Aborted by stop().
      }
    })();
    this.timer = { controller, loop };
  }

  /** Stops the timer and writes what is left. Safe to call twice. */
  async stop(): Promise<void> {
    const timer = this.timer;
    if (timer) {
      timer.controller.abort();
      await timer.loop;
    }
    this.flush();
  }

  // ---- windows -----------------------------------------------------------------------------------

  /** The series' current window, after checking the series and the metric; undefined when the value is dropped. */
  private windowFor(series: MetricSeries, name: string, kind: 'counter' | 'distribution', value: number): { readonly key: string; readonly window: Window } | undefined {
    const key = this.keyOf(series);
    if (!this.checkedSeries.has(key)) {
      const problems = seriesProblems(this.options.dimensions, series);
      if (problems.length > 0) throw new EmbeddedMetricsError(problems);
      this.checkedSeries.add(key);
    }
    if (!Number.isFinite(value)) {
      if (!this.droppedReported.has(name)) {
        this.droppedReported.add(name);
        this.options.logger.log('warn', 'metrics.value_dropped', { metric: name, value: String(value), reason: 'CloudWatch accepts finite numbers only' });
      }
      return undefined;
    }
    const now = this.options.clock.now();
    const period = Math.floor(now / (this.options.storageResolution * 1000));
    let window = this.windows.get(key);
    if (window && window.period !== period) {
      this.writeWindow(key, window);
      window = undefined;
    }
    if (!window) {
      window = { dimensions: { ...this.options.dimensions, ...series.dimensions }, dimensionSets: series.dimensionSets, startedAt: now, period, counters: new Map(), distributions: new Map() };
      this.windows.set(key, window);
    }
    const clash = nameProblem(window, name, kind);
    if (clash) throw new EmbeddedMetricsError([clash]);
    return { key, window };
  }

  private keyOf(series: MetricSeries): string {
    const dimensions = Object.entries(series.dimensions ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return JSON.stringify([dimensions, series.dimensionSets]);
  }

  private writeWindow(key: string, window: Window): void {
    this.windows.delete(key);
    for (const line of linesOf(window, this.options)) this.options.write(line);
  }
}

// ---- the format ----------------------------------------------------------------------------------

/**
 * The window as EMF documents: the counters and the first 100 values of each distribution in the
 * first, further values in further documents, never more than 100 metrics in one.
 */
function linesOf(window: Window, options: Required<Pick<EmbeddedMetricsOptions, 'namespace' | 'component' | 'storageResolution' | 'clock'>>): string[] {
  const rounds: MetricEntry[][] = [];
  rounds.push([...window.counters].map(([name, sum]) => ({ name, unit: 'Count' as const, value: sum })));
  for (const [name, { unit, values }] of window.distributions) {
    for (let start = 0, round = 0; start < values.length; start += EMF_LIMITS.valuesPerMetric, round += 1) {
      const chunk = values.slice(start, start + EMF_LIMITS.valuesPerMetric);
      (rounds[round] ??= []).push({ name, unit, value: chunk.length === 1 ? chunk[0]! : chunk });
    }
  }
  const lines: string[] = [];
  for (const round of rounds) {
    for (let start = 0; start < round.length; start += EMF_LIMITS.metricsPerDirective) {
      const entries = round.slice(start, start + EMF_LIMITS.metricsPerDirective);
      lines.push(JSON.stringify({
        time: new Date(options.clock.now()).toISOString(),
        level: 'info',
        component: options.component,
        event: 'metrics',
        ...window.dimensions,
        ...Object.fromEntries(entries.map(({ name, value }) => [name, value])),
        _aws: {
          Timestamp: window.startedAt,
          CloudWatchMetrics: [{
            Namespace: options.namespace,
            Dimensions: window.dimensionSets,
            Metrics: entries.map(({ name, unit }) => ({ Name: name, Unit: unit, ...(options.storageResolution === 1 ? { StorageResolution: 1 } : {}) })),
          }],
        },
      }));
    }
  }
  return lines;
}

/** CloudWatch's rules for dimension names and values (API Dimension), phrased as problems. */
function dimensionProblems(dimensions: Readonly<Record<string, string>>): string[] {
  const problems = new Problems();
  for (const [name, value] of Object.entries(dimensions)) {
    problems.check(/^[\x21-\x7E][\x20-\x7E]{0,249}$/.test(name) && !name.startsWith(':'), `dimension name "${name}" must be 1 to 250 printable ASCII characters, not starting with ":" or a space`);
    problems.check(!RESERVED_MEMBERS.includes(name), `dimension name "${name}" is taken by the line itself (${RESERVED_MEMBERS.join(', ')})`);
    problems.check(typeof value === 'string' && /^[\x20-\x7E]{1,1024}$/.test(value) && value.trim() !== '', `dimension ${name} must be 1 to 1024 printable ASCII characters, not only spaces (given ${JSON.stringify(value)})`);
  }
  return [...problems.list];
}

function seriesProblems(writerDimensions: Readonly<Record<string, string>>, series: MetricSeries): string[] {
  const own = series.dimensions ?? {};
  const problems = new Problems();
  problems.addAll(dimensionProblems(own));
  for (const name of Object.keys(own)) problems.check(!Object.hasOwn(writerDimensions, name), `dimension ${name} is the writer's own; a series may not redefine it`);
  const known = new Set([...Object.keys(writerDimensions), ...Object.keys(own)]);
  problems.check(series.dimensionSets.length > 0, 'a series needs at least one dimension set');
  for (const set of series.dimensionSets) {
    problems.check(set.length <= EMF_LIMITS.dimensionsPerSet, `a dimension set may hold at most ${EMF_LIMITS.dimensionsPerSet} dimensions (given ${set.length})`);
    problems.check(new Set(set).size === set.length, `dimension set [${set.join(', ')}] names a dimension twice`);
    for (const name of set) problems.check(known.has(name), `dimension set [${set.join(', ')}] names ${name}, which has no value (known: ${[...known].join(', ')})`);
  }
  return [...problems.list];
}

/** A metric name that collides with a dimension, a line member or a metric of the other kind in the window. */
function nameProblem(window: Window, name: string, kind: 'counter' | 'distribution'): string | undefined {
  if (!/^\S.{0,1023}$/.test(name)) return `metric name "${name}" must be 1 to 1024 characters, not starting with a space`;
  if (RESERVED_MEMBERS.includes(name) || Object.hasOwn(window.dimensions, name)) return `metric name "${name}" is taken by a dimension or by the line itself`;
  const other = kind === 'counter' ? window.distributions : window.counters;
  if (other.has(name)) return `metric ${name} is recorded both as a count and as a distribution in one series`;
  return undefined;
}
