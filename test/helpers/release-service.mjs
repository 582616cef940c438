// The service the local release tests put behind HAProxy: one version of a web app.
//
//   PORT=18081 SLUICE_VERSION=v2 node release-service.mjs     (cwd: the version's directory)
//
// release.json in the working directory says whether this version is good: { "healthy": true }. A bad
// version ({ "healthy": false }) starts and serves, but its health check never passes.
//
//   GET /health       200 {"status":"ok","version":"v2"}; 503 {"status":"unhealthy"|"stopping",...}
//   GET /anything     200 "hello from v2", after ?delay=<ms> (for requests in flight during a stop)
//
// SIGTERM (or SIGINT) stops it gracefully: health turns 503 at once, no new connections are accepted,
// idle keep-alive connections are closed, requests in flight finish (with `Connection: close`), then
// it exits 0. It logs `<ISO time> started|stopping|stopped version=… port=… pid=…` to stdout.
// Plain JavaScript so that it starts in tens of milliseconds, with no TypeScript loader.

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const port = Number(process.env.PORT);
const version = process.env.SLUICE_VERSION ?? 'unknown';
if (!Number.isInteger(port) || port < 1 || port > 65_535) {
  console.error(`release-service: PORT must be a port number (given ${JSON.stringify(process.env.PORT)})`);
  process.exit(2);
}

function log(event, detail = '') {
  console.log(`${new Date().toISOString()} ${event} version=${version} port=${port} pid=${process.pid}${detail ? ` ${detail}` : ''}`);
}

/** A missing release.json means a good version: only a bad one needs to say so. */
function readHealthy() {
  try {
    return JSON.parse(readFileSync('release.json', 'utf8')).healthy !== false;
  } catch (error) {
    if (error.code === 'ENOENT') return true;
    log('bad-release-json', JSON.stringify(String(error.message)));
    return false;
  }
}

const healthy = readHealthy();
let stopping = false;

const server = createServer((request, response) => {
  // Every response finished while stopping closes its connection, so that clients reconnect elsewhere.
  if (stopping) response.setHeader('Connection', 'close');
  const url = new URL(request.url ?? '/', 'http://localhost');
  if (url.pathname === '/health') {
    const status = stopping ? 'stopping' : healthy ? 'ok' : 'unhealthy';
    response.writeHead(status === 'ok' ? 200 : 503, { 'Content-Type': 'application/json' });
    response.end(JSON.stringify({ status, version }));
    return;
  }
  const delayMs = Math.max(0, Math.min(Number(url.searchParams.get('delay')) || 0, 60_000));
  setTimeout(() => {
    if (stopping) response.setHeader('Connection', 'close');
    response.writeHead(200, { 'Content-Type': 'text/plain' });
    response.end(`hello from ${version}`);
  }, delayMs);
});

function stop(signal) {
  if (stopping) return;
  stopping = true;
  log('stopping', `signal=${signal}`);
  // close() stops accepting connections and calls back once the open ones have ended.
  server.close(() => {
    log('stopped');
    process.exit(0);
  });
  server.closeIdleConnections();
}

process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

server.listen(port, '127.0.0.1', () => log('started', healthy ? '' : 'healthy=false'));
