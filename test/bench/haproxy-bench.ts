// npm run bench:haproxy — releases of 3 local services behind a real HAProxy, under load (16
// keep-alive clients whose requests take 100 ms). Wall time per target — the rolling phase, from the
// first step to the last target healthy, over the targets — against its floor measured in the same
// run: how long draining took (HAProxy's DRAIN to its last session ending) plus how long the restart
// took (the old process stopping to HAProxy seeing the new one UP). Three releases (1→2→1→2), the
// median ratio reported. The last line is JSON: {"perTargetRatio": …, "requests": …, "failed": …}.
// Goals: ratio ≤ 1.1, failed = 0; the bench exits 1 when one is missed.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startAll } from '../../lib/runtime/release/local/local-process-installer.ts';
import { type LocalHaproxy, requireHaproxy, startHaproxy } from '../helpers/haproxy.ts';
import { startLoad } from '../helpers/load-generator.ts';
import { createLocalFleet, type LocalFleet } from '../helpers/local-fleet.ts';
import { projectRoot } from '../helpers/run-cdk.ts';
import { atMost, enforceGoals } from './bench-goals.ts';

const backend = 'app';
const GOAL_RATIO = 1.1;
if (!requireHaproxy()) {
  console.error('haproxy is not installed: apt-get install -y haproxy');
  process.exit(1);
}

interface Sample {
  readonly at: number;
  readonly server: string;
  readonly status: string;
  readonly sessions: number;
}

interface Measured {
  readonly perTargetMs: number;
  readonly floorMs: number;
  readonly wallMs: number;
  readonly details: string[];
}

/** One release to `version` by the real CLI in its own process, timed by its NDJSON events and by HAProxy. */
async function release(fleet: LocalFleet, haproxy: LocalHaproxy, from: string, version: string): Promise<Measured> {
  const samples: Sample[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const at = Date.now();
      for (const row of await haproxy.api.showStat(backend).catch(() => [])) samples.push({ at, server: row.svname, status: row.status, sessions: row.scur });
      await sleep(10);
    }
  })();
  const started = Date.now();
  const cli = spawn(
    process.execPath,
    ['--import', 'tsx', 'bin/sluice.ts', 'release', version, '--json',
      '--haproxy-socket', haproxy.socketPath, '--backend', backend, '--local-targets', fleet.targetsFile, '--check-interval', '100ms'],
    { cwd: projectRoot, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let stdout = '';
  cli.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  const [code] = (await once(cli, 'exit')) as [number | null];
  const wallMs = Date.now() - started;
  sampling = false;
  await sampler;
  if (code !== 0) throw new Error(`release of ${version} failed (exit ${code}):\n${stdout}`);
  const events = stdout.trim().split('\n').map((line) => JSON.parse(line) as { event: string; at: string });
  const firstStep = Date.parse(events.find((event) => event.event === 'step-started')?.at ?? '');
  const lastDone = Date.parse(events.filter((event) => event.event === 'target-done').at(-1)?.at ?? '');

  let floorMs = 0;
  const details: string[] = [];
  for (const target of fleet.config.targets) {
    const mine = samples.filter((sample) => sample.server === target.name);
    // A short drain can end between two samples: then the first sample already shows MAINT.
    const drainStart = mine.find((sample) => /^(DRAIN|MAINT)/.test(sample.status))?.at;
    const drained = mine.find((sample) => drainStart !== undefined && sample.at >= drainStart && sample.sessions === 0)?.at;
    const log = await readFile(join(fleet.config.stateDir, `${target.name}.log`), 'utf8');
    const pattern = new RegExp(`^(\\S+) stopping version=${from.replaceAll('.', '\\.')} `, 'gm');
    const stopping = [...log.matchAll(pattern)].map((match) => Date.parse(match[1])).find((at) => at >= started);
    const upAgain = mine.find((sample) => stopping !== undefined && sample.at > stopping && sample.status === 'UP')?.at;
    if (drainStart === undefined || drained === undefined || stopping === undefined || upAgain === undefined) {
      throw new Error(`could not observe ${target.name}: drain ${drainStart}, drained ${drained}, stopping ${stopping}, up ${upAgain}`);
    }
    floorMs += drained - drainStart + (upAgain - stopping);
    details.push(`${target.name} drain ${drained - drainStart} ms + restart to UP ${upAgain - stopping} ms`);
  }
  const targets = fleet.config.targets.length;
  return { perTargetMs: (lastDone - firstStep) / targets, floorMs: floorMs / targets, wallMs, details };
}

const fleet = await createLocalFleet({ targets: 3, versions: { '1.0.0': true, '2.0.0': true } });
await startAll(fleet.config, '1.0.0');
const haproxy = await startHaproxy({ backend, servers: fleet.config.targets.map((target) => ({ name: target.name, port: target.port })), checkIntervalMs: 100, rise: 2, fall: 2 });
try {
  for (const target of fleet.config.targets) await haproxy.waitForStatus(target.name, /^UP/);
  const load = startLoad({ port: haproxy.frontendPort, concurrency: 16, path: '/?delay=100' });
  await sleep(500);
  const runs: Measured[] = [];
  for (const [from, to] of [['1.0.0', '2.0.0'], ['2.0.0', '1.0.0'], ['1.0.0', '2.0.0']]) runs.push(await release(fleet, haproxy, from, to));
  await sleep(500);
  const result = await load.stop();

  console.log('3 local services behind HAProxy 2.6 (check inter 100 ms, rise 2); 16 keep-alive clients, 100 ms requests');
  for (const [index, run] of runs.entries()) {
    console.log(`release ${index + 1}: per target ${run.perTargetMs.toFixed(0)} ms, floor ${run.floorMs.toFixed(0)} ms, ratio ${(run.perTargetMs / run.floorMs).toFixed(3)}; whole CLI run ${run.wallMs} ms`);
    console.log(`  ${run.details.join('; ')}`);
  }
  const ratios = runs.map((run) => run.perTargetMs / run.floorMs).sort((a, b) => a - b);
  console.log(`${result.requests} requests during the releases, ${result.failed} failed${result.failures.length ? `: ${result.failures.join('; ')}` : ''}`);
  const perTargetRatio = Number(ratios[1].toFixed(3));
  enforceGoals([atMost('perTargetRatio', perTargetRatio, GOAL_RATIO), atMost('failed', result.failed, 0)]);
  console.log(JSON.stringify({ perTargetRatio, requests: result.requests, failed: result.failed }));
} finally {
  await haproxy.stop();
  await fleet.cleanup();
}
