// The local targets file: which services on this machine make up a fleet, how they are started,
// and where their releases and state live. `sluice release --local-targets FILE` reads it.
//
//   {
//     "releasesDir": "releases",                 one directory per version: releases/<version>/
//     "stateDir": "state",                       pid, version and log files, the release state
//     "command": ["node", "server.mjs"],         argv, no shell; cwd is releases/<version>/
//     "healthPath": "/health",                   optional, @default "/health"
//     "stopTimeoutMs": 10000,                    optional: SIGTERM, then SIGKILL after this
//     "startTimeoutMs": 10000,                   optional: how long a new version has to turn healthy
//     "targets": [{ "name": "app1", "port": 18081 }, { "name": "app2", "port": 18082 }]
//   }
//
// releasesDir and stateDir may be relative to the file's directory. The command is not resolved: it
// runs in the version's directory, so a relative path in it names a file of the release itself.

import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { BadInputError } from '../errors.ts';
import { formatProblems } from '../../problems.ts';

/** One service: its name is the HAProxy server name, and it listens on 127.0.0.1:port. */
export interface LocalTarget {
  readonly name: string;
  readonly port: number;
}

/** A parsed, validated targets file; paths are absolute and defaults filled in. */
export interface LocalTargetsConfig {
  /** Holds one directory per version, the release "artifact": `<releasesDir>/<version>/`. */
  readonly releasesDir: string;
  /** Per target `<name>.pid`, `<name>.version` and `<name>.log`; `launch-version`; `release-state.json`. */
  readonly stateDir: string;
  /** The service's argv (no shell); it runs in `<releasesDir>/<version>/` with PORT and SLUICE_VERSION set. */
  readonly command: readonly string[];
  /** Answers 200 with `{"version": "<version>"}` once the service is ready. @default "/health" */
  readonly healthPath: string;
  /** How long a service has to exit after SIGTERM before it is killed. @default 10 seconds */
  readonly stopTimeoutMs: number;
  /** How long a started service has to report healthy on its version. @default 10 seconds */
  readonly startTimeoutMs: number;
  readonly targets: readonly LocalTarget[];
}

const DEFAULT_HEALTH_PATH = '/health';
const DEFAULT_STOP_TIMEOUT_MS = 10_000;
const DEFAULT_START_TIMEOUT_MS = 10_000;
const MAX_TIMEOUT_MS = 3_600_000;
/** Target names become file names and HAProxy server names: keep them to what both accept. */
const TARGET_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const KNOWN_FIELDS = ['releasesDir', 'stateDir', 'command', 'healthPath', 'stopTimeoutMs', 'startTimeoutMs', 'targets'];

/** Reads and validates a targets file; throws BadInputError listing every problem. */
export async function loadLocalTargets(file: string): Promise<LocalTargetsConfig> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new BadInputError(`local targets file ${path} not found: pass --local-targets with the path of an existing file`);
    throw new BadInputError(`local targets file ${path} could not be read (${code ?? String(error)}): check its permissions`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new BadInputError(`local targets file ${path} is not valid JSON (${(error as Error).message}): fix its syntax`);
  }
  return parseLocalTargets(parsed, path);
}

