// The folder against the journal: which scripts are applied, which are pending, and every reason
// to run nothing at all — an applied script edited, renamed or deleted, or a new script numbered
// below one already applied. Pure: the same answer for `status`, `plan`, `up` and `baseline`.
import { formatMigrationNumber } from '../schema-journal.ts';
import type { MigrationFolder, MigrationScript } from './migration-folder.ts';
import type { JournalEntry } from './migration-journal.ts';

export interface MigrationCheck {
  /** Applied scripts with their journal entries, by version. */
  readonly applied: readonly { readonly script: MigrationScript | undefined; readonly entry: JournalEntry }[];
  /** Scripts not in the journal, in the order they would run. */
  readonly pending: readonly MigrationScript[];
  /** The folder's own problems and the journal's; anything here means nothing may run. */
  readonly problems: readonly string[];
  /** The highest applied version; undefined for a database without a journal (or an empty one). */
  readonly appliedVersion: number | undefined;
}

/**
 * `baselineUpTo`: scripts up to this number that the journal lacks are about to be marked applied
 * (`baseline`), so their being below an applied one is not a problem.
 */
export function checkMigrations(folder: MigrationFolder, journal: readonly JournalEntry[], directoryLabel = folder.directory, baselineUpTo = -1): MigrationCheck {
  const problems = [...folder.problems];
  const byVersion = new Map<number, MigrationScript[]>();
  for (const script of folder.scripts) byVersion.set(script.version, [...(byVersion.get(script.version) ?? []), script]);
  const highestScript = folder.scripts.at(-1)?.version ?? -1;
  const appliedVersion = journal.at(-1)?.version;
  const nextFree = formatMigrationNumber(Math.max(highestScript, appliedVersion ?? -1) + 1);

  const applied: { script: MigrationScript | undefined; entry: JournalEntry }[] = [];
  for (const entry of journal) {
    const same = byVersion.get(entry.version) ?? [];
    const script = same.length === 1 ? same[0] : undefined;
    applied.push({ script, entry });
    const when = entry.appliedAt.toISOString();
    if (same.length === 0) {
      problems.push(`the journal records ${entry.name} (applied ${when}) but ${directoryLabel} has no script ${formatMigrationNumber(entry.version)}: a committed script was deleted or renamed; restore ${entry.name} unchanged`);
    } else if (script && script.fileName !== entry.name) {
      problems.push(
        `${script.fileName} has the number of ${entry.name}, which was applied ${when}: a committed script was renamed or renumbered; restore ${entry.name} unchanged and number the new script ${nextFree}`,
      );
    } else if (script && script.checksum !== entry.checksum) {
      problems.push(
        `${script.fileName} was changed after it was applied ${when} (sha256 ${entry.checksum.slice(0, 12)}… applied, ${script.checksum.slice(0, 12)}… now): `
          + `never edit a committed script; restore it as it was (git log -p -- ${script.fileName}) and put the change in a new script, ${nextFree}_<name>.sql`,
      );
    }
  }

  const recorded = new Set(journal.map((entry) => entry.version));
  const pending = folder.scripts.filter((script) => !recorded.has(script.version));
  const highestApplied = journal.at(-1);
  for (const script of pending) {
    if (highestApplied && script.version < highestApplied.version && script.version > baselineUpTo) {
      problems.push(`${script.fileName} is new but numbered below ${highestApplied.name}, which is already applied: renumber it to ${nextFree}, after every applied script`);
    }
  }
  return { applied, pending, problems, appliedVersion };
}
