// npm run bench:synth — wall time of `cdk synth` for the dev stage, median of 5, against a baseline
// measured in the same run: the same CLI synthesizing an app with one empty stack (node, tsx,
// aws-cdk-lib loading and the CLI's own overhead). Prints one JSON object as its last line, and exits
// 1 when the ratio misses GOAL_RATIO.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { atMost, enforceGoals } from './bench-goals.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = join(root, 'node_modules', '.bin', 'cdk');
const runs = 5;
/**
 * The README states no goal for synth; this one is ours. The stack and its cdk-nag checks cost about
 * as much again as the empty app (a ratio of ~1.8 on a 2-core machine): 2.5 leaves room for noise,
 * and a stack or a check that doubled its share would still cross it.
 */
const GOAL_RATIO = 2.5;

const scratch = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
const emptyApp = fileURLToPath(new URL('./empty-app.ts', import.meta.url));

function timeSynth(app: string | undefined): number {
  const started = process.hrtime.bigint();
  const args = ['synth', '--quiet', '--no-notices', '--output', mkdtempSync(join(scratch, 'out-'))];
  if (app) args.push('--app', `node --import tsx ${app}`);
  execFileSync(cli, args, { cwd: root, stdio: 'ignore', env: { ...process.env, CDK_DISABLE_VERSION_CHECK: '1' } });
  return Number(process.hrtime.bigint() - started) / 1e9;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const sluice: number[] = [];
const baseline: number[] = [];
for (let run = 0; run < runs; run += 1) {
  // Interleaved, so that machine noise hits both alike.
  sluice.push(timeSynth(undefined));
  baseline.push(timeSynth(emptyApp));
  console.log(`run ${run + 1}: sluice ${sluice[run].toFixed(2)} s, empty app ${baseline[run].toFixed(2)} s`);
}
const result = {
  synthMedianSeconds: Number(median(sluice).toFixed(2)),
  baselineMedianSeconds: Number(median(baseline).toFixed(2)),
  ratio: Number((median(sluice) / median(baseline)).toFixed(2)),
};
enforceGoals([atMost('ratio', result.ratio, GOAL_RATIO)]);
console.log(JSON.stringify(result));
