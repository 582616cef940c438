// The status page as a person sees it: Debian's chromium (one launch, one page for every check)
// against the real server and the page's own script. The release is a scripted sandbox; the same
// check, expectStatusPageFollowsRelease, takes the real sandbox's status source as well.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { SandboxStatus, SandboxStatusSource } from '../../../lib/runtime/sandbox/sandbox-status.ts';
import { drawnTargets, expectStatusPageFollowsRelease, launchChromium, openStatusPage, requireChromium } from './status-page-browser.ts';
import { rollingReleaseSnapshots, ScriptedSandbox } from './status-page-release-script.ts';

const targets = [
  { name: 'app1', port: 18081 },
  { name: 'app2', port: 18082 },
  { name: 'app3', port: 18083 },
];

describe.skipIf(!requireChromium())('the status page in chromium', () => {
  let browser: Browser;
  let page: Page;
  let pageErrors: string[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
    page = await browser.newPage();
    // A script error, or the page's own script refused by its Content-Security-Policy, lands here.
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
  });
  afterAll(async () => {
    await browser?.close();
  });
  beforeEach(() => {
    pageErrors = [];
  });

  it('loads, shows the three targets, and its timeline moves while v1 → v2 rolls through them', async () => {
    const snapshots = rollingReleaseSnapshots({ targets, fromVersion: 'v1', toVersion: 'v2', startAt: Date.parse('2025-06-02T10:00:00.000Z'), stepMs: 400, entriesPerSnapshot: 2 });
    const sandbox = new ScriptedSandbox(snapshots, 80);

    const seen = await expectStatusPageFollowsRelease({
      page,
      source: sandbox,
      release: async () => {
        sandbox.start();
        await sandbox.finished();
      },
    });

    expect(seen.targetsBefore).toEqual([
      { name: 'app1', version: 'v1', state: 'serving' },
      { name: 'app2', version: 'v1', state: 'serving' },
      { name: 'app3', version: 'v1', state: 'serving' },
    ]);
    expect(seen.targetsAfter).toEqual([
      { name: 'app1', version: 'v2', state: 'serving' },
      { name: 'app2', version: 'v2', state: 'serving' },
      { name: 'app3', version: 'v2', state: 'serving' },
    ]);
    expect(seen.releaseState).toBe('finished');
    expect(seen.timelineLengths[0]).toBe(0);
    // One target at a time, each through the journal's steps in order, between start and finish.
    const journalSteps = ['preflight', 'deregistering', 'draining', 'installing', 'verifying', 'registering', 'waiting-healthy', 'baking', 'done'];
    expect(seen.timeline.map(({ event, target }) => (target ? `${target} ${event}` : event))).toEqual([
      'release_started',
      ...journalSteps.map((step) => `app1 ${step}`),
      ...journalSteps.map((step) => `app2 ${step}`),
      ...journalSteps.map((step) => `app3 ${step}`),
      'release_finished',
    ]);
    expect(seen.releaseSummary).toBe('v1 → v2 · finished');
    expect(pageErrors).toEqual([]);
  });

  it('draws every figure, and what processes report as text, never as HTML', async () => {
    const source = new ControlledSource(hostileSnapshot);
    const statusPage = await openStatusPage(page, source);
    try {
      expect(await drawnTargets(page)).toEqual([
        { name: 'app1', version: '<img src=x onerror="document.title=\'pwned\'">', state: 'serving' },
        { name: 'app2<script>document.title="pwned"</script>', version: 'v2', state: 'draining' },
        { name: 'app3', version: '(no answer)', state: 'down' },
      ]);
      const text = (selector: string) => page.locator(selector).allTextContents();
      const alarming = (selector: string) => page.locator(selector).evaluate((element: { classList: { contains(name: string): boolean } }) => element.classList.contains('alarming'));
      expect(await text('#sandbox-url')).toEqual(['javascript:document.title="pwned"']);
      // A javascript: address from a process is shown, never made clickable.
      expect(await page.locator('#sandbox-url').getAttribute('href')).toBeNull();
      expect(await text('#requests-per-second')).toEqual(['12.5']);
      expect(await text('#errors-per-second')).toEqual(['0.5']);
      expect(await alarming('#errors-per-second')).toBe(true);
      expect(await text('#queue-depth')).toEqual(['7']);
      expect(await text('#queue-in-flight')).toEqual(['3']);
      expect(await text('#dead-letter-depth')).toEqual(['1']);
      expect(await alarming('#dead-letter-depth')).toBe(true);
      expect(await text('#stream-lag')).toEqual(['12 records, 350 ms behind latest']);
      expect(await page.locator('#shards tbody tr').evaluateAll((rows: { querySelectorAll(selector: string): Iterable<{ textContent: string | null }> }[]) => rows.map((row) => [...row.querySelectorAll('td')].map((cell) => cell.textContent)))).toEqual([
        ['shardId-000000000000', '<b>worker-1</b>', '4960', '12', '350 ms'],
        ['shardId-000000000001', '(no owner)', '–', '0', '0 ms'],
      ]);
      expect(await text('#release-summary')).toEqual(['v1 → <i>v2</i> · rolled-back']);
      expect(await text('#timeline li .event')).toEqual(['rolled_back']);
      expect(await text('#timeline li .target')).toEqual(['app1']);
      expect(await text('#timeline li .detail')).toEqual(['<script>document.title="pwned"</script>alarm HTTP 5xx fired on app1']);

      // None of it became an element, and none of it ran.
      expect(await page.locator('body img, body script, body b, body i').count()).toBe(0);
      expect(await page.title()).toBe('sluice sandbox');
      expect(pageErrors).toEqual([]);
    } finally {
      await statusPage.close();
    }
  });

  it('says when the sandbox stops answering, keeps the last figures, and recovers', async () => {
    const source = new ControlledSource(hostileSnapshot);
    const statusPage = await openStatusPage(page, source);
    try {
      const connection = page.locator('#connection');
      source.failure = new Error('HAProxy runtime API: connection refused');
      await expect.poll(() => connection.getAttribute('data-state')).toBe('stale');
      expect(await connection.textContent()).toMatch(/^not answering since \d\d:\d\d:\d\d\.\d{3} \(the figures below are from then\): the sandbox's status could not be read: HAProxy runtime API: connection refused$/);
      expect(await page.locator('#requests-per-second').textContent()).toBe('12.5');

      source.failure = undefined;
      source.status = { ...hostileSnapshot, requestsPerSecond: 30 };
      await expect.poll(() => connection.getAttribute('data-state')).toBe('live');
      expect(await page.locator('#requests-per-second').textContent()).toBe('30.0');
      // The failed polls were answered 503, which the browser logs; nothing else went wrong.
      expect(pageErrors.filter((message) => !message.includes('503'))).toEqual([]);
    } finally {
      await statusPage.close();
    }
  });
});

