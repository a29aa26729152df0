/**
 * `teller/stores/redis`: sessions in Redis through a client you pass in, node-redis (`redis` 5) or ioredis 5,
 * standalone or Redis Cluster.
 *
 * Each record is a hash under `<prefix>s:<key>`: `v` (its version, what compare-and-set checks), `u` (its
 * userId, when it has one) and `r` (the whole record as JSON, so fields this version does not know round-trip).
 * Compare-and-set is one Lua script on that key, run by EVALSHA (its SHA1 computed here); after a `NOSCRIPT` (a
 * server new, restarted, failed over or flushed) EVAL runs it, which also caches it on that server. It checks the
 * stored version, writes, and sets the physical expiry with PEXPIRE from `ttlMs`. Redis drops the record
 * itself: no `purgeExpired`, no cleanup timer.
 *
 * The user index is a sorted set per user, `<prefix>u:<userId>`: member = the session's key, score = the
 * record's physical expiry (epoch ms by this process's clock). It is updated after the compare-and-set, in its
 * own command (ZADD, and ZREM from the old user's set when a record's user changed): in a cluster the session
 * key and the index live in different slots, so one script over both would fail with CROSSSLOT. It is pruned as
 * it is read and reconciled when listed: members whose record is gone or belongs to another user are removed.
 *
 * In a cluster every command names one key, the one its cluster client routes it by, so a user's sessions and
 * index spread over the slots as their keys hash (no hash tag: one user's keys are not pinned to one node; keep
 * `{` and `}` out of the prefix, or every key lands in the slot of what they enclose). `count()` scans every
 * master, and so does `scan()`. Reads go to masters too: a replica may still hold a session just revoked.
 *
 * The client must fail a command at once while Redis is down, never queue it and replay it after a reconnect
 * (a request answered 503 must never land its write later): the store refuses, with a TypeError naming the
 * option, a node-redis client without `disableOfflineQueue: true` (a cluster: `defaults: { disableOfflineQueue:
 * true }`), an ioredis client without `enableOfflineQueue: false` and `autoResendUnfulfilledCommands: false`,
 * and an ioredis Cluster without `enableOfflineQueue: false`, `retryDelayOnFailover: 0` and `redisOptions: {
 * autoResendUnfulfilledCommands: false }`. A command in flight when the connection drops fails too (with a
 * standalone ioredis client the store fails it on the client's `'close'` event: ioredis 5 would leave it
 * pending). It adds an `'error'` listener to the client (with standalone ioredis a `'close'` one too; `close()`
 * removes them), so the client's error events never crash the process; your own listeners stay.
 */

import { hash } from 'node:crypto';
import { SessionStoreError, tellerMessage } from '../session/errors.js';
import {
  assertRetireArguments,
  assertScanArguments,
  assertSetArguments,
  retiredRecordOf,
  type SessionRecord,
  type SessionStore,
} from '../session/store.js';
import { connectionFor, type RedisClientLike } from './_redis-client.js';

export type {
  IoRedisClientLike,
  IoRedisClusterLike,
  NodeRedisClientLike,
  NodeRedisClusterLike,
  RedisClientLike,
} from './_redis-client.js';

/** The name used in this store's error messages. */
export const REDIS_STORE_NAME = 'redis-store';

export interface RedisStoreOptions {
  /**
   * A connected client you manage (the store never connects, quits or reconfigures it):
   * - node-redis: `createClient({ disableOfflineQueue: true })`, or
   *   `createCluster({ rootNodes, defaults: { disableOfflineQueue: true } })`;
   * - ioredis: `new Redis({ enableOfflineQueue: false, autoResendUnfulfilledCommands: false })`, or
   *   `new Cluster(nodes, { enableOfflineQueue: false, retryDelayOnFailover: 0,
   *   redisOptions: { autoResendUnfulfilledCommands: false } })`.
   */
  client: RedisClientLike;
  /**
   * The start of every key the store writes: `<prefix>s:<key>` for a record, `<prefix>u:<userId>` for the index.
   * @default 'teller:'
   */
  prefix?: string;
}

/** The Redis store: the contract with the user index and `count`; Redis expires records itself. */
export interface RedisStore
  extends Required<
    Omit<SessionStore, 'purgeExpired' | 'migrateLegacy' | 'getNow' | 'setNow' | 'deleteNow'>
  > {}

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
 * Replaces KEYS[1], while it belongs to user ARGV[1], by its retirement record (retiredRecordOf): the JSON
 * ARGV[2] .. the next version .. ARGV[3], no `u` (out of the index), kept retiredTtlOf ms by PEXPIRE. ARGV[4..9]:
 * at, absoluteMs, rememberMeAbsoluteMs, minMs, maxMs, slackMs. Reads the record's createdAt and persistent from
 * its JSON (an unreadable one is kept as if created at `at`). Returns 1 when retired.
 */
