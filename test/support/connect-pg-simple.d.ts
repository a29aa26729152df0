/** connect-pg-simple 10 ships no types: the part the express bridge tests use. */
declare module 'connect-pg-simple' {
  import type { Store } from 'express-session';
  import type { Pool } from 'pg';

  interface PgStoreOptions {
    pool?: Pool;
    tableName?: string;
    schemaName?: string;
    createTableIfMissing?: boolean;
    pruneSessionInterval?: number | false;
  }
  export default function connectPgSimple(session: unknown): new (options?: PgStoreOptions) => Store;
}
