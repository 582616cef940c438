// Whether tests that need a program of the machine (HAProxy, PostgreSQL, chromium) may run: for
// `describe.skipIf(!requireX())`. In CI a missing program fails the run (the tests must not silently
// skip there, so .ci/run must install its Debian package); elsewhere they skip with the install hint.

export interface RequiredProgram {
  /** As people name it, e.g. `PostgreSQL`. */
  readonly name: string;
  readonly installed: boolean;
  /** Where it was looked for, when that helps (e.g. `at /usr/bin/chromium`). */
  readonly where?: string;
  /** The Debian package that provides it. */
  readonly debianPackage: string;
  /** Which tests need it, e.g. `the database tests`. */
  readonly tests: string;
}

export function requireInstalled(program: RequiredProgram): boolean {
  if (program.installed) return true;
  const missing = `${program.name} is not installed${program.where ? ` ${program.where}` : ''}`;
  if (process.env.CI === 'true') {
    throw new Error(`${missing}, and CI must run ${program.tests}: .ci/run must install Debian's ${program.debianPackage} package (apt-get install -y ${program.debianPackage}) before npm test`);
  }
  console.warn(`skipping ${program.tests}: ${missing} (sudo apt-get install -y ${program.debianPackage})`);
  return false;
}
