/**
 * `teller/stores/redis`: sessions in Redis through a client you pass in, node-redis (`redis` 5) or ioredis 5.
 *
 * Each record is a hash under `<prefix>s:<key>`: `v` (its version, what compare-and-set checks), `u` (its
 * userId, when it has one) and `r` (the whole record as JSON, so fields this version does not know round-trip).
 * Compare-and-set is one Lua script on that key (loaded once with SCRIPT LOAD, run by EVALSHA, loaded again
 * after a `NOSCRIPT`): it checks the stored version, writes, and sets the physical expiry with PEXPIRE from
 * `ttlMs`. Redis drops the record itself: no `purgeExpired`, no cleanup timer.
 *
 * The user index is a sorted set per user, `<prefix>u:<userId>`: member = the session's key, score = the
 * record's physical expiry (epoch ms by this process's clock). It is updated after the compare-and-set, in its
 * own command (ZADD, and ZREM from the old user's set when a record's user changed): in a cluster the session
 * key and the index live in different slots, so one script over both would fail with CROSSSLOT. It is pruned as
 * it is read and reconciled when listed: members whose record is gone or belongs to another user are removed.
 *
 * The client must fail a command at once while Redis is down, never queue it and replay it after a reconnect
 * (a request answered 503 must never land its write later): the store refuses a node-redis client without
 * `disableOfflineQueue: true`, and an ioredis client without `enableOfflineQueue: false` and
 * `autoResendUnfulfilledCommands: false`. It adds an `'error'` listener to the client (removed by `close()`),
 * so the client's error events never crash the process; your own listeners stay.
 */

import { SessionStoreError, tellerMessage } from '../session/errors.js';
import { assertSetArguments, type SessionRecord, type SessionStore } from '../session/store.js';

/** The name used in this store's error messages. */
export const REDIS_STORE_NAME = 'redis-store';

/** The `'error'` listener part of a client (both are EventEmitters). */
interface ErrorEvents {
  on(event: 'error', listener: (error: unknown) => void): unknown;
  off(event: 'error', listener: (error: unknown) => void): unknown;
}

/** The part of a node-redis (`redis` 5) client the store uses: `createClient({ disableOfflineQueue: true })`. */
export interface NodeRedisClientLike extends ErrorEvents {
  sendCommand(args: string[]): Promise<unknown>;
  readonly options?: { readonly disableOfflineQueue?: boolean | undefined } | undefined;
}

/** The part of an ioredis 5 client the store uses: `new Redis({ enableOfflineQueue: false, ... })`. */
export interface IoRedisClientLike extends ErrorEvents {
  call(command: string, ...args: string[]): Promise<unknown>;
  readonly options: {
    readonly enableOfflineQueue?: boolean | undefined;
    readonly autoResendUnfulfilledCommands?: boolean | undefined;
    readonly keyPrefix?: string | undefined;
  };
}

export type RedisClientLike = NodeRedisClientLike | IoRedisClientLike;

export interface RedisStoreOptions {
  /**
   * A connected client you manage (the store never connects, quits or reconfigures it): node-redis created with
   * `disableOfflineQueue: true`, or ioredis created with `enableOfflineQueue: false` and
   * `autoResendUnfulfilledCommands: false`.
   */
  client: RedisClientLike;
  /**
   * The start of every key the store writes: `<prefix>s:<key>` for a record, `<prefix>u:<userId>` for the index.
   * @default 'teller:'
   */
  prefix?: string;
}

/** The Redis store: the contract with the user index and `count`; Redis expires records itself. */
export interface RedisStore extends Required<Omit<SessionStore, 'purgeExpired'>> {}

/**
 * How far (ms) an index entry's score may lie in the past before a read prunes it: scores come from the clocks
 * of the processes that wrote them, which may differ a little. Entries in that margin are reconciled instead.
 */
const CLOCK_SKEW_MS = 60_000;

/**
 * Compare-and-set. KEYS[1] the record; ARGV: expected version ('' = only when absent), version, record JSON,
 * has a user ('1'/'0'), userId, ttl ms. Returns {1, the previous userId or nil} on a write, {0} on a conflict.
 */
const SET_SCRIPT = `
local current = redis.call('HGET', KEYS[1], 'v')
if ARGV[1] == '' then
  if current then return {0} end
elseif current ~= ARGV[1] then
  return {0}
end
local previous = redis.call('HGET', KEYS[1], 'u')
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[1], 'v', ARGV[2], 'r', ARGV[3], 'u', ARGV[5])
else
  redis.call('HDEL', KEYS[1], 'u')
  redis.call('HSET', KEYS[1], 'v', ARGV[2], 'r', ARGV[3])
end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return {1, previous}
`;

