// dynalite ships no types; this is the part of its API the test helpers use. (Not `dynalite.d.ts`:
// TypeScript ignores a .d.ts that sits beside a .ts of the same name.)
declare module 'dynalite' {
  import type { Server } from 'node:http';

  interface DynaliteOptions {
    /** How long a new table stays CREATING. @default 500 */
    readonly createTableMs?: number;
    /** How long a deleted table stays DELETING. @default 500 */
    readonly deleteTableMs?: number;
    /** How long an updated table stays UPDATING. @default 500 */
    readonly updateTableMs?: number;
    /** Where LevelDB keeps the data. @default - in memory */
    readonly path?: string;
  }

  function dynalite(options?: DynaliteOptions): Server;
  export = dynalite;
}
