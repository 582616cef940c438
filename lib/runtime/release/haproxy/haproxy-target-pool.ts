// The release engine's TargetPool over one HAProxy backend: servers are targets, `set server ...
// state drain|maint|ready` takes them out and back, and `show stat` is polled for sessions and health.
import type { Clock } from '../../clock.ts';
import { BadInputError, DeadlineExceededError, ReleaseError, TargetUnhealthyError } from '../errors.ts';
import { pollUntil } from '../poll-cadence.ts';
import type { PoolTimings, TargetPool, TargetStatus } from '../ports.ts';
import { formatProblems, Problems } from '../../problems.ts';
import { assertHaproxyName, HAPROXY_NAME_CHARACTERS, HAPROXY_NAME_PATTERN } from './haproxy-name.ts';
import { HaproxyError, type HaproxyRuntimeApi, type HaproxyStatRow, isHealthChecked } from './haproxy-runtime-api.ts';

export interface HaproxyTargetPoolProps {
  readonly api: HaproxyRuntimeApi;
  /** The backend whose servers are the targets. */
  readonly backend: string;
  readonly clock: Clock;
  /**
   * How often waitDrained and waitHealthy read `show stat`. A local socket round trip costs about a
   * millisecond, so polling often is cheap and shortens every step.
   * @default 100 milliseconds
   */
  readonly pollIntervalMs?: number;
  /**
   * How long waitDrained lets open sessions finish before it gives up (HAProxy has no deregistration
   * delay of its own; this plays that part).
   * @default 30 seconds
   */
  readonly drainTimeoutMs?: number;
  /**
   * The servers' `inter` (health check interval). HAProxy 2.6's runtime API does not report it
   * (neither `show stat` nor `show servers state` has it), so it must match the config.
   * @default 2 seconds (HAProxy's default `inter`)
   */
  readonly healthCheckIntervalMs?: number;
  /**
   * Passing checks that bring a server UP. Read from HAProxy (`check_rise` in `show stat`); this is
   * used only when HAProxy does not say (every server in maintenance or unchecked).
   * @default 2 (HAProxy's default `rise`)
   */
  readonly rise?: number;
  /**
   * Failing checks that take a server DOWN. Read from HAProxy (`check_fall`); this is the fallback.
   * @default 3 (HAProxy's default `fall`)
   */
  readonly fall?: number;
}

/** Check results that say nothing against the server: passed, or not checked yet (INI, UNK). */
const NOT_FAILED_CHECKS = new Set(['INI', 'UNK', 'L4OK', 'L6OK', 'L7OK', 'L7OKC', 'PROCOK']);

/** One HAProxy backend as the release engine's load balancer. */
export class HaproxyTargetPool implements TargetPool {
  private readonly api: HaproxyRuntimeApi;
  private readonly backend: string;
  private readonly clock: Clock;
  private readonly pollIntervalMs: number;
  private readonly drainTimeoutMs: number;
  private readonly intervalMs: number;
  private readonly rise: number;
  private readonly fall: number;

  constructor(props: HaproxyTargetPoolProps) {
    validateProps(props);
    this.api = props.api;
    this.backend = props.backend;
    this.clock = props.clock;
    this.pollIntervalMs = props.pollIntervalMs ?? 100;
    this.drainTimeoutMs = props.drainTimeoutMs ?? 30_000;
    this.intervalMs = props.healthCheckIntervalMs ?? 2000;
    this.rise = props.rise ?? 2;
    this.fall = props.fall ?? 3;
  }

  async listTargets(signal?: AbortSignal): Promise<TargetStatus[]> {
    return (await this.api.showStat(this.backend, signal)).map(serverTargetStatus);
  }

  async timings(signal?: AbortSignal): Promise<PoolTimings> {
    // Not cached: one local round trip, and a server leaving maintenance may reveal the thresholds.
    const rows = await this.api.showStat(this.backend, signal);
    const { rise, fall } = this.thresholds(rows);
    return { drainMs: this.drainTimeoutMs, healthyMs: rise * this.intervalMs, unhealthyMs: fall * this.intervalMs };
  }

  /** `state drain`: no new sessions; open ones go on. Repeating it is harmless. */
  async deregister(server: string, signal?: AbortSignal): Promise<void> {
    await this.api.setServerState(this.backend, server, 'drain', signal);
  }

