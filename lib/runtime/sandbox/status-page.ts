// The sandbox's status page: a node:http server with a few static files (status-page.html, .css, .js
// and an icon beside this module) and one JSON endpoint, `/status.json`, which is the SandboxStatus snapshot
// exactly as `sluice sandbox status` sees it. The page's script polls that endpoint and redraws.
//
// Why polling a JSON endpoint, and no framework:
// - A snapshot costs a few local calls (HAProxy's runtime API, SQS, DynamoDB); once a second is
//   plenty for a person watching a release, and concurrent viewers share one snapshot in flight.
// - Nothing stays open: stop() closes the server without tracking Server-Sent Events streams, a
//   missed poll only makes the page say it is stale, and `curl …/status.json` gives the same data.
// - The page is ~200 lines of plain DOM code; a framework would need a build step the sandbox
//   does not have, and React-style diffing buys nothing at this size.
// Everything the page draws comes from processes (versions, details, shard owners), so the script
// writes only through textContent and attributes, never HTML, and a Content-Security-Policy that
// allows no inline script backs that up.
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { formatProblems, Problems } from '../problems.ts';
import type { SandboxStatus, SandboxStatusSource } from './sandbox-status.ts';

export interface StatusPageOptions {
  /** Where each snapshot comes from: the running sandbox, or a scripted one in a test. */
  readonly source: SandboxStatusSource;
  /** @default 0 - a free port, reported in `url` */
  readonly port?: number;
  /** @default '127.0.0.1' - loopback only, like every other part of the sandbox */
  readonly host?: string;
  /**
   * How often the page asks for a new snapshot, in milliseconds.
   * @default 1000
   */
  readonly refreshIntervalMs?: number;
  /**
   * How long one snapshot may take before the page is told the sandbox is not answering.
   * @default 5000
   */
  readonly snapshotTimeoutMs?: number;
}

export interface StatusPage {
  /** e.g. `http://127.0.0.1:41234/` */
  readonly url: string;
  /** Closes the server and every open connection. Safe to call twice. */
  stop(): Promise<void>;
}

/** Options that cannot work; the message lists every problem. */
export class StatusPageOptionsError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`the status page cannot start:\n${formatProblems(problems)}`);
    this.name = 'StatusPageOptionsError';
  }
}

/** The static files beside this module, and the content type each is served with. */
const ASSETS = {
  '/': { file: 'status-page.html', type: 'text/html; charset=utf-8' },
  '/status-page.css': { file: 'status-page.css', type: 'text/css; charset=utf-8' },
  '/status-page.js': { file: 'status-page.js', type: 'text/javascript; charset=utf-8' },
  // Browsers ask for an icon anyway; answering spares the console a 404 on every load.
  '/favicon.ico': { file: 'status-page-icon.svg', type: 'image/svg+xml' },
} as const;

/** Where the page's script reads the refresh interval; the only value put into the HTML. */
const REFRESH_PLACEHOLDER = '{{refreshIntervalMs}}';

/**
 * Scripts and styles from this server only, no inline code, requests only back to it: a string a
 * process reported can neither run as script nor send the page anywhere, even if a drawing bug let
 * it into the DOM as HTML.
 */
const CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Starts the page on `host:port` and resolves once it listens. */
export async function startStatusPage(options: StatusPageOptions): Promise<StatusPage> {
  const { source, port = 0, host = '127.0.0.1', refreshIntervalMs = 1000, snapshotTimeoutMs = 5000 } = options;
  const problems = new Problems();
  problems.check(typeof source?.snapshot === 'function', 'source must have a snapshot() method returning the SandboxStatus (given none)');
  problems.wholeNumber('port', port, 0, 65_535);
  problems.check(typeof host === 'string' && host.length > 0, `host must be an address to listen on, e.g. 127.0.0.1 (given "${host}")`);
  problems.wholeNumber('refreshIntervalMs', refreshIntervalMs, 100, 60_000, 'milliseconds');
  problems.wholeNumber('snapshotTimeoutMs', snapshotTimeoutMs, 100, 60_000, 'milliseconds');
  problems.throwIfAny((list) => new StatusPageOptionsError(list));

  const assets = await loadAssets(refreshIntervalMs);
  const snapshots = new SharedSnapshot(source, snapshotTimeoutMs);
  const loopbackOnly = isLoopback(host);

  const server = createServer((request, response) => {
    setCommonHeaders(response);
    if (loopbackOnly && !isLoopback(hostnameOf(request))) {
      // A loopback server can still be reached by a web page whose DNS name was rebound to 127.0.0.1;
      // such a request names that page's host, not a loopback one.
      sendText(response, 403, `this status page answers only to loopback names (given Host: ${request.headers.host ?? 'none'}); open http://127.0.0.1:${boundPort}/`);
      return;
    }
    if (request.method !== 'GET') {
      response.setHeader('Allow', 'GET');
      sendText(response, 405, `the status page only answers GET (given ${request.method})`);
      return;
    }
    const path = (request.url ?? '/').split('?')[0]!;
    if (path === '/status.json') {
      void sendSnapshot(snapshots, response);
      return;
    }
    const asset = Object.hasOwn(assets, path) ? assets[path as keyof typeof ASSETS] : undefined;
    if (asset === undefined) {
      sendText(response, 404, `no such page: ${path} (the status page is /, its data /status.json)`);
      return;
    }
    response.writeHead(200, { 'Content-Type': asset.type, 'Content-Length': asset.body.length });
    response.end(asset.body);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const boundPort = (server.address() as AddressInfo).port;

  let stopping: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}/`,
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // The page keeps its connection alive between polls: close it rather than wait for it.
        server.closeAllConnections();
      });
      return stopping;
    },
  };
}

async function loadAssets(refreshIntervalMs: number): Promise<Record<keyof typeof ASSETS, { readonly type: string; readonly body: Buffer }>> {
  const entries = await Promise.all(
    Object.entries(ASSETS).map(async ([path, { file, type }]) => {
      const text = await readFile(new URL(file, import.meta.url), 'utf8');
      // The interval is a validated whole number: nothing else from the caller reaches the HTML.
      return [path, { type, body: Buffer.from(text.replaceAll(REFRESH_PLACEHOLDER, String(refreshIntervalMs))) }] as const;
    }),
  );
  return Object.fromEntries(entries) as Record<keyof typeof ASSETS, { readonly type: string; readonly body: Buffer }>;
}

/**
 * One snapshot in flight at a time: several tabs, or a slow source, never multiply the calls the
 * sandbox makes to its stand-ins; requests that arrive meanwhile get the same answer.
 */
class SharedSnapshot {
  private inFlight: Promise<SandboxStatus> | undefined;

  constructor(
    private readonly source: SandboxStatusSource,
    private readonly timeoutMs: number,
  ) {}

  take(): Promise<SandboxStatus> {
    this.inFlight ??= this.withTimeout().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private withTimeout(): Promise<SandboxStatus> {
    return new Promise<SandboxStatus>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the sandbox took over ${this.timeoutMs} ms to report its status`)), this.timeoutMs);
      // A synchronous throw from snapshot() is a rejection like any other.
      Promise.resolve()
        .then(() => this.source.snapshot())
        .then(resolve, reject)
        .finally(() => clearTimeout(timer));
    });
  }
}

async function sendSnapshot(snapshots: SharedSnapshot, response: ServerResponse): Promise<void> {
  try {
    const status = await snapshots.take();
    sendJson(response, 200, status);
  } catch (error) {
    sendJson(response, 503, { error: `the sandbox's status could not be read: ${error instanceof Error ? error.message : String(error)}` });
  }
}

function setCommonHeaders(response: ServerResponse): void {
  response.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  response.setHeader('X-Content-Type-Options', 'nosniff');
  response.setHeader('Referrer-Policy', 'no-referrer');
  // Every answer is live state or a file that changes with the checkout: never serve a stale copy.
  response.setHeader('Cache-Control', 'no-store');
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = Buffer.from(JSON.stringify(body));
  response.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': text.length });
  response.end(text);
}

function sendText(response: ServerResponse, status: number, message: string): void {
  const text = Buffer.from(`${message}\n`);
  response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': text.length });
  response.end(text);
}

/** The Host header's name without the port (`[::1]:80` → `::1`). */
function hostnameOf(request: IncomingMessage): string {
  const header = request.headers.host ?? '';
  const bracketed = /^\[([^\]]+)\]/.exec(header);
  if (bracketed) return bracketed[1]!;
  return header.replace(/:\d*$/, '');
}

function isLoopback(name: string): boolean {
  const lower = name.toLowerCase();
  return lower === 'localhost' || lower.endsWith('.localhost') || lower === '::1' || /^127(\.\d{1,3}){3}$/.test(lower);
}
