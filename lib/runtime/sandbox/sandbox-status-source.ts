// The sandbox's status, read from the running parts themselves (never from what the sandbox thinks it
// started): HAProxy's runtime API for each target's state and the frontend's traffic, each target's
// own health check for its version, SQS for the queue depths, Kinesis and the checkpoint table for
// the lag and owner of each shard (as `sluice stream status` reads them), and the release table for
// the current release. The journal holds each target's latest step only, so the timeline is what
// this reader saw change: a running sandbox watches the journal every 200 ms (a step of a local
// release takes about that long), whatever the page's own refresh.

import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { systemClock } from '../clock.ts';
import { createKinesisClient } from '../kinesis-client.ts';
import { DynamoDbReleaseStore } from '../release/aws/dynamodb-release-store.ts';
import { HaproxyRuntimeApi, type HaproxyStatRow } from '../release/haproxy/haproxy-runtime-api.ts';
import { LocalProcessInstaller } from '../release/local/local-process-installer.ts';
import { loadLocalTargets } from '../release/local/local-targets.ts';
import type { ReleaseOutcome, ReleaseRecord } from '../release/ports.ts';
import { LeaseTable } from '../stream/lease-table.ts';
import { readStreamStatus } from '../stream/cli/stream-status.ts';
import { localClientConfig } from './local-endpoint.ts';
import type { SandboxState } from './sandbox-state.ts';
import type { ReleaseTimelineEntry, SandboxShard, SandboxStatus, SandboxStatusSource, SandboxTarget, TargetState } from './sandbox-status.ts';

export interface LiveSandboxStatus extends SandboxStatusSource {
  /** Destroys the clients. */
  close(): void;
}

/** The first snapshot has no earlier one to take rates against: it measures over this long. */
const FIRST_RATE_WINDOW_MS = 1_000;

interface TrafficSample {
  readonly at: number;
  readonly requests: number;
  readonly errors: number;
}

export interface LiveSandboxStatusOptions {
  /** Reads the release journal this often between snapshots, so that no step goes unseen. @default - only at each snapshot */
  readonly watchReleaseEveryMs?: number;
}

export function liveSandboxStatus(state: SandboxState, options: LiveSandboxStatusOptions = {}): LiveSandboxStatus {
  const haproxy = new HaproxyRuntimeApi({ socketPath: state.haproxy.socket, timeoutMs: 2_000 });
  const sqs = new SQSClient(localClientConfig(state.sqs.endpoint));
  const kinesis = createKinesisClient({}, localClientConfig(state.kinesis.endpoint));
  const dynamodb = new DynamoDBClient(localClientConfig(state.dynamodb.endpoint));
  const releases = new DynamoDbReleaseStore({ client: DynamoDBDocumentClient.from(dynamodb), tableName: state.dynamodb.releaseTableName });
  const leases = new LeaseTable(dynamodb, state.dynamodb.checkpointTableName);
  const timeline = new ReleaseTimeline();
  // Each target's version is what its own health check reports, asked as a release's installer asks it.
  const installer = loadLocalTargets(state.targetsFile).then((targets) => new LocalProcessInstaller({ ...targets, clock: systemClock }));
  // A targets file that cannot be read fails each snapshot, not the process.
  installer.catch(() => undefined);
  const target = async (row: HaproxyStatRow): Promise<SandboxTarget> => {
    const port = Number(row.addr.split(':').at(-1));
    const version = await (await installer).installedVersion(row.svname);
    return { name: row.svname, port, ...(version !== undefined ? { version } : {}), state: targetState(row, version !== undefined) };
  };
  let previous: TrafficSample | undefined;
  // The watcher's and a snapshot's reads may overlap: a read older than one already applied is dropped.
  let readsStarted = 0;
  let lastApplied = 0;
  const readRelease = async () => {
    const read = ++readsStarted;
    const [journal, [last]] = await Promise.all([releases.readJournal(), releases.listHistory(1)]);
    if (read < lastApplied) return timeline.current();
    lastApplied = read;
    return timeline.observe(journal, last);
  };
  let watching: Promise<unknown> | undefined;
  const watcher =
    options.watchReleaseEveryMs === undefined
      ? undefined
      : setInterval(() => {
          // One read at a time; a failed read is retried at the next tick (the snapshot reports errors).
          watching ??= readRelease()
            .catch(() => undefined)
            .finally(() => (watching = undefined));
        }, options.watchReleaseEveryMs).unref();

  const traffic = async (): Promise<TrafficSample> => {
    const row = await haproxy.showFrontend(state.haproxy.frontend);
    // Failed requests: 5xx answers (HAProxy's own 502/503/504 included) and requests it could not parse.
    return { at: Date.now(), requests: Number(row.req_tot ?? 0), errors: Number(row.hrsp_5xx ?? 0) + Number(row.ereq ?? 0) };
  };

  return {
    async snapshot(): Promise<SandboxStatus> {
      if (previous === undefined) {
        previous = await traffic();
        await sleep(FIRST_RATE_WINDOW_MS);
      }
      const [sample, rows, queue, deadLetters, stream, release] = await Promise.all([
        traffic(),
        haproxy.showStat(state.haproxy.backend),
        queueDepth(sqs, state.sqs.queueUrl),
        queueDepth(sqs, state.sqs.deadLetterQueueUrl),
        readStreamStatus(kinesis, leases, state.kinesis.streamName, Date.now),
        readRelease(),
      ]);
      const seconds = Math.max(0.001, (sample.at - previous.at) / 1000);
      const rates = { requestsPerSecond: round((sample.requests - previous.requests) / seconds), errorsPerSecond: round((sample.errors - previous.errors) / seconds) };
      previous = sample;
      const targets = await Promise.all(rows.map((row) => target(row)));
      const shards = stream.shards.map((shard): SandboxShard => ({
        shardId: shard.shardId,
        ...(shard.owner !== undefined ? { leaseOwner: shard.owner } : {}),
        ...(shard.checkpoint !== undefined ? { checkpoint: shard.checkpoint } : {}),
        ...(shard.lag?.kind === 'behind' ? { millisBehindLatest: shard.lag.ms } : shard.lag?.kind === 'caught-up' ? { millisBehindLatest: 0 } : {}),
      }));
      return {
        at: sample.at,
        url: state.url,
        targets,
        ...rates,
        queue: { depth: queue.visible, inFlight: queue.inFlight, deadLetterDepth: deadLetters.visible + deadLetters.inFlight },
        stream: { shards },
        ...(release ? { release } : {}),
      };
    },
    close() {
      clearInterval(watcher);
      sqs.destroy();
      kinesis.destroy();
      dynamodb.destroy();
    },
  };
}