/** Deletes KEYS[1] only while it belongs to user ARGV[1]; returns 1 when deleted. */
const DELETE_IF_USER_SCRIPT = `
if redis.call('HGET', KEYS[1], 'u') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * Adds to a user's index. KEYS[1] the index; ARGV: member, score (expiry), prune before. Prunes, adds, and keeps
 * the index itself until its last member's expiry (plus the skew margin).
 */
const INDEX_ADD_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], math.ceil(tonumber(last[2])) + ${CLOCK_SKEW_MS})
return 1
`;

/** Reads a user's index: prunes the entries scored before ARGV[1], returns the members. */
const INDEX_READ_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)
`;

interface Script {
  source: string;
  /** The SHA from SCRIPT LOAD, once loaded. */
  sha?: Promise<string> | undefined;
}

const isNoScript = (error: unknown) => error instanceof Error && error.message.startsWith('NOSCRIPT');

/** A glob pattern matching `text` literally (for SCAN MATCH). */
const globEscape = (text: string) => text.replace(/[*?[\]\\]/g, '\\$&');

/** Sends one command through either client. */
type Send = ((args: string[]) => Promise<unknown>) & { scanPrefix?: string };

function senderFor(client: RedisClientLike): Send {
  const error = (text: string) => new TypeError(tellerMessage(REDIS_STORE_NAME, text));
  if (client === null || typeof client !== 'object')
    throw error('client must be a node-redis or ioredis client');
  // Redis Cluster clients route by key and need SCAN on every master: not supported yet, say so plainly.
  const shape = client as { isCluster?: unknown; getSlotRandomNode?: unknown };
  if (shape.isCluster === true || typeof shape.getSlotRandomNode === 'function') {
    throw error(
      'Redis Cluster clients are not supported yet: pass a standalone node-redis or ioredis client',
    );
  }
  // ioredis first: it has a sendCommand too, taking a Command object.
  if (typeof (client as IoRedisClientLike).call === 'function') {
    const io = client as IoRedisClientLike;
    if (io.options?.enableOfflineQueue !== false) {
      throw error(
        'the ioredis client must be created with enableOfflineQueue: false, so a command while Redis is down fails at once and is never replayed later',
      );
    }
    if (io.options.autoResendUnfulfilledCommands !== false) {
      throw error(
        'the ioredis client must be created with autoResendUnfulfilledCommands: false, so a command cut off by a disconnect is never replayed after the reconnect',
      );
    }
    const sender: Send = ([command, ...args]) => io.call(command as string, ...args);
    // ioredis adds its keyPrefix to the keys of a command, not to a SCAN pattern: count() adds it.
    return Object.assign(sender, { scanPrefix: io.options.keyPrefix ?? '' });
  }
  if (typeof (client as NodeRedisClientLike).sendCommand === 'function') {
    const node = client as NodeRedisClientLike;
    if (node.options?.disableOfflineQueue !== true) {
      throw error(
        'the node-redis client must be created with disableOfflineQueue: true, so a command while Redis is down fails at once and is never replayed later',
      );
    }
    return (args) => node.sendCommand(args);
  }
  throw error('client must be a node-redis or ioredis client (it has neither call() nor sendCommand())');
}

/**
 * Creates a Redis store over a client you created and connected.
 *
 * @example
 * const client = await createClient({ url: 'redis://127.0.0.1:6379', disableOfflineQueue: true }).connect();
 * const store = createRedisStore({ client });
 * // or ioredis:
 * const store = createRedisStore({
 *   client: new Redis({ enableOfflineQueue: false, autoResendUnfulfilledCommands: false }),
 * });
 */
export function createRedisStore(options: RedisStoreOptions): RedisStore {
  if (options === null || typeof options !== 'object')
    throw new TypeError(tellerMessage(REDIS_STORE_NAME, 'options must be an object'));
  const { client, prefix = 'teller:' } = options;
  if (typeof prefix !== 'string')
    throw new TypeError(tellerMessage(REDIS_STORE_NAME, 'prefix must be a string'));
  const send = senderFor(client);
  const onError = () => {
    // The client reports and reconnects by itself; a command meanwhile rejects and is reported by its caller.
  };
  client.on('error', onError);
  let closed = false;

  const recordKey = (key: string) => `${prefix}s:${key}`;
  const indexKey = (userId: string) => `${prefix}u:${userId}`;

  const scripts = {
    set: { source: SET_SCRIPT } as Script,
    deleteIfUser: { source: DELETE_IF_USER_SCRIPT } as Script,
    indexAdd: { source: INDEX_ADD_SCRIPT } as Script,
    indexRead: { source: INDEX_READ_SCRIPT } as Script,
  };

  function load(script: Script): Promise<string> {
    script.sha ??= (send(['SCRIPT', 'LOAD', script.source]) as Promise<string>).catch((error) => {
      script.sha = undefined;
      throw error;
    });
    return script.sha;
  }

  /** Runs a script by its SHA; after a NOSCRIPT (a restarted or flushed server) loads it again and retries. */
  async function evalScript(script: Script, key: string, args: string[]): Promise<unknown> {
    const sha = await load(script);
    try {
      return await send(['EVALSHA', sha, '1', key, ...args]);
    } catch (error) {
      if (!isNoScript(error)) throw error;
    }
    if (script.sha !== undefined && (await script.sha) === sha) script.sha = undefined;
    try {
      return await send(['EVALSHA', await load(script), '1', key, ...args]);
    } catch (error) {
      // Loaded on another node than the key's (a cluster): EVAL loads it where the key lives.
      if (!isNoScript(error)) throw error;
      return send(['EVAL', script.source, '1', key, ...args]);
    }
  }

  /** Runs `fn`; a client failure becomes a SessionStoreError with the client's error as its cause. */
  async function run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    if (closed) throw new SessionStoreError(tellerMessage(REDIS_STORE_NAME, 'the store is closed'));
    try {
      return await fn();
    } catch (error) {
      if (error instanceof SessionStoreError) throw error;
      throw new SessionStoreError(tellerMessage(REDIS_STORE_NAME, `${operation} failed`), { cause: error });
    }
  }

  function parse(json: unknown): SessionRecord {
    if (typeof json !== 'string') throw new Error(`the record is not a string (${typeof json})`);
    return JSON.parse(json) as SessionRecord;
  }

  /** The members of a user's index, pruned of the entries that expired. */
  async function members(userId: string): Promise<string[]> {
    const now = Date.now();
    return (await evalScript(scripts.indexRead, indexKey(userId), [String(now - CLOCK_SKEW_MS)])) as string[];
  }

  return {
    immediate: false,
    settlesInTurn: false,
    lockOnly: false,

    get(key) {
      return run('get', async () => {
        const json = await send(['HGET', recordKey(key), 'r']);
        return json === null || json === undefined ? null : parse(json);
      });
    },

    async set(key, record, expected, ttlMs) {
      assertSetArguments(REDIS_STORE_NAME, key, record, expected, ttlMs);
      const json = JSON.stringify(record);
      const ttl = Math.max(1, Math.ceil(ttlMs));
      return run('set', async () => {
        const hasUser = typeof record.userId === 'string';
        const reply = (await evalScript(scripts.set, recordKey(key), [
          expected === null ? '' : String(expected),
          String(record.version),
          json,
          hasUser ? '1' : '0',
          hasUser ? (record.userId as string) : '',
          String(ttl),
        ])) as [number, string | null | undefined];
        if (Number(reply[0]) !== 1) return false;
        // The index after the write, in commands of their own (idempotent: a retry or the next write repairs).
        const previous = reply[1] ?? undefined;
        const updates: Array<Promise<unknown>> = [];
        const now = Date.now();
        if (hasUser) {
          updates.push(
            evalScript(scripts.indexAdd, indexKey(record.userId as string), [
              key,
              String(now + ttl),
              String(now - CLOCK_SKEW_MS),
            ]),
          );
        }
        if (previous !== undefined && previous !== record.userId) {
          updates.push(send(['ZREM', indexKey(previous), key]));
        }
        await Promise.all(updates);
        return true;
      });
    },

    delete(key) {
      return run('delete', async () => {
        await send(['DEL', recordKey(key)]);
      });
    },

    listByUser(userId) {
      return run('listByUser', async () => {
        const keys = await members(userId);
        const found = await Promise.all(keys.map((key) => send(['HMGET', recordKey(key), 'u', 'r'])));
        const list: Array<{ key: string; record: SessionRecord }> = [];
        const stale: string[] = [];
        keys.forEach((key, i) => {
          const [user, json] = found[i] as [string | null, string | null];
          if (user === userId && json !== null) list.push({ key, record: parse(json) });
          else stale.push(key);
        });
        if (stale.length > 0) await send(['ZREM', indexKey(userId), ...stale]);
        return list;
      });
    },

    deleteByUser(userId, deleteOptions = {}) {
      return run('deleteByUser', async () => {
        const keys = (await members(userId)).filter((key) => key !== deleteOptions.exceptKey);
        const deleted = await Promise.all(
          keys.map((key) => evalScript(scripts.deleteIfUser, recordKey(key), [userId])),
        );
        if (keys.length > 0) await send(['ZREM', indexKey(userId), ...keys]);
        return deleted.reduce<number>((sum, n) => sum + Number(n), 0);
      });
    },

    count() {
      return run('count', async () => {
        // SCAN walks the whole keyspace: for tests, the inspector and benchmarks, not for requests.
        const match = `${globEscape((send.scanPrefix ?? '') + prefix)}s:*`;
        let cursor = '0';
        let n = 0;
        do {
          const [next, keys] = (await send(['SCAN', cursor, 'MATCH', match, 'COUNT', '1000'])) as [
            string,
            string[],
          ];
          cursor = String(next);
          n += keys.length;
        } while (cursor !== '0');
        return n;
      });
    },

    async close() {
      if (closed) return;
      closed = true;
      client.off('error', onError);
    },
  };
}
