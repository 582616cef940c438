// A service's metrics carry its stage from SLUICE_STAGE; without it they go out as Stage `local`
// (never mixed into a deployed stage's numbers), and the process says so once.
import { describe, expect, it } from 'vitest';
import type { LogLevel } from '../../lib/runtime/json-logger.ts';
import { serviceMetrics } from '../../lib/runtime/service-metrics.ts';
import { emfDocuments } from '../helpers/emf.ts';

function recordingLogger() {
  const entries: { level: LogLevel; event: string; fields: Record<string, unknown> }[] = [];
  return { entries, log: (level: LogLevel, event: string, fields: Record<string, unknown> = {}) => void entries.push({ level, event, fields }) };
}

describe('serviceMetrics', () => {
  it('publishes in the sluice namespace with Stage from SLUICE_STAGE and the service', () => {
    const lines: string[] = [];
    const logger = recordingLogger();
    const metrics = serviceMetrics({ service: 'worker', env: { SLUICE_STAGE: 'prod' }, logger, write: (line) => lines.push(line) });
    metrics.count({ dimensionSets: [['Stage', 'Service']] }, 'JobsProcessed');
    metrics.flush();
    const [document] = emfDocuments(lines);
    expect(document).toMatchObject({ Stage: 'prod', Service: 'worker', component: 'worker', JobsProcessed: 1, _aws: { CloudWatchMetrics: [{ Namespace: 'sluice' }] } });
    expect(logger.entries).toEqual([]);
  });

  it('without SLUICE_STAGE uses Stage "local" and logs that once', () => {
    const lines: string[] = [];
    const logger = recordingLogger();
    const metrics = serviceMetrics({ service: 'web', env: {}, logger, write: (line) => lines.push(line) });
    for (let n = 0; n < 3; n += 1) metrics.count({ dimensionSets: [['Stage', 'Service']] }, 'JobsAccepted');
    metrics.flush();
    expect(emfDocuments(lines).map((document) => [document.Stage, document.JobsAccepted])).toEqual([['local', 3]]);
    expect(logger.entries).toEqual([{ level: 'warn', event: 'metrics.stage_missing', fields: { reason: 'SLUICE_STAGE is not set: metrics are published with Stage "local"', service: 'web' } }]);
  });

  it('refuses a SLUICE_STAGE that is no stage name, saying where it comes from', () => {
    expect(() => serviceMetrics({ service: 'web', env: { SLUICE_STAGE: 'Prod' }, logger: recordingLogger() })).toThrow(
      'SLUICE_STAGE must be a stage name: 1 to 20 lower-case letters, digits or "-", starting with a letter (given "Prod"); the stack writes it, so check /etc/sluice/env or the function\'s environment',
    );
  });
});