/** Validates the parsed content of the targets file at `file` (relative paths resolve against its directory). */
export function parseLocalTargets(input: unknown, file: string): LocalTargetsConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new BadInputError(`local targets file ${file} must hold a JSON object with releasesDir, stateDir, command and targets`);
  }
  const fields = input as Record<string, unknown>;
  const baseDir = dirname(resolve(file));
  const problems: string[] = [];

  for (const name of Object.keys(fields).filter((key) => !KNOWN_FIELDS.includes(key))) {
    problems.push(`unknown field ${name}: remove it (known fields: ${KNOWN_FIELDS.join(', ')})`);
  }
  const releasesDir = directory(fields.releasesDir, 'releasesDir', 'the directory that holds one directory per version', problems);
  const stateDir = directory(fields.stateDir, 'stateDir', 'a writable directory for pid files, logs and the release state', problems);
  const command = commandLine(fields.command, problems);
  const healthPath = fields.healthPath ?? DEFAULT_HEALTH_PATH;
  if (typeof healthPath !== 'string' || !healthPath.startsWith('/')) {
    problems.push(`healthPath must be a URL path starting with "/" (given ${JSON.stringify(healthPath)})`);
  }
  const stopTimeoutMs = milliseconds(fields.stopTimeoutMs, 'stopTimeoutMs', DEFAULT_STOP_TIMEOUT_MS, 0, problems);
  const startTimeoutMs = milliseconds(fields.startTimeoutMs, 'startTimeoutMs', DEFAULT_START_TIMEOUT_MS, 100, problems);
  const targets = targetList(fields.targets, problems);

  if (problems.length > 0) {
    throw new BadInputError(`local targets file ${file} is not valid:\n${formatProblems(problems)}`);
  }
  return {
    releasesDir: resolve(baseDir, releasesDir),
    stateDir: resolve(baseDir, stateDir),
    command,
    healthPath: healthPath as string,
    stopTimeoutMs,
    startTimeoutMs,
    targets,
  };
}

function directory(value: unknown, name: string, meaning: string, problems: string[]): string {
  if (typeof value === 'string' && value !== '') return value;
  problems.push(value === undefined ? `${name} is missing: set it to ${meaning}` : `${name} must be a path: ${meaning} (given ${JSON.stringify(value)})`);
  return '';
}

function commandLine(value: unknown, problems: string[]): string[] {
  if (Array.isArray(value) && value.length > 0 && value.every((part) => typeof part === 'string') && value[0] !== '') return value as string[];
  problems.push(
    value === undefined
      ? 'command is missing: set it to the service\'s argv, e.g. ["node", "server.mjs"]'
      : `command must be a non-empty array of strings, the service's argv with no shell, e.g. ["node", "server.mjs"] (given ${JSON.stringify(value)})`,
  );
  return [];
}

function milliseconds(value: unknown, name: string, fallback: number, min: number, problems: string[]): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= MAX_TIMEOUT_MS) return value;
  problems.push(`${name} must be a whole number of milliseconds between ${min} and ${MAX_TIMEOUT_MS} (given ${JSON.stringify(value)})`);
  return fallback;
}

function targetList(value: unknown, problems: string[]): LocalTarget[] {
  if (!Array.isArray(value) || value.length === 0) {
    problems.push(`targets must be a non-empty array of { "name": "app1", "port": 18081 } (given ${JSON.stringify(value)})`);
    return [];
  }
  const targets: LocalTarget[] = [];
  const names = new Set<string>();
  const ports = new Set<number>();
  value.forEach((entry: unknown, index) => {
    const where = `targets[${index}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      problems.push(`${where} must be an object { "name": "app1", "port": 18081 } (given ${JSON.stringify(entry)})`);
      return;
    }
    const { name, port, ...rest } = entry as Record<string, unknown>;
    for (const extra of Object.keys(rest)) problems.push(`${where} has an unknown field ${extra}: remove it (a target has name and port)`);
    const nameValid = typeof name === 'string' && TARGET_NAME_PATTERN.test(name);
    if (!nameValid) {
      problems.push(`${where}.name must be the HAProxy server name: 1 to 64 letters, digits, "_", "." or "-", starting with a letter or digit (given ${JSON.stringify(name)})`);
    } else if (names.has(name)) {
      problems.push(`${where}.name ${name} is used twice: give each target its own name`);
    }
    const portValid = typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65_535;
    if (!portValid) {
      problems.push(`${where}.port must be a whole number between 1 and 65535 (given ${JSON.stringify(port)})`);
    } else if (ports.has(port)) {
      problems.push(`${where}.port ${port} is used twice: give each target its own port`);
    }
    if (nameValid) names.add(name);
    if (portValid) ports.add(port);
    if (nameValid && portValid) targets.push({ name, port });
  });
  return targets;
}
