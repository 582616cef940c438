// The status page in a real browser: Debian's chromium driven by playwright-core, launched as
// DESIGN.md's toolchain notes say, and one check of "the page loads, shows the targets, and the
// timeline moves during a release" that takes any SandboxStatusSource — a scripted one here, the
// real sandbox's once it runs in a test.
import { accessSync, constants } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';
import { expect } from 'vitest';
import type { SandboxStatusSource } from '../../../lib/runtime/sandbox/sandbox-status.ts';
import { startStatusPage } from '../../../lib/runtime/sandbox/status-page.ts';
import { requireInstalled } from '../../helpers/require-installed.ts';

// The little of the DOM the functions run in the page use: the project compiles without lib "dom",
// and adding it would let Node code call browser globals unnoticed.
interface PageElement {
  readonly textContent: string | null;
  readonly dataset: Record<string, string | undefined>;
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement>;
}
declare const document: { querySelectorAll(selector: string): { readonly length: number } };

/** Debian's package; `npx playwright install` cannot download a browser here. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * As root, with the background-networking flags (without them chromium floods the closed network
 * with connections). The "new empty --user-data-dir" is playwright's own: launch() makes a fresh
 * temporary profile for every browser and refuses a --user-data-dir argument.
 */
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

function chromiumInstalled(): boolean {
  try {
    accessSync(CHROMIUM_PATH, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** For `describe.skipIf(!requireChromium())`: see test/helpers/require-installed.ts. */
export function requireChromium(): boolean {
  return requireInstalled({ name: 'chromium', installed: chromiumInstalled(), where: `at ${CHROMIUM_PATH}`, debianPackage: 'chromium', tests: "the status page's browser tests" });
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}

/** What the page showed, read from its DOM. */
export interface DrawnTarget {
  readonly name: string;
  readonly version: string;
  readonly state: string;
}

export interface DrawnTimelineEntry {
  readonly datetime: string;
  readonly event: string;
  readonly target?: string;
  readonly version?: string;
}

export interface ReleaseAsDrawn {
  readonly targetsBefore: readonly DrawnTarget[];
  readonly targetsAfter: readonly DrawnTarget[];
  /** The number of timeline entries each time the page showed a different number, in order (a previous release's first, if the sandbox had one). */
  readonly timelineLengths: readonly number[];
  readonly timeline: readonly DrawnTimelineEntry[];
  readonly releaseState: string | undefined;
  /** The release's line above the timeline, e.g. `v1 → v2 · finished`. */
  readonly releaseSummary: string;
}

export interface FollowReleaseOptions {
  readonly page: Page;
  readonly source: SandboxStatusSource;
  /** Starts the release the page should show; resolves when it is over. */
  readonly release: () => Promise<void>;
  /** @default 3 - the sandbox's web-app processes */
  readonly targets?: number;
  /** @default 100 - the page's poll, in milliseconds */
  readonly refreshIntervalMs?: number;
  /** How long the whole release may take. @default 30000 */
  readonly timeoutMs?: number;
}

/**
 * Serves `source` on a status page, opens it in `page`, starts the release and watches the page
 * until it shows the release's end. Asserts what a person watching relies on: the page loads live,
 * shows every target, and its timeline grows while the release runs (not only at the end), newest
 * entry last, ending with what the source reports. Returns what it saw for further checks.
 */
export async function expectStatusPageFollowsRelease(options: FollowReleaseOptions): Promise<ReleaseAsDrawn> {
  const { page, source, release, targets = 3, refreshIntervalMs = 100, timeoutMs = 30_000 } = options;
  const statusPage = await openStatusPage(page, source, refreshIntervalMs);
  try {
    await expect.poll(() => page.locator('#targets tbody tr[data-target]').count(), { timeout: 10_000 }).toBe(targets);
    const targetsBefore = await drawnTargets(page);

    const timelineLengths = [await timelineLength(page)];
    const releasing = release();
    let over = false;
    // Its failure is reported by the `await releasing` below, not as an unhandled rejection here.
    const markOver = () => {
      over = true;
    };
    releasing.then(markOver, markOver);
    const deadline = Date.now() + timeoutMs;
    // Each wait ends when the page draws a different number of entries, or the release is over and
    // the page says so: each length the page showed is recorded once, in order.
    for (;;) {
      const last = timelineLengths.at(-1)!;
      const changed = await page
        .waitForFunction((previous) => document.querySelectorAll('#timeline li').length !== previous, last, { timeout: 250, polling: 'raf' })
        .then(() => true, () => false);
      if (changed) timelineLengths.push(await timelineLength(page));
      if (over && !changed && (await releaseStateShown(page)) !== 'running') break;
      if (Date.now() > deadline) throw new Error(`the release did not end on the page within ${timeoutMs} ms (timeline lengths seen: ${timelineLengths.join(', ')})`);
    }
    await releasing;

    const expected = await source.snapshot();
    const expectedTimeline = expected.release?.timeline ?? [];
    await expect.poll(() => timelineLength(page), { timeout: 5_000 }).toBe(expectedTimeline.length);
    const timeline = await drawnTimeline(page);
    const result: ReleaseAsDrawn = { targetsBefore, targetsAfter: await drawnTargets(page), timelineLengths, timeline, releaseState: await releaseStateShown(page), releaseSummary: (await page.locator('#release-summary').textContent()) ?? '' };

    expect(targetsBefore).toHaveLength(targets);
    // A sandbox that released before shows that release's timeline until this one replaces it: the
    // page's timeline for this release begins where its length last dropped.
    const lastDrop = timelineLengths.findLastIndex((length, index) => index > 0 && length < timelineLengths[index - 1]!);
    const thisRelease = timelineLengths.slice(Math.max(0, lastDrop));
    // Moving: the page showed the release in at least two states between its start and its end.
    expect(thisRelease.filter((length) => length > 0 && length < expectedTimeline.length).length, `timeline lengths seen: ${timelineLengths.join(', ')}`).toBeGreaterThanOrEqual(2);
    expect(thisRelease).toEqual([...thisRelease].sort((a, b) => a - b));
    // Newest last, and every entry of the journal drawn in the journal's order.
    expect(timeline.map(({ datetime }) => Date.parse(datetime))).toEqual(expectedTimeline.map(({ at }) => at));
    expect(timeline.map(({ event, target }) => [event, target])).toEqual(expectedTimeline.map(({ event, target }) => [event, target]));
    expect(result.releaseState).toBe(expected.release?.state);
    return result;
  } finally {
    await statusPage.close();
  }
}

/**
 * Serves `source` on a status page and opens it in `page`, resolving once the page shows live data.
 * close() leaves the page before the server stops: a poll after that would fail into whatever the
 * page does next.
 */
export async function openStatusPage(page: Page, source: SandboxStatusSource, refreshIntervalMs = 100): Promise<{ readonly url: string; close(): Promise<void> }> {
  const statusPage = await startStatusPage({ source, refreshIntervalMs });
  const close = async () => {
    await page.goto('about:blank');
    await statusPage.stop();
  };
  try {
    await page.goto(statusPage.url);
    await page.locator('#connection[data-state="live"]').waitFor({ timeout: 10_000 });
  } catch (error) {
    await close();
    throw error;
  }
  return { url: statusPage.url, close };
}

export function drawnTargets(page: Page): Promise<DrawnTarget[]> {
  return page.$$eval('#targets tbody tr[data-target]', (rows: PageElement[]) =>
    rows.map((row) => {
      const cells = [...row.querySelectorAll('td')].map((cell) => cell.textContent ?? '');
      return { name: cells[0]!, version: cells[2]!, state: row.dataset.state ?? '' };
    }),
  );
}

function drawnTimeline(page: Page): Promise<DrawnTimelineEntry[]> {
  return page.$$eval('#timeline li', (items: PageElement[]) =>
    items.map((item) => ({
      datetime: item.querySelector('time')?.getAttribute('datetime') ?? '',
      event: item.querySelector('.event')?.textContent ?? '',
      ...(item.querySelector('.target') ? { target: item.querySelector('.target')!.textContent ?? '' } : {}),
      ...(item.querySelector('.version') ? { version: item.querySelector('.version')!.textContent ?? '' } : {}),
    })),
  );
}

function timelineLength(page: Page): Promise<number> {
  return page.locator('#timeline li').count();
}

function releaseStateShown(page: Page): Promise<string | undefined> {
  return page.locator('#release-summary').evaluate((summary: PageElement) => summary.dataset.state);
}