const RETIRE_IF_USER_SCRIPT = `
local fields = redis.call('HMGET', KEYS[1], 'u', 'v', 'r')
if fields[1] ~= ARGV[1] then return 0 end
local at = tonumber(ARGV[4])
local createdAt = at
local absolute = tonumber(ARGV[5])
local ok, record = pcall(cjson.decode, fields[3])
if ok and type(record) == 'table' then
  if type(record.createdAt) == 'number' then createdAt = record.createdAt end
  if record.persistent == true then absolute = tonumber(ARGV[6]) end
end
local ttl = math.min(math.max(tonumber(ARGV[7]), createdAt + absolute - at), tonumber(ARGV[8])) + tonumber(ARGV[9])
local version = string.format('%d', tonumber(fields[2]) + 1)
redis.call('HDEL', KEYS[1], 'u')
redis.call('HSET', KEYS[1], 'v', version, 'r', ARGV[2] .. version .. ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil(ttl)))
return 1
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

/** One step of `count()`: SCAN from the cursor ARGV[1], MATCH ARGV[2], COUNT ARGV[3]; answers {next cursor, keys found}. */
const COUNT_STEP = `local step = redis.call('SCAN', ARGV[1], 'MATCH', ARGV[2], 'COUNT', ARGV[3])
return {step[1], #step[2]}`;

/** A script and its SHA1, what EVALSHA names it by (computed here: no SCRIPT LOAD, which has no key to route by). */
interface Script {
  source: string;
  sha: string;
}

const withSha = (source: string): Script => ({ source, sha: hash('sha1', source) });

const isNoScript = (error: unknown) => error instanceof Error && error.message.startsWith('NOSCRIPT');

/** A glob pattern matching `text` literally (for SCAN MATCH). */
const globEscape = (text: string) => text.replace(/[*?[\]\\]/g, '\\$&');

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
 * // or a Redis Cluster (node-redis; ioredis: see RedisStoreOptions.client):
 * const cluster = await createCluster({ rootNodes, defaults: { disableOfflineQueue: true } }).connect();
 * const store = createRedisStore({ client: cluster });
 */
export function createRedisStore(options: RedisStoreOptions): RedisStore {
  if (options === null || typeof options !== 'object')
    throw new TypeError(tellerMessage(REDIS_STORE_NAME, 'options must be an object'));
  const { client, prefix = 'teller:' } = options;
  if (typeof prefix !== 'string')
    throw new TypeError(tellerMessage(REDIS_STORE_NAME, 'prefix must be a string'));
  const connection = connectionFor(client, REDIS_STORE_NAME);
  /** Sends a command about `key` (a cluster client routes it to the key's master). */
  const send = (key: string, args: string[]) => connection.send(key, args);
  const onError = () => {
    // The client reports and reconnects by itself; a command meanwhile rejects and is reported by its caller.
  };
  client.on('error', onError);
  let closed = false;

  const recordKey = (key: string) => `${prefix}s:${key}`;
  const indexKey = (userId: string) => `${prefix}u:${userId}`;

  const scripts = {
    set: withSha(SET_SCRIPT),
    deleteIfUser: withSha(DELETE_IF_USER_SCRIPT),
    retireIfUser: withSha(RETIRE_IF_USER_SCRIPT),
    indexAdd: withSha(INDEX_ADD_SCRIPT),
    indexRead: withSha(INDEX_READ_SCRIPT),
  };

  /**
   * Runs a script on `key` by its SHA. A NOSCRIPT means the key's node does not have it yet (a new node, or one
   * restarted, failed over or flushed): EVAL then runs it there, which also caches it there for the next EVALSHA.
   */
  async function evalScript(script: Script, key: string, args: string[]): Promise<unknown> {
    try {
      return await send(key, ['EVALSHA', script.sha, '1', key, ...args]);
    } catch (error) {
      if (!isNoScript(error)) throw error;
    }
    return send(key, ['EVAL', script.source, '1', key, ...args]);
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
        const json = await send(recordKey(key), ['HGET', recordKey(key), 'r']);
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
          updates.push(send(indexKey(previous), ['ZREM', indexKey(previous), key]));
        }
        await Promise.all(updates);
        return true;
      });
    },

    delete(key) {
      return run('delete', async () => {
        await send(recordKey(key), ['DEL', recordKey(key)]);
      });
    },

    listByUser(userId) {
      return run('listByUser', async () => {
        const keys = await members(userId);
        const found = await Promise.all(
          keys.map((key) => send(recordKey(key), ['HMGET', recordKey(key), 'u', 'r'])),
        );
        const list: Array<{ key: string; record: SessionRecord }> = [];
        const stale: string[] = [];
        keys.forEach((key, i) => {
          const [user, json] = found[i] as [string | null, string | null];
          if (user === userId && json !== null) list.push({ key, record: parse(json) });
          else stale.push(key);
        });
        if (stale.length > 0) await send(indexKey(userId), ['ZREM', indexKey(userId), ...stale]);
        return list;
      });
    },

    deleteByUser(userId, deleteOptions = {}) {
      return run('deleteByUser', async () => {
        const keys = (await members(userId)).filter((key) => key !== deleteOptions.exceptKey);
        const deleted = await Promise.all(
          keys.map((key) => evalScript(scripts.deleteIfUser, recordKey(key), [userId])),
        );
        if (keys.length > 0) await send(indexKey(userId), ['ZREM', indexKey(userId), ...keys]);
        return deleted.reduce<number>((sum, n) => sum + Number(n), 0);
      });
    },

    async retireByUser(userId, retireOptions) {
      assertRetireArguments(REDIS_STORE_NAME, userId, retireOptions);
      // The retirement record's JSON around its version (each record's own, set by the script).
      const parts = JSON.stringify(retiredRecordOf({ version: 0 }, userId, retireOptions)).split(
        '"version":1',
      );
      const { at, absoluteMs, rememberMeAbsoluteMs, minMs, maxMs, slackMs } = retireOptions;
      const args = [userId, `${parts[0]}"version":`, parts[1] as string];
      for (const n of [at, absoluteMs, rememberMeAbsoluteMs, minMs, maxMs, slackMs]) args.push(String(n));
      return run('retireByUser', async () => {
        // As deleteByUser: one script per record on its own key (its slot in a cluster), sent together.
        const keys = (await members(userId)).filter((key) => key !== retireOptions.exceptKey);
        const retired = await Promise.all(
          keys.map((key) => evalScript(scripts.retireIfUser, recordKey(key), args)),
        );
        if (keys.length > 0) await send(indexKey(userId), ['ZREM', indexKey(userId), ...keys]);
        return retired.reduce<number>((sum, n) => sum + Number(n), 0);
      });
    },

    count() {
      return run('count', async () => {
        // SCAN walks the whole keyspace, of every master in a cluster: for tests, the inspector and benchmarks,
        // not for requests. A master that does not answer fails the count rather than leave its keys out.
        const match = `${globEscape(connection.keyPrefix + prefix)}s:*`;
        const counts = await Promise.all(
          (await connection.masters()).map(async (sendTo) => {
            let cursor = '0';
            let n = 0;
            do {
              // One SCAN step in a script that answers how many keys it found, not the keys: a million key
              // names cost the Node process collections of 10-30 ms (issue 17's bench), a count nothing.
              const [next, found] = (await sendTo(['EVAL', COUNT_STEP, '0', cursor, match, '1000'])) as [
                string,
                number,
              ];
              cursor = String(next);
              n += Number(found);
            } while (cursor !== '0');
            return n;
          }),
        );
        return counts.reduce((sum, n) => sum + n, 0);
      });
    },

    scan(cursor, limit) {
      assertScanArguments(REDIS_STORE_NAME, cursor, limit);
      // The cursor: which master (its place in the list of masters) and that master's SCAN cursor.
      const at = cursor === null ? ['0', '0'] : /^(\d+):(\d+)$/.exec(cursor)?.slice(1);
      if (at === undefined)
        throw new TypeError(tellerMessage(REDIS_STORE_NAME, 'cursor is not one this store gave'));
      return run('scan', async () => {
        const masters = await connection.masters();
        const master = Number(at[0]);
        const sendTo = masters[master];
        if (sendTo === undefined)
          throw new Error('the masters of the cluster changed during the scan: start again');
        const start = connection.keyPrefix + prefix;
        const [next, found] = (await sendTo([
          'SCAN',
          at[1] as string,
          'MATCH',
          `${globEscape(start)}s:*`,
          'COUNT',
          String(limit),
        ])) as [string, string[]];
        const keys = found.map((full) => full.slice(start.length + 2));
        const jsons = await Promise.all(
          keys.map((key) => send(recordKey(key), ['HGET', recordKey(key), 'r'])),
        );
        const entries: Array<{ key: string; record: SessionRecord }> = [];
        keys.forEach((key, i) => {
          const json = jsons[i];
          // Gone since SCAN named it (deleted or expired meanwhile).
          if (json !== null && json !== undefined) entries.push({ key, record: parse(json) });
        });
        const more = String(next) !== '0';
        return {
          entries,
          cursor: more ? `${master}:${next}` : master + 1 < masters.length ? `${master + 1}:0` : null,
        };
      });
    },

    async close() {
      if (closed) return;
      closed = true;
      client.off('error', onError);
      connection.dispose();
    },
  };
}