  /**
   * Waits for the server's open sessions (and requests queued for it) to reach 0, then puts it in
   * maintenance, which also stops its health checks while it is reinstalled. A server already in
   * maintenance is drained.
   */
  async waitDrained(server: string, signal?: AbortSignal): Promise<void> {
    await this.poll(server, 'draining', this.drainTimeoutMs, signal, (row) => {
      if (row.status.startsWith('MAINT')) return true;
      if (serverTargetStatus(row).state === 'healthy') {
        throw new ReleaseError(
          `server ${server} of backend ${this.backend} is ${row.status} again while the release drained it: something put it back into service; check who else manages ${this.backend}, then rerun`,
          'HAProxy.NotDraining',
        );
      }
      return openSessions(row) === 0;
    }, (row) => `${row.status}, ${openSessions(row)} session(s) still open`);
    // Drained (or already in maintenance, where `state maint` is a no-op).
    await this.api.setServerState(this.backend, server, 'maint', signal);
  }

  /**
   * `state ready`. Leaving maintenance, HAProxy 2.6 marks a checked server UP at once ("start OK but
   * check immediately") and sends it traffic before any check of the freshly installed version has
   * passed. So a checked server leaving maintenance also gets `health down` on the same command line
   * (HAProxy applies the two back to back; the tests never saw it UP in between): it must pass `rise`
   * checks first, as a target registered with an ALB does. A server coming out of drain was checked
   * all along and needs none; one without checks could never come back from `health down`.
   */
  async register(server: string, signal?: AbortSignal): Promise<void> {
    assertHaproxyName('server', server);
    const [rows, states] = await Promise.all([this.api.showStat(this.backend, signal), this.api.showServersState(this.backend, signal)]);
    const row = rows.find((candidate) => candidate.svname === server);
    const state = states.find((candidate) => candidate.server === server);
    const forceCheck = row?.status.startsWith('MAINT') === true && state !== undefined && isHealthChecked(state);
    // An unknown server is left to HAProxy, whose "No such server." the error then quotes.
    await this.api.setServer(this.backend, server, forceCheck ? ['state ready', 'health down'] : ['state ready'], signal);
  }

  /**
   * Waits for the server to be UP. The deadline is the longer of rise × inter (a healthy server
   * comes up) and fall × inter (a failing one is declared failed), plus two intervals and a second:
   * the first check may come one interval after registration, one check may take up to its own
   * timeout (`timeout check`, else about one interval), and polling adds its own beat. A server still
   * DOWN with a failed check once the first check and fall × inter have passed is unhealthy.
   */
  async waitHealthy(server: string, signal?: AbortSignal): Promise<void> {
    const first = await this.serverRow(server, signal);
    const rise = first.check_rise ?? this.rise;
    const fall = first.check_fall ?? this.fall;
    const unhealthyAfterMs = this.intervalMs + fall * this.intervalMs;
    const deadlineMs = Math.max(rise, fall) * this.intervalMs + 2 * this.intervalMs + 1000;
    const startedAt = this.clock.now();
    await this.poll(server, 'becoming healthy', deadlineMs, signal, (row) => {
      const status = serverTargetStatus(row);
      switch (status.state) {
        case 'healthy':
          return true;
        case 'unused':
        case 'draining':
          throw new TargetUnhealthyError(server, status.reasonCode ?? `HAProxy.${row.status}`, `${row.status}: something took it out of backend ${this.backend} while the release waited for it`);
        case 'unhealthy':
          // Mid-check the row has lost the last check's code and text; the next poll has them.
          if (this.clock.now() - startedAt >= unhealthyAfterMs && !row.check_in_progress) throw new TargetUnhealthyError(server, status.reasonCode ?? 'HAProxy.DOWN', status.description);
          return false;
        default:
          return false;
      }
    }, describeRow);
  }

  private thresholds(rows: readonly HaproxyStatRow[]): { rise: number; fall: number } {
    // Per server in HAProxy; the largest bounds every server's wait.
    const rises = rows.flatMap((row) => (row.check_rise === undefined ? [] : [row.check_rise]));
    const falls = rows.flatMap((row) => (row.check_fall === undefined ? [] : [row.check_fall]));
    return { rise: rises.length > 0 ? Math.max(...rises) : this.rise, fall: falls.length > 0 ? Math.max(...falls) : this.fall };
  }

  private async serverRow(server: string, signal?: AbortSignal): Promise<HaproxyStatRow> {
    assertHaproxyName('server', server);
    const rows = await this.api.showStat(this.backend, signal);
    const row = rows.find((candidate) => candidate.svname === server);
    if (row) return row;
    throw new HaproxyError(
      `backend ${this.backend} has no server "${server}" (it has: ${rows.map((candidate) => candidate.svname).join(', ') || 'none'}); HAProxy's servers come from its config`,
      'HAProxy.NoSuchServer',
      this.api.socketPath,
      `show stat ${this.backend} 4 -1`,
    );
  }

