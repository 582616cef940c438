import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The SQL scripts of a migrations folder, by name: what the migration custom resource bundles and runs. */
export function migrationScriptNames(directory: string): string[] {
  if (!existsSync(directory)) return [];
  return readdirSync(directory, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.sql'))
    .map((entry) => entry.name)
    .sort();
}

/**
 * One sha256 over the folder's scripts — each file's name and contents, in name order, each
 * length-prefixed so that no two different sets hash alike. A property of the migration custom
 * resource: any added, renamed or edited script changes it, and CloudFormation then updates the
 * resource, which runs the migrations. An empty or missing folder has a hash too (of nothing).
 */
export function migrationScriptsHash(directory: string): string {
  const hash = createHash('sha256');
  for (const name of migrationScriptNames(directory)) {
    const contents = readFileSync(join(directory, name));
    hash.update(`${Buffer.byteLength(name)}:${name}\n${contents.length}:`);
    hash.update(contents);
    hash.update('\n');
  }
  return hash.digest('hex');
}
