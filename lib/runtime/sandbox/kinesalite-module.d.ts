// kinesalite ships no types; this is the part of its API the test helpers use. (Not `kinesalite.d.ts`:
// TypeScript ignores a .d.ts that sits beside a .ts of the same name.)
declare module 'kinesalite' {
  import type { Server } from 'node:http';

  interface KinesaliteOptions {
    /** How long a new stream stays CREATING. @default 500 */
    readonly createStreamMs?: number;
    /** How long a deleted stream stays DELETING. @default 500 */
    readonly deleteStreamMs?: number;
    /** How long a resharded stream stays UPDATING. @default 500 */
    readonly updateStreamMs?: number;
    /** Open shards allowed across all streams. @default 10 */
    readonly shardLimit?: number;
    /** Where LevelDB keeps the data. @default - in memory */
    readonly path?: string;
  }

  function kinesalite(options?: KinesaliteOptions): Server;
  export = kinesalite;
}
