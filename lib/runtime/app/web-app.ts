import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../json-logger.ts';

export interface WebAppOptions {
  /** The release this process runs; `/health` reports it and the release verifies it. */
  readonly version: string;
  /** @default 8080 (0 picks a free port) */
  readonly port?: number;
  /** @default '127.0.0.1' on tests' request; '0.0.0.0' behind the ALB */
  readonly host?: string;
  /** @default '/health' */
  readonly healthPath?: string;
  readonly logger: Logger;
}

/**
 * The web app behind the ALB, reduced to what the platform relies on: a health check that reports
 * the version and turns 503 the moment the process starts stopping, and a graceful stop that
 * finishes the requests in flight. The app's own routes go in `route`.
 */
export class WebApp {
  private readonly options: WebAppOptions;
  private readonly server: Server;
  private stopping?: Promise<void>;

  constructor(options: WebAppOptions) {
    this.options = options;
    this.server = createServer((request, response) => this.handle(request, response));
    // Longer than the ALB's idle timeout (60 s), so the ALB, not the app, closes idle connections.
    this.server.keepAliveTimeout = 65_000;
  }

  /** Resolves with the port once listening. */
  async start(): Promise<number> {
    const { port = 8080, host = '0.0.0.0' } = this.options;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    const { port: bound } = this.server.address() as AddressInfo;
    this.options.logger.log('info', 'web.started', { version: this.options.version, port: bound });
    return bound;
  }

  /**
   * Health turns 503, new connections are refused, idle ones closed; requests in flight finish
   * until `deadlineMs`, then their connections are closed. Safe to call twice.
   */
  stop({ deadlineMs = 25_000 }: { deadlineMs?: number } = {}): Promise<void> {
    this.stopping ??= new Promise<void>((resolve) => {
      this.options.logger.log('info', 'web.stopping', { version: this.options.version, deadlineMs });
      const deadline = setTimeout(() => this.server.closeAllConnections(), deadlineMs);
      deadline.unref();
      this.server.close(() => {
        clearTimeout(deadline);
        this.options.logger.log('info', 'web.stopped', { version: this.options.version });
        resolve();
      });
      this.server.closeIdleConnections();
    });
    return this.stopping;
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    // Every response sent while stopping closes its connection, so the client reconnects elsewhere.
    if (this.stopping) response.setHeader('Connection', 'close');
    const path = (request.url ?? '/').split('?')[0];
    if (path === (this.options.healthPath ?? '/health')) {
      const status = this.stopping ? 'stopping' : 'ok';
      this.json(response, this.stopping ? 503 : 200, { status, version: this.options.version });
      return;
    }
    this.route(request, response, path);
  }

  /** The app's own routes; replace with yours. */
  protected route(_request: IncomingMessage, response: ServerResponse, path: string): void {
    if (path === '/') this.json(response, 200, { service: 'sluice', version: this.options.version });
    else this.json(response, 404, { error: `no route ${path}` });
  }

  private json(response: ServerResponse, status: number, body: unknown): void {
    response.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
    response.end(JSON.stringify(body));
  }
}
