// The tests' HAProxy: the sandbox's (lib/runtime/sandbox/haproxy.ts), and whether the tests may run.
import { haproxyBinary } from '../../lib/runtime/sandbox/haproxy.ts';

export * from '../../lib/runtime/sandbox/haproxy.ts';
export { freePort } from '../../lib/runtime/sandbox/free-port.ts';

/**
 * For `describe.skipIf(!requireHaproxy())`: true when HAProxy is installed. In CI a missing HAProxy
 * fails the run (the tests must not silently skip there); elsewhere the tests skip with a hint.
 */
export function requireHaproxy(): boolean {
  if (haproxyBinary() !== undefined) return true;
  if (process.env.CI === 'true') {
    throw new Error("haproxy is not installed, and CI must run the HAProxy tests: .ci/run must install Debian's haproxy package (apt-get install -y haproxy) before npm test");
  }
  console.warn('skipping the HAProxy tests: haproxy is not installed (sudo apt-get install haproxy)');
  return false;
}
