#!/usr/bin/env -S node --import tsx
// The web app (systemd sluice-web.service): serves on APP_PORT behind the ALB, reports SLUICE_VERSION
// on HEALTH_CHECK_PATH, and stops gracefully on SIGTERM within the unit's 30 s TimeoutStopSec.
import { WebApp } from '../lib/runtime/app/web-app.ts';
import { jsonLogger } from '../lib/runtime/json-logger.ts';

const logger = jsonLogger({ component: 'web' });
const app = new WebApp({
  version: process.env.SLUICE_VERSION ?? 'unknown',
  port: Number(process.env.APP_PORT ?? process.env.PORT ?? 8080),
  healthPath: process.env.HEALTH_CHECK_PATH ?? '/health',
  logger,
});
await app.start();
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    // 25 s of the unit's 30: the ALB has already drained this target when a release stops it.
    void app.stop({ deadlineMs: 25_000 }).then(() => process.exit(0));
  });
}