/**
 * What HAProxy's view means for a person: `MAINT` with sessions left is still draining, without them
 * the release has it (stopped, or starting when it answers its health check again).
 */
export function targetState(row: Pick<HaproxyStatRow, 'status' | 'scur'>, answersHealth: boolean): TargetState {
  const status = row.status.split(' ')[0];
  if (status === 'UP' || status === 'NOLB') return 'serving';
  if (status === 'DRAIN') return 'draining';
  if (status === 'MAINT') return row.scur > 0 ? 'draining' : answersHealth ? 'starting' : 'stopped';
  return answersHealth ? 'starting' : 'down';
}

async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<{ visible: number; inFlight: number }> {
  const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  return { visible: Number(Attributes.ApproximateNumberOfMessages ?? 0), inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) };
}

function round(value: number): number {
  return Math.max(0, Math.round(value * 10) / 10);
}

type Journal = Awaited<ReturnType<DynamoDbReleaseStore['readJournal']>>;
type ReleaseView = NonNullable<SandboxStatus['release']>;

const OUTCOME_STATE: Record<ReleaseOutcome, ReleaseView['state']> = {
  succeeded: 'finished',
  'rolled-back': 'rolled-back',
  'rollback-failed': 'failed',
  aborted: 'failed',
  superseded: 'finished',
};

/** The steps of the current release as this reader saw them, and the outcome once it is in the history. */
export class ReleaseTimeline {
  private releaseId: string | undefined;
  private entries: ReleaseTimelineEntry[] = [];
  private readonly seen = new Map<string, string>();
  private view: ReleaseView | undefined;

  /** What the last observation found. */
  current(): ReleaseView | undefined {
    return this.view;
  }

  observe(journal: Journal, last: ReleaseRecord | undefined): ReleaseView | undefined {
    if (journal) {
      const { release, targets } = journal;
      this.begin(release);
      for (const step of [...targets].sort((a, b) => a.updatedAt - b.updatedAt)) {
        const key = `${step.targetId}@${step.toVersion}`;
        if (this.seen.get(key) === step.step) continue;
        this.seen.set(key, step.step);
        this.entries.push({ at: step.updatedAt, event: `target_${step.step.replace(/-/g, '_')}`, target: step.targetId, version: step.toVersion });
      }
      this.view = { fromVersion: release.previousVersion, toVersion: release.version, state: 'running', timeline: [...this.entries] };
      return this.view;
    }
    if (last === undefined) return this.view;
    if (last.releaseId !== this.releaseId || this.view?.state === 'running') {
      this.begin(last);
      const state = OUTCOME_STATE[last.outcome ?? 'succeeded'];
      const reason = last.failure ? `${last.failure.reasonCode} at ${last.failure.step}${last.failure.targetId ? ` on ${last.failure.targetId}` : ''}` : undefined;
      this.entries.push({ at: last.finishedAt ?? Date.now(), event: state === 'finished' ? 'release_finished' : state === 'rolled-back' ? 'rolled_back' : 'release_failed', version: last.version, ...(reason ? { detail: reason } : {}) });
      this.view = { fromVersion: last.previousVersion, toVersion: last.version, state, timeline: [...this.entries] };
    }
    return this.view;
  }

  private begin(release: ReleaseRecord): void {
    if (this.releaseId === release.releaseId) return;
    this.releaseId = release.releaseId;
    this.seen.clear();
    this.entries = [{ at: release.startedAt, event: 'release_started', version: release.version, detail: `from ${release.previousVersion} by ${release.holder}` }];
  }
}
