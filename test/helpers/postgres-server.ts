// The tests' PostgreSQL: the sandbox's (lib/runtime/sandbox/postgres-server.ts), and whether the tests may run.
import { postgresBinDirectory } from '../../lib/runtime/sandbox/postgres-server.ts';

export * from '../../lib/runtime/sandbox/postgres-server.ts';

/**
 * For `describe.skipIf(!requirePostgres())`: true when PostgreSQL is installed. In CI a missing
 * PostgreSQL fails the run (the tests must not silently skip there); elsewhere they skip with a hint.
 */
export function requirePostgres(): boolean {
  if (postgresBinDirectory() !== undefined) return true;
  if (process.env.CI === 'true') {
    throw new Error("PostgreSQL is not installed, and CI must run the database tests: .ci/run must install Debian's postgresql package (apt-get install -y postgresql) before npm test");
  }
  console.warn('skipping the PostgreSQL tests: PostgreSQL is not installed (sudo apt-get install postgresql)');
  return false;
}
