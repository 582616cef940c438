// A client for HAProxy's runtime API (the "stats socket") in non-interactive mode: connect, write one
// command line, read until HAProxy closes the connection. Every failure — no socket, no answer, a
// refusal in HAProxy's words — surfaces as a HaproxyError that names the socket and the command.
import { createConnection } from 'node:net';
import { BadInputError, ReleaseError } from '../errors.ts';
import { assertHaproxyName } from './haproxy-name.ts';

/** The runtime API failed: `reasonCode` is `HAProxy.SocketUnavailable`, `HAProxy.Timeout`, `HAProxy.CommandFailed`, ... */
export class HaproxyError extends ReleaseError {
  constructor(
    message: string,
    reasonCode: string,
    readonly socketPath: string,
    /** The command that failed; undefined when the failure is not about one command. */
    readonly command?: string,
    options?: ErrorOptions,
  ) {
    super(message, reasonCode, options);
    this.name = 'HaproxyError';
  }
}

export interface HaproxyRuntimeApiProps {
  /** The path of a `stats socket <path> mode 600 level admin` line in HAProxy's `global` section. */
  readonly socketPath: string;
  /**
   * How long one command may take, from connecting to HAProxy closing the connection. Real time, not
   * the release clock: this bounds I/O, like an HTTP client's socket timeout.
   * @default 5 seconds
   */
  readonly timeoutMs?: number;
}

/** One server row of `show stat`, under HAProxy's own field names (management guide, "show stat"). */
export interface HaproxyStatRow {
  /** Proxy (backend) name. */
  readonly pxname: string;
  /** Server name. */
  readonly svname: string;
  /** `UP`, `UP 1/3`, `DOWN`, `DOWN 1/2`, `DRAIN`, `NOLB`, `MAINT`, `MAINT (via b/s)`, `no check`, ... */
  readonly status: string;
  /** Current sessions. */
  readonly scur: number;
  /** Requests queued for this server. */
  readonly qcur: number;
  /** Last health check result (`L7OK`, `L7STS`, `L4CON`, `INI`, ...) without the `* ` HAProxy puts before a check in progress; empty when not checked or in maintenance. */
  readonly check_status: string;
  /** A check is running (HAProxy's `* ` prefix); meanwhile `check_code` and `last_chk` are blank. */
  readonly check_in_progress: boolean;
  /** HTTP status (layer 7) or agent code of the last check, when there is one. */
  readonly check_code?: number;
  /** What the check status means, e.g. `Layer7 wrong status`. */
  readonly check_desc: string;
  /** What the last check saw, e.g. `Service Unavailable`, `Connection refused`. */
  readonly last_chk: string;
  /** Health check thresholds and counter (0 … rise + fall − 1); undefined when not checked or in maintenance. */
  readonly check_rise?: number;
  readonly check_fall?: number;
  readonly check_health?: number;
  /** Seconds since the last UP/DOWN change. */
  readonly lastchg?: number;
  readonly weight?: number;
  /** `address:port`. */
  readonly addr: string;
  /** Every field of the row, for what the typed fields leave out. */
  readonly fields: Readonly<Record<string, string>>;
}

/** One row of `show servers state <backend>`. */
export interface HaproxyServerStateRow {
  readonly backend: string;
  readonly server: string;
  /** Health check state flags (HAProxy's CHK_ST_*). */
  readonly checkState: number;
  readonly fields: Readonly<Record<string, string>>;
}

/** HAProxy's CHK_ST_CONFIGURED | CHK_ST_ENABLED: the server has a health check and it is not disabled. */
const CHECK_CONFIGURED_AND_ENABLED = 0x02 | 0x04;

/** True when HAProxy health-checks the server (a `check` on its line, not turned off with `disable health`). */
export function isHealthChecked(row: HaproxyServerStateRow): boolean {
  return (row.checkState & CHECK_CONFIGURED_AND_ENABLED) === CHECK_CONFIGURED_AND_ENABLED;
}

export type ServerAdminState = 'ready' | 'drain' | 'maint';
export type ServerHealth = 'up' | 'stopping' | 'down';

const DEFAULT_TIMEOUT_MS = 5000;

export class HaproxyRuntimeApi {
  readonly socketPath: string;
  private readonly timeoutMs: number;

