// What HAProxy accepts as a backend or server name. Names are checked before they reach the runtime
// API's socket, where a `;` or a newline would start another command; the CLI checks --backend
// against the same rule, so a bad name is refused before anything is touched.
import { BadInputError } from '../errors.ts';

export const HAPROXY_NAME_PATTERN = /^[A-Za-z0-9_.:-]+$/;

/** The allowed characters, as problems and errors spell them. */
export const HAPROXY_NAME_CHARACTERS = 'letters, digits, "_", ".", ":", "-"';

export function isHaproxyName(name: string): boolean {
  return HAPROXY_NAME_PATTERN.test(name);
}

export function assertHaproxyName(kind: 'backend' | 'frontend' | 'server', name: string): void {
  if (!isHaproxyName(name)) throw new BadInputError(`${kind} "${name}" is not an HAProxy ${kind} name (${HAPROXY_NAME_CHARACTERS})`);
}