  private async poll(
    server: string,
    step: string,
    deadlineMs: number,
    signal: AbortSignal | undefined,
    done: (row: HaproxyStatRow) => boolean,
    describe: (row: HaproxyStatRow) => string,
  ): Promise<void> {
    await pollUntil({
      clock: this.clock,
      intervalMs: this.pollIntervalMs,
      deadlineMs,
      signal,
      read: (abortSignal) => this.serverRow(server, abortSignal),
      done,
      onDeadline: (row) => new DeadlineExceededError(server, step, deadlineMs, describe(row)),
    });
  }
}

/**
 * HAProxy's server status in ELBv2's vocabulary:
 * `UP`, `UP n/m` (failing checks, still serving), `no check` → healthy; `DRAIN…`, `NOLB…` → draining;
 * `MAINT…` → unused; `DOWN n/m` (passing checks, coming up) → initial; `DOWN` → unhealthy with
 * `HAProxy.<check_status>`, except when its last check did not fail (forced down by register, not
 * checked since) → initial.
 */
export function serverTargetStatus(row: HaproxyStatRow): TargetStatus {
  const id = row.svname;
  const status = row.status;
  if (status === 'no check') return { id, state: 'healthy', description: 'no check: HAProxy does not health-check this server' };
  if (status === 'UP') return { id, state: 'healthy' };
  if (status.startsWith('UP ')) return { id, state: 'healthy', description: `${status}: still serving, but its last check failed (${checkSummary(row)})` };
  if (status.startsWith('DRAIN')) return { id, state: 'draining', reasonCode: 'HAProxy.DRAIN', description: status };
  if (status.startsWith('NOLB')) return { id, state: 'draining', reasonCode: 'HAProxy.NOLB', description: status };
  if (status.startsWith('MAINT')) return { id, state: 'unused', reasonCode: 'HAProxy.MAINT', description: status };
  const goingUp = status.match(/^DOWN (\d+)\/(\d+)$/);
  if (goingUp) {
    return { id, state: 'initial', reasonCode: 'HAProxy.InitialHealthChecking', description: `${status}: ${goingUp[1]} of the ${goingUp[2]} passing checks it needs` };
  }
  if (status === 'DOWN (agent)') return { id, state: 'unhealthy', reasonCode: 'HAProxy.AgentDown', description: `the agent check reports it down (${row.fields.agent_status ?? ''})` };
  if (status === 'DOWN') {
    if (NOT_FAILED_CHECKS.has(row.check_status)) {
      return { id, state: 'initial', reasonCode: 'HAProxy.InitialHealthChecking', description: `DOWN until it passes its checks (no failed check yet; last ${row.check_status})` };
    }
    return { id, state: 'unhealthy', reasonCode: row.check_status ? `HAProxy.${row.check_status}` : 'HAProxy.DOWN', description: checkSummary(row) };
  }
  return { id, state: 'unavailable', reasonCode: 'HAProxy.UnknownStatus', description: `HAProxy status "${status}"` };
}

/** `Layer7 wrong status (code 503): Service Unavailable`, `Layer4 connection problem: Connection refused`. */
function checkSummary(row: HaproxyStatRow): string {
  const code = row.check_code !== undefined && row.check_code !== 0 ? ` (code ${row.check_code})` : '';
  const seen = row.last_chk ? `: ${row.last_chk}` : '';
  return `${row.check_desc || row.check_status || 'no check result'}${code}${seen}`;
}

function openSessions(row: HaproxyStatRow): number {
  return row.scur + row.qcur;
}

function describeRow(row: HaproxyStatRow): string {
  const status = serverTargetStatus(row);
  return `${status.state} (${row.status}${row.check_status ? `, last check ${row.check_status}` : ''})`;
}

function validateProps(props: HaproxyTargetPoolProps): void {
  const check = new Problems();
  check.matches('backend', props.backend, HAPROXY_NAME_PATTERN, `an HAProxy backend name (${HAPROXY_NAME_CHARACTERS})`);
  const positive: [string, number | undefined][] = [
    ['pollIntervalMs', props.pollIntervalMs],
    ['healthCheckIntervalMs', props.healthCheckIntervalMs],
    ['rise', props.rise],
    ['fall', props.fall],
  ];
  for (const [name, value] of positive) check.check(value === undefined || value > 0, `${name} must be greater than 0 (given ${value})`);
  check.check(props.drainTimeoutMs === undefined || props.drainTimeoutMs >= 0, `drainTimeoutMs must be 0 or more (given ${props.drainTimeoutMs})`);
  check.throwIfAny((problems) => new BadInputError(`invalid HaproxyTargetPool props:\n${formatProblems(problems)}`));
}
