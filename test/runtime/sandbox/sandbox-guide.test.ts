import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { shellWord } from '../../../lib/runtime/sandbox/sandbox-guide.ts';
import { nextVersionName } from '../../../lib/runtime/sandbox/sandbox-release.ts';

describe('the printed commands', () => {
  it('quote every word so that bash reads back exactly the value', () => {
    const values = ['plain', '/tmp/sluice-haproxy-Ab3/admin.sock', 'http://127.0.0.1:4000', `{"type":"send-invoice","invoice":42}`, "it's", 'a b', '$HOME', '`date`', 'x;y', 'ünïcode', ''];
    const script = values.map((value) => `printf '%s\\0' ${shellWord(value)}`).join('\n');
    const read = execFileSync('bash', ['-c', script], { encoding: 'utf8' }).split('\0').slice(0, -1);
    expect(read).toEqual(values);
    expect(shellWord('/tmp/sandbox/targets.json')).toBe('/tmp/sandbox/targets.json');
  });

  it('suggest the next version after the sandbox\'s', () => {
    expect(nextVersionName('v1')).toBe('v2');
    expect(nextVersionName('build-9')).toBe('build-10');
    expect(nextVersionName('release')).toBe('release-2');
  });
});