  constructor(props: HaproxyRuntimeApiProps) {
    this.socketPath = props.socketPath;
    this.timeoutMs = props.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /**
   * Sends one command line and resolves with HAProxy's answer. Throws when the socket cannot be
   * reached, HAProxy does not answer in time, or it answers with a refusal every command shares
   * ("Unknown command", "Permission denied"); command-specific failures are for the caller to read.
   */
  async execute(command: string, signal?: AbortSignal): Promise<string> {
    if (/[\r\n]/.test(command)) throw new BadInputError(`an HAProxy command is one line (given ${JSON.stringify(command)})`);
    const output = await this.exchange(command, signal);
    const answer = output.trim();
    if (answer.startsWith('Permission denied')) {
      throw this.failed(command, answer, 'HAProxy.PermissionDenied', `declare the socket with \`stats socket ${this.socketPath} mode 600 level admin\``);
    }
    if (answer.startsWith('Unknown command')) {
      throw this.failed(command, firstLine(answer), 'HAProxy.CommandFailed', 'this HAProxy does not know the command (sluice is tested with HAProxy 2.6)');
    }
    return output;
  }

  /**
   * `set server <backend>/<server> <change>` for each change, sent on one line (HAProxy runs
   * `;`-separated commands in order, before it serves anything else on the connection). Success
   * prints nothing; anything printed is HAProxy saying why it refused.
   */
  async setServer(backend: string, server: string, changes: readonly string[], signal?: AbortSignal): Promise<void> {
    assertHaproxyName('backend', backend);
    assertHaproxyName('server', server);
    const command = changes.map((change) => `set server ${backend}/${server} ${change}`).join('; ');
    const answer = (await this.execute(command, signal)).trim();
    if (answer === '') return;
    if (answer.startsWith('No such backend')) throw this.failed(command, answer, 'HAProxy.NoSuchBackend', `check the backend name (HAProxy has no backend "${backend}")`);
    if (answer.startsWith('No such server')) throw this.failed(command, answer, 'HAProxy.NoSuchServer', `check the server name (backend ${backend} has no server "${server}")`);
    throw this.failed(command, answer, 'HAProxy.CommandFailed');
  }

  setServerState(backend: string, server: string, state: ServerAdminState, signal?: AbortSignal): Promise<void> {
    return this.setServer(backend, server, [`state ${state}`], signal);
  }

  /** The server rows of `backend` (no FRONTEND/BACKEND rows). */
  async showStat(backend: string, signal?: AbortSignal): Promise<HaproxyStatRow[]> {
    assertHaproxyName('backend', backend);
    // `<proxy> 4 -1`: servers (type 4) of that proxy only, every server (-1).
    const command = `show stat ${backend} 4 -1`;
    const output = await this.execute(command, signal);
    if (!output.startsWith('# ')) {
      const answer = output.trim();
      if (answer.startsWith('No such proxy')) throw this.failed(command, answer, 'HAProxy.NoSuchBackend', `check the backend name (HAProxy has no proxy "${backend}")`);
      throw this.failed(command, firstLine(answer), 'HAProxy.CommandFailed');
    }
    return parseShowStat(output).filter((row) => row.pxname === backend);
  }

  /** The FRONTEND row of `frontend`, every field by name (`req_tot`, `req_rate`, `hrsp_5xx`, …): the traffic it took. */
  async showFrontend(frontend: string, signal?: AbortSignal): Promise<Readonly<Record<string, string>>> {
    assertHaproxyName('frontend', frontend);
    // `<proxy> 1 -1`: the frontend row (type 1) of that proxy only.
    const command = `show stat ${frontend} 1 -1`;
    const output = await this.execute(command, signal);
    const row = output.startsWith('# ') ? parseStatFields(output).find((fields) => fields.pxname === frontend && fields.type === '0') : undefined;
    if (row === undefined) throw this.failed(command, firstLine(output.trim()) || 'no FRONTEND row', 'HAProxy.NoSuchFrontend', `check the frontend name (HAProxy has no frontend "${frontend}")`);
    return row;
  }

  /** `show servers state <backend>`: what `show stat` leaves out, such as whether a server in maintenance has a health check. */
  async showServersState(backend: string, signal?: AbortSignal): Promise<HaproxyServerStateRow[]> {
    assertHaproxyName('backend', backend);
    const command = `show servers state ${backend}`;
    const output = await this.execute(command, signal);
    const lines = output.split('\n');
    // Format version 1, then a `# be_id be_name ...` header line.
    if (lines[0] !== '1' || !lines[1]?.startsWith('# ')) {
      const answer = output.trim();
      if (answer.startsWith("Can't find backend")) throw this.failed(command, answer, 'HAProxy.NoSuchBackend', `check the backend name (HAProxy has no backend "${backend}")`);
      throw this.failed(command, firstLine(answer), 'HAProxy.CommandFailed');
    }
    const names = lines[1].slice(2).split(' ');
    return lines
      .slice(2)
      .filter((line) => line.trim() !== '')
      .map((line) => {
        const values = line.split(' ');
        const fields = Object.fromEntries(names.map((name, index) => [name, values[index] ?? '']));
        return { backend: fields.be_name, server: fields.srv_name, checkState: Number(fields.srv_check_state), fields };
      });
  }

  /** `show info` as name → value (`Name`, `Version`, `Pid`, `Uptime_sec`, ...). */
  async showInfo(signal?: AbortSignal): Promise<Record<string, string>> {
    const command = 'show info';
    const output = await this.execute(command, signal);
    const info = Object.fromEntries(
      output
        .split('\n')
        .map((line) => line.match(/^([^:]+):\s?(.*)$/))
        .filter((match): match is RegExpMatchArray => match !== null)
        .map((match) => [match[1], match[2]]),
    );
    if (info.Name === undefined) throw this.failed(command, firstLine(output.trim()), 'HAProxy.CommandFailed');
    return info;
  }

  private failed(command: string, answer: string, reasonCode: string, hint?: string): HaproxyError {
    return new HaproxyError(`HAProxy refused \`${command}\` on ${this.socketPath}: "${answer}"${hint ? `; ${hint}` : ''}`, reasonCode, this.socketPath, command);
  }

  private exchange(command: string, signal?: AbortSignal): Promise<string> {
    signal?.throwIfAborted();
    return new Promise<string>((resolve, reject) => {
      const socket = createConnection(this.socketPath);
      let output = '';
      let settled = false;
      const settle = (error: unknown, result?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.destroy();
        if (error === undefined) resolve(result ?? '');
        else reject(error);
      };
      const onAbort = () => settle(signal?.reason);
      const timer = setTimeout(
        () =>
          settle(
            new HaproxyError(
              `HAProxy did not answer \`${command}\` on ${this.socketPath} within ${this.timeoutMs} ms; check that haproxy is running and not overloaded (the socket accepted or queued the connection but nothing replied)`,
              'HAProxy.Timeout',
              this.socketPath,
              command,
            ),
          ),
        this.timeoutMs,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.setEncoding('utf8');
      // Not end(): HAProxy may treat a half-closed connection as gone before it has answered.
      socket.on('connect', () => socket.write(`${command}\n`));
      socket.on('data', (chunk: string) => {
        output += chunk;
      });
      socket.on('end', () => settle(undefined, output));
      socket.on('error', (error: NodeJS.ErrnoException) => settle(this.socketError(error, command)));
    });
  }

  private socketError(error: NodeJS.ErrnoException, command: string): HaproxyError {
    const config = `\`stats socket ${this.socketPath} mode 600 level admin\` in the \`global\` section of its config`;
    const why: Record<string, string> = {
      ENOENT: `does not exist; is haproxy running, and does it have ${config}?`,
      ECONNREFUSED: `refused the connection (nothing listens on it: haproxy stopped, or this is a stale file); is haproxy running with ${config}?`,
      EACCES: 'is not accessible to this user; run as the user that owns the socket (mode 600), or set `user`/`group`/`mode` on the `stats socket` line',
      EPERM: 'is not accessible to this user; run as the user that owns the socket (mode 600), or set `user`/`group`/`mode` on the `stats socket` line',
      ENOTSOCK: `is not a socket; check the path given for ${config}`,
    };
    const reason = why[error.code ?? ''] ?? `failed: ${error.message}; is haproxy running with ${config}?`;
    return new HaproxyError(`HAProxy runtime API socket ${this.socketPath} ${reason} (while sending \`${command}\`)`, 'HAProxy.SocketUnavailable', this.socketPath, command, {
      cause: error,
    });
  }
}

/** Parses `show stat` CSV (a `# pxname,svname,...` header, one line per proxy or server) into the server rows. */
export function parseShowStat(output: string): HaproxyStatRow[] {
  return parseStatFields(output)
    // type 2 = server (0 frontend, 1 backend, 3 listener).
    .filter((fields) => fields.type === '2')
    .map((fields) => ({
      pxname: fields.pxname,
      svname: fields.svname,
      status: fields.status,
      scur: Number(fields.scur || 0),
      qcur: Number(fields.qcur || 0),
      check_status: fields.check_status.replace(/^\* /, ''),
      check_in_progress: fields.check_status.startsWith('* '),
      check_code: optionalNumber(fields.check_code),
      check_desc: fields.check_desc ?? '',
      last_chk: fields.last_chk ?? '',
      check_rise: optionalNumber(fields.check_rise),
      check_fall: optionalNumber(fields.check_fall),
      check_health: optionalNumber(fields.check_health),
      lastchg: optionalNumber(fields.lastchg),
      weight: optionalNumber(fields.weight),
      addr: fields.addr ?? '',
      fields,
    }));
}

/** Every row of `show stat` output as field name → value. */
function parseStatFields(output: string): Record<string, string>[] {
  const [header, ...lines] = output.split('\n');
  const names = splitCsvLine(header.replace(/^# /, ''));
  return lines
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const values = splitCsvLine(line);
      return Object.fromEntries(names.map((name, index) => [name, values[index] ?? ''])) as Record<string, string>;
    });
}

/** HAProxy quotes a CSV field that holds a comma or a quote, doubling inner quotes. */
function splitCsvLine(line: string): string[] {
  const values: string[] = [];
  let current = '';
  let quoted = false;
  for (let index = 0; index < line.length; index += 1) {
    const char = line[index];
    if (quoted) {
      if (char === '"' && line[index + 1] === '"') {
        current += '"';
        index += 1;
      } else if (char === '"') quoted = false;
      else current += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      values.push(current);
      current = '';
    } else current += char;
  }
  values.push(current);
  return values;
}

function optionalNumber(value: string | undefined): number | undefined {
  return value === undefined || value === '' ? undefined : Number(value);
}

function firstLine(text: string): string {
  return text.split('\n')[0];
}
