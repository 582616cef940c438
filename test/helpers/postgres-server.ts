// The tests' PostgreSQL: the sandbox's (lib/runtime/sandbox/postgres-server.ts), and whether the tests may run.
import { postgresBinDirectory } from '../../lib/runtime/sandbox/postgres-server.ts';
import { requireInstalled } from './require-installed.ts';

export * from '../../lib/runtime/sandbox/postgres-server.ts';

/** For `describe.skipIf(!requirePostgres())`: see require-installed.ts. */
export function requirePostgres(): boolean {
  return requireInstalled({ name: 'PostgreSQL', installed: postgresBinDirectory() !== undefined, debianPackage: 'postgresql', tests: 'the database tests' });
}
