/**
 * `teller/stores/url`: a store opened from a URL, for tools and apps configured by one string (the demo's
 * `TELLER_STORE`, the CLI's `--store`). The store module's client is loaded here, as an optional peer
 * dependency, and the message says which package to install when it is missing.
 *
 * - `sqlite:<file>`, `file:<file>` or a plain path: the SQLite store (better-sqlite3), file created when missing;
 * - `redis://…` / `rediss://…`: the Redis store on a node-redis client (`redis`), or ioredis when only that is
 *   installed; `?prefix=` sets the key prefix;
 * - `postgres://…` / `postgresql://…`: the PostgreSQL store on a `pg` Pool, the table created when missing;
 *   `?table=` names it (other parameters go to `pg`);
 * - `memory:`: the memory store (one process, gone when it exits).
 *
 * Every failure (a URL of no known kind, a missing package, a server that does not answer within
 * `connectTimeout`) is a {@link StoreUrlError} whose one-line message names the URL with its password masked.
 */

import { createRequire } from 'node:module';
import type { SessionStore } from '../session/store.js';
import { tellerMessage } from '../util.js';
import { createMemoryStore } from './memory.js';
import { createPostgresStore, type PostgresPool } from './postgres.js';
import { createRedisStore, type RedisClientLike } from './redis.js';
import { createSqliteStore } from './sqlite.js';

/** The name used in this module's error messages. */
export const STORE_URL_NAME = 'store-url';

/** Why a store could not be opened from its URL; `message` is one line, safe to print. */
export class StoreUrlError extends Error {
  override name = 'StoreUrlError';
}

export type StoreKind = 'sqlite' | 'redis' | 'postgres' | 'memory';

export interface OpenedStore {
  /** What `url` named. */
  kind: StoreKind;
  store: SessionStore;
  /** The URL with its password masked, for logs and messages. */
  label: string;
  /** Closes the store and the client this module opened. */
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  /** How long (ms) to wait for a Redis or PostgreSQL server to answer before giving up. @default 5_000 */
  connectTimeout?: number;
}

/** `url` with any password replaced by `***`. */
export function maskStoreUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.href;
  } catch {
    return url;
  }
}

/** The kind of store a URL names, or undefined. */
export function storeKindOf(url: string): StoreKind | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined || /^[a-z]$/i.test(scheme)) return 'sqlite'; // a path (or a Windows drive letter)
  if (scheme === 'sqlite' || scheme === 'file') return 'sqlite';
  if (scheme === 'redis' || scheme === 'rediss') return 'redis';
  if (scheme === 'postgres' || scheme === 'postgresql') return 'postgres';
  if (scheme === 'memory') return 'memory';
  return undefined;
}

const fail = (label: string, what: string, cause?: unknown): never => {
  throw new StoreUrlError(tellerMessage(STORE_URL_NAME, `${label}: ${what}`), { cause });
};

const reason = (error: unknown) =>
  (error instanceof Error && (error.message || (error as { code?: string }).code)) ||
  String(error) ||
  'unknown error';

function load(label: string, name: string): unknown {
  try {
    return createRequire(import.meta.url)(name);
  } catch (error) {
    return fail(label, `install ${name} to use this store: npm install ${name}`, error);
  }
}

function within<T>(promise: Promise<T>, ms: number, label: string, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout])
    .catch((error: unknown) => fail(label, `${what}: ${reason(error)}`, error))
    .finally(() => clearTimeout(timer));
}

/** The file a SQLite store URL (`sqlite:<file>`, `file:<file>`, `sqlite:///abs`, or a path) names. */
export function sqlitePath(url: string): string {
  const match = /^(?:sqlite|file):(.*)$/is.exec(url);
  if (!match) return url;
  const rest = match[1] ?? '';
  // sqlite:///abs/path and file:///abs/path are URLs; sqlite:relative/path is a path.
  return rest.startsWith('//') ? decodeURIComponent(new URL(`file:${rest}`).pathname) : rest;
}

/**
 * Opens the store a URL names, connecting its client and checking that the server answers.
 *
 * @example
 * const { store, close } = await openStore(process.env.TELLER_STORE ?? 'sqlite:.data/teller.db');
 */
export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<OpenedStore> {
  if (typeof url !== 'string' || url.trim() === '')
    throw new StoreUrlError(tellerMessage(STORE_URL_NAME, 'the store URL is empty'));
  const { connectTimeout = 5_000 } = options;
  const label = maskStoreUrl(url);
  const kind = storeKindOf(url);
  switch (kind) {
    case 'memory': {
      const store = createMemoryStore();
      return { kind, store, label, close: async () => store.close() };
    }
    case 'sqlite': {
      const filename = sqlitePath(url);
      if (filename === '') fail(label, 'no file name (write sqlite:path/to/file.db)');
      try {
        const store = createSqliteStore({ filename });
        return { kind, store, label, close: async () => store.close() };
      } catch (error) {
        return fail(label, `cannot open the SQLite file: ${reason(error)}`, error);
      }
    }
    case 'redis':
      return openRedis(url, label, connectTimeout);
    case 'postgres':
      return openPostgres(url, label, connectTimeout);
    default:
      return fail(label, 'not a store URL (use sqlite:<file>, redis://…, postgres://… or memory:)');
  }
}

