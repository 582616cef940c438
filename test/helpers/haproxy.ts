// The tests' HAProxy: the sandbox's (lib/runtime/sandbox/haproxy.ts), and whether the tests may run.
import { haproxyBinary } from '../../lib/runtime/sandbox/haproxy.ts';
import { requireInstalled } from './require-installed.ts';

export * from '../../lib/runtime/sandbox/haproxy.ts';
export { freePort } from '../../lib/runtime/sandbox/free-port.ts';

/** For `describe.skipIf(!requireHaproxy())`: see require-installed.ts. */
export function requireHaproxy(): boolean {
  return requireInstalled({ name: 'haproxy', installed: haproxyBinary() !== undefined, debianPackage: 'haproxy', tests: 'the HAProxy tests' });
}
