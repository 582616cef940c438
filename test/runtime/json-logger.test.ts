import { describe, expect, it } from 'vitest';
import { HandlerTimeoutError } from '../../lib/runtime/queue/errors.ts';
import { jsonLogger } from '../../lib/runtime/json-logger.ts';

describe('jsonLogger', () => {
  it('writes one JSON object per line at or above its level, with errors kept readable', () => {
    const lines: string[] = [];
    const logger = jsonLogger({ component: 'queue-processor', level: 'info', write: (line) => lines.push(line), now: () => Date.UTC(2026, 0, 2, 3, 4, 5) });

    logger.log('debug', 'visibility_extended', { messageIds: ['a'] });
    logger.log('warn', 'message_failed', { messageId: 'a', error: new HandlerTimeoutError('a', 100) });

    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({
      time: '2026-01-02T03:04:05.000Z',
      level: 'warn',
      component: 'queue-processor',
      event: 'message_failed',
      messageId: 'a',
      error: { name: 'HandlerTimeoutError', message: 'handler for message a did not finish within 100 ms; the message will be retried', reasonCode: 'HandlerTimeout' },
    });
  });
});