/** A connected Redis client and how to let it go: `quit` politely, `stop` at once. */
interface RedisConnection {
  client: RedisClientLike;
  quit(): Promise<unknown>;
  stop(): void;
}

async function openRedis(url: string, label: string, connectTimeout: number): Promise<OpenedStore> {
  const parsed = new URL(url);
  const prefix = parsed.searchParams.get('prefix') ?? undefined;
  parsed.searchParams.delete('prefix');
  let hasNodeRedis = true;
  try {
    createRequire(import.meta.url).resolve('redis');
  } catch {
    hasNodeRedis = false;
  }
  const connect = hasNodeRedis ? connectNodeRedis : connectIoRedis;
  const { client, quit, stop } = await connect(parsed.href, label, connectTimeout);
  const store = createRedisStore({ client, ...(prefix === undefined ? {} : { prefix }) });
  return {
    kind: 'redis',
    store,
    label,
    close: async () => {
      await store.close();
      await quit().catch(() => stop());
    },
  };
}

async function connectNodeRedis(
  url: string,
  label: string,
  connectTimeout: number,
): Promise<RedisConnection> {
  const { createClient } = load(label, 'redis') as {
    createClient(options: object): RedisClientLike & {
      connect(): Promise<unknown>;
      on(event: 'error', listener: (error: unknown) => void): unknown;
      destroy?(): void;
      disconnect?(): Promise<void>;
      quit?(): Promise<unknown>;
    };
  };
  const client = createClient({
    url,
    disableOfflineQueue: true,
    socket: { connectTimeout, reconnectStrategy: (retries: number) => Math.min(retries * 100, 2_000) },
  });
  let firstError: unknown;
  client.on('error', (error: unknown) => {
    firstError ??= error;
  });
  const stop = () => (client.destroy ? client.destroy() : void client.disconnect?.().catch(() => {}));
  try {
    await within(client.connect(), connectTimeout, label, 'cannot connect to Redis');
  } catch (error) {
    stop();
    throw firstError
      ? new StoreUrlError(
          tellerMessage(STORE_URL_NAME, `${label}: cannot connect to Redis: ${reason(firstError)}`),
          { cause: firstError },
        )
      : error;
  }
  return { client, quit: () => Promise.resolve(client.quit?.()), stop };
}

async function connectIoRedis(url: string, label: string, connectTimeout: number): Promise<RedisConnection> {
  const IoRedis = load(label, 'ioredis') as {
    default?: unknown;
  } & (new (
    url: string,
    options: object,
  ) => RedisClientLike & {
    connect(): Promise<unknown>;
    on(event: 'error', listener: (error: unknown) => void): unknown;
    quit(): Promise<unknown>;
    disconnect(): void;
  });
  const Client = (IoRedis.default ?? IoRedis) as typeof IoRedis;
  const client = new Client(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    connectTimeout,
    maxRetriesPerRequest: 0,
  });
  client.on('error', () => {});
  try {
    await within(client.connect(), connectTimeout, label, 'cannot connect to Redis');
  } catch (error) {
    client.disconnect();
    throw error;
  }
  return { client, quit: () => client.quit(), stop: () => client.disconnect() };
}

async function openPostgres(url: string, label: string, connectTimeout: number): Promise<OpenedStore> {
  const parsed = new URL(url);
  const table = parsed.searchParams.get('table') ?? undefined;
  parsed.searchParams.delete('table');
  const pg = load(label, 'pg') as { default?: { Pool: unknown }; Pool?: unknown };
  const Pool = (pg.Pool ?? pg.default?.Pool) as new (
    options: object,
  ) => PostgresPool & { end(): Promise<void>; on(event: 'error', listener: () => void): unknown };
  const pool = new Pool({ connectionString: parsed.href, connectionTimeoutMillis: connectTimeout });
  pool.on('error', () => {}); // an idle client's error (the server restarting) must not crash the process
  let store: ReturnType<typeof createPostgresStore>;
  try {
    store = createPostgresStore({ pool, ...(table === undefined ? {} : { table }) });
    await within(store.migrate(), connectTimeout, label, 'cannot use PostgreSQL');
  } catch (error) {
    await pool.end().catch(() => {});
    if (error instanceof StoreUrlError) throw error;
    return fail(label, reason(error), error);
  }
  return {
    kind: 'postgres',
    store,
    label,
    close: async () => {
      await store.close();
      await pool.end();
    },
  };
}