class ControlledSource implements SandboxStatusSource {
  failure: Error | undefined;
  constructor(public status: SandboxStatus) {}
  async snapshot(): Promise<SandboxStatus> {
    if (this.failure) throw this.failure;
    return this.status;
  }
}

/** Strings as processes could report them: markup that must be shown, not parsed or run. */
const hostileSnapshot: SandboxStatus = {
  at: Date.parse('2025-06-02T10:05:00.000Z'),
  url: 'javascript:document.title="pwned"',
  targets: [
    { name: 'app1', port: 18081, version: '<img src=x onerror="document.title=\'pwned\'">', state: 'serving' },
    { name: 'app2<script>document.title="pwned"</script>', port: 18082, version: 'v2', state: 'draining' },
    { name: 'app3', port: 18083, state: 'down' },
  ],
  requestsPerSecond: 12.5,
  errorsPerSecond: 0.5,
  queue: { depth: 7, inFlight: 3, deadLetterDepth: 1 },
  stream: {
    shards: [
      { shardId: 'shardId-000000000000', leaseOwner: '<b>worker-1</b>', checkpoint: '4960', lagRecords: 12, millisBehindLatest: 350 },
      { shardId: 'shardId-000000000001', lagRecords: 0, millisBehindLatest: 0 },
    ],
  },
  release: {
    fromVersion: 'v1',
    toVersion: '<i>v2</i>',
    state: 'rolled-back',
    timeline: [{ at: Date.parse('2025-06-02T10:04:59.000Z'), event: 'rolled_back', target: 'app1', detail: '<script>document.title="pwned"</script>alarm HTTP 5xx fired on app1' }],
  },
};
