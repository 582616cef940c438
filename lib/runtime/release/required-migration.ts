import { readdir } from 'node:fs/promises';

/** A migration script's name: `<number>_<name>.sql`, such as `0000_baseline.sql` or `0001_add_jobs.sql`. */
const SCRIPT_NAME = /^(\d+)_[^/]*\.sql$/;

/**
 * The highest migration number among the scripts of `directory`: the schema the code built with
 * them needs. 0 when the folder is empty or missing (the baseline `0000_…` alone is 0 too, which
 * every migrated database has). Other files are ignored; the migration runner refuses badly named
 * scripts when it runs them.
 */
export async function requiredMigration(directory: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  return names.reduce((highest, name) => {
    const match = SCRIPT_NAME.exec(name);
    return match ? Math.max(highest, Number(match[1])) : highest;
  }, 0);
}
