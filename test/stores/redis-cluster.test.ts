/**
 * The Redis store against a Redis Cluster of this file's own, 3 masters started from redis-server on free
 * loopback ports (test/support/redis-cluster.ts), with both clients: node-redis `createCluster` and ioredis
 * `Cluster`, each store under a prefix of its own. The shared Redis is not used. The killed-master test starts
 * and stops a second cluster of its own. Skipped, with a line saying so, when redis-server or redis-cli is not
 * installed (with `CI` set, that fails instead).
 */
import { Cluster } from 'ioredis';
import { createCluster } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSessionManager } from '../../src/index.js';
import { SessionStoreError } from '../../src/session/errors.js';
import { retiredRecordOf } from '../../src/session/store.js';
import { createRedisStore, type RedisClientLike, type RedisStore } from '../../src/stores/redis.js';
import {
  Browser,
  cartThroughLogin,
  freshnessScenario,
  passiveScenario,
  reuseScenario,
  visit,
} from '../session/helpers.js';
import {
  cli,
  keySlot,
  type OwnRedisCluster,
  redisClusterToolsInstalled,
  startRedisCluster,
} from '../support/redis-cluster.js';
import { fullRecord, minimalRecord, runStoreContract } from './contract.js';

const installed = await redisClusterToolsInstalled();
if (!installed) {
  if (process.env.CI)
    throw new Error('redis-server and redis-cli are missing: the Redis Cluster suite must run in CI');
  console.warn(
    '[redis-cluster.test] redis-server or redis-cli is not installed: the Redis Cluster tests are skipped',
  );
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

type ClientName = 'node-redis' | 'ioredis';
const CLIENT_NAMES: ClientName[] = ['node-redis', 'ioredis'];

/** What the store asks of an ioredis Cluster; lazyConnect so the test connects (and waits) itself. */
const ioOptions = {
  enableOfflineQueue: false,
  retryDelayOnFailover: 0,
  redisOptions: { autoResendUnfulfilledCommands: false },
  lazyConnect: true,
} as const;

interface Connected {
  client: RedisClientLike;
  close(): void;
}

/** A connected cluster client of `name` on `cluster`, configured as the store asks. */
async function connect(name: ClientName, cluster: OwnRedisCluster): Promise<Connected> {
  if (name === 'node-redis') {
    const client = createCluster({
      rootNodes: cluster.urls.map((url) => ({ url })),
      defaults: { disableOfflineQueue: true },
    });
    client.on('error', () => {});
    await client.connect();
    return { client, close: () => client.destroy() };
  }
  const client = new Cluster(cluster.nodes, ioOptions);
  client.on('error', () => {});
  await client.connect();
  return { client, close: () => client.disconnect() };
}

/** `n` keys (`<label>0`, `<label>1`, …) whose `redisKey(key)` lands on the master at `port`. */
function keysOn(
  cluster: OwnRedisCluster,
  port: number,
  n: number,
  label: string,
  redisKey: (key: string) => string,
): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < n; i++)
    if (cluster.ownerOf(redisKey(`${label}${i}`)) === port) keys.push(`${label}${i}`);
  return keys;
}

/** Scripts cached on the node at `port` (INFO memory). */
async function cachedScripts(port: number): Promise<number> {
  const info = await cli(port, 'INFO', 'memory');
  return Number(/number_of_cached_scripts:(\d+)/.exec(info)?.[1]);
}

/** `promise`, or a rejection saying it hung when it has not settled within `ms`. */
function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  return Promise.race([
    promise,
    sleep(ms).then(() => Promise.reject(new Error(`still pending after ${ms} ms`))),
  ]);
}

describe('redis store: which cluster clients it takes', () => {
  it('refuses a cluster client that would queue or resend commands, naming the option', () => {
    const rootNodes = [{ url: 'redis://127.0.0.1:1' }];
    const refused = (client: unknown) => () => createRedisStore({ client: client as RedisClientLike });
    expect(refused(createCluster({ rootNodes }))).toThrow(TypeError);
    expect(refused(createCluster({ rootNodes }))).toThrow(/defaults: \{ disableOfflineQueue: true \}/);
    // On a root node it does not reach the clients that send the commands (they are made from `defaults`).
    const onRoot = createCluster({ rootNodes: [{ url: 'redis://127.0.0.1:1', disableOfflineQueue: true }] });
    expect(refused(onRoot)).toThrow(/defaults: \{ disableOfflineQueue: true \}/);

    const nodes = [{ host: '127.0.0.1', port: 1 }];
    expect(refused(new Cluster(nodes, { lazyConnect: true }))).toThrow(/enableOfflineQueue: false/);
    const failover = { lazyConnect: true, enableOfflineQueue: false };
    expect(refused(new Cluster(nodes, failover))).toThrow(/retryDelayOnFailover: 0/);
    const resend = { ...failover, retryDelayOnFailover: 0 };
    expect(refused(new Cluster(nodes, resend))).toThrow(
      /redisOptions: \{ autoResendUnfulfilledCommands: false \}/,
    );
    const replicas = { ...ioOptions, scaleReads: 'slave' } as const;
    expect(refused(new Cluster(nodes, replicas))).toThrow(/scaleReads: 'master'/);

    // Accepted when set (no connection needed to create the store).
    expect(
      createRedisStore({ client: createCluster({ rootNodes, defaults: { disableOfflineQueue: true } }) }),
    ).toBeDefined();
    expect(createRedisStore({ client: new Cluster(nodes, ioOptions) })).toBeDefined();
  });
});

let cluster: OwnRedisCluster | undefined;
const clients = new Map<ClientName, Connected>();
let stores = 0;
const newPrefix = () => `teller-test:${++stores}:`;

beforeAll(async () => {
  if (!installed) return;
  cluster = await startRedisCluster();
  for (const name of CLIENT_NAMES) clients.set(name, await connect(name, cluster));
}, 60_000);
afterAll(async () => {
  for (const connected of clients.values()) connected.close();
  await cluster?.stop();
});

/** A store of `name`'s client on this file's cluster, under a prefix of its own. */
function storeOf(name: ClientName, prefix = newPrefix()): RedisStore {
  return createRedisStore({ client: (clients.get(name) as Connected).client, prefix });
}

const abilities = {
  userIndex: true,
  retireByUser: true,
  purgeExpired: false,
  count: true,
  scan: true,
  clock: 'real',
} as const;

if (installed) {
  for (const name of CLIENT_NAMES) {
    // The cluster is this file's own and dropped at the end: each store's keys stay under its own prefix.
    runStoreContract(
      `redis cluster (${name})`,
      () => {
        const store = storeOf(name);
        return { store, cleanup: () => store.close() };
      },
      { abilities },
    );
  }
}

describe.skipIf(!installed)('redis store on a cluster', () => {
  const own = () => cluster as OwnRedisCluster;

  it('computes key slots as Redis does (the helper the placement tests trust)', async () => {
    const port = own().ports[0] as number;
    for (const key of ['', 'a', 'teller:s:k1', 'teller:u:alice', '{user1000}.following', 'x{}y', 'Zoë'])
      expect(keySlot(key), key).toBe(Number(await cli(port, 'CLUSTER', 'KEYSLOT', key)));
  });

  for (const name of CLIENT_NAMES) {
    it(`${name}: one user's sessions on every master are all listed and revoked`, async () => {
      const prefix = newPrefix();
      const store = storeOf(name, prefix);
      // Two sessions of alice on each master: her record keys spread over slots and nodes.
      const keys = own().ports.flatMap((port) => keysOn(own(), port, 2, 'k', (key) => `${prefix}s:${key}`));
      expect(new Set(keys.map((key) => keySlot(`${prefix}s:${key}`))).size).toBe(6);
      for (const key of keys)
        expect(await store.set(key, fullRecord({ userId: 'alice' }), null, 60_000)).toBe(true);
      await store.set('bob-1', fullRecord({ userId: 'bob' }), null, 60_000);

      expect((await store.listByUser('alice')).map((e) => e.key).sort()).toEqual([...keys].sort());
      expect(await store.deleteByUser('alice', { exceptKey: keys[0] as string })).toBe(5);
      expect((await store.listByUser('alice')).map((e) => e.key)).toEqual([keys[0]]);
      for (const key of keys.slice(1)) expect(await store.get(key)).toBeNull();
      expect(await store.get('bob-1')).not.toBeNull();
      await store.close();
    });

    it(`${name}: one user's sessions on every master are all retired in one call (retireByUser)`, async () => {
      const prefix = newPrefix();
      const store = storeOf(name, prefix);
      const keys = own().ports.flatMap((port) => keysOn(own(), port, 2, 'r', (key) => `${prefix}s:${key}`));
      expect(new Set(keys.map((key) => keySlot(`${prefix}s:${key}`))).size).toBe(6);
      for (const key of keys)
        expect(await store.set(key, fullRecord({ userId: 'alice' }), null, 60_000)).toBe(true);
      await store.set('bob-1', fullRecord({ userId: 'bob' }), null, 60_000);
      const retire = {
        by: 'revoke',
        at: Date.now(),
        absoluteMs: 60_000,
        rememberMeAbsoluteMs: 120_000,
        minMs: 1_000,
        maxMs: 60_000,
        slackMs: 1_000,
        exceptKey: keys[0] as string,
      } as const;
      expect(await store.retireByUser('alice', retire)).toBe(5);
      expect((await store.listByUser('alice')).map((e) => e.key)).toEqual([keys[0]]);
      for (const key of keys.slice(1))
        expect(await store.get(key)).toStrictEqual(retiredRecordOf({ version: 1 }, 'alice', retire));
      expect(await store.get('bob-1')).toStrictEqual(fullRecord({ userId: 'bob' }));
      await store.close();
    });

    it(`${name}: stolen-id detection, two processes (two stores) on one prefix across the cluster`, async () => {
      const prefix = newPrefix();
      await reuseScenario(storeOf(name, prefix), storeOf(name, prefix));
    });

    it(`${name}: the index sits on another master than the record, where one script over both fails (CROSSSLOT)`, async () => {
      const prefix = newPrefix();
      const store = storeOf(name, prefix);
      const [first, second] = own().ports as [number, number];
      const [user] = keysOn(own(), first, 1, 'user', (userId) => `${prefix}u:${userId}`) as [string];
      const [key] = keysOn(own(), second, 1, 'key', (k) => `${prefix}s:${k}`) as [string];
      const [recordKey, indexKey] = [`${prefix}s:${key}`, `${prefix}u:${user}`];

      expect(await store.set(key, fullRecord({ userId: user }), null, 60_000)).toBe(true);
      // Each on its own master, asked directly (a node answers MOVED for a key it does not own).
      expect(await cli(second, 'HGET', recordKey, 'u')).toBe(`${user}\n`);
      expect(Number(await cli(first, 'ZSCORE', indexKey, key))).toBeGreaterThan(Date.now());
      expect(await cli(second, 'EXISTS', indexKey)).toMatch(/^MOVED /);
      // What a single script over both keys would get.
      expect(await cli(second, 'EVAL', 'return 1', '2', recordKey, indexKey)).toMatch(/^CROSSSLOT/);

      expect((await store.listByUser(user)).map((e) => e.key)).toEqual([key]);
      // The record moving to another user leaves the first user's index, on the other master.
      expect(await store.set(key, fullRecord({ userId: 'other', version: 2 }), 1, 60_000)).toBe(true);
      expect(await cli(first, 'EXISTS', indexKey)).toBe('0\n');
      expect(await store.listByUser(user)).toEqual([]);
      expect((await store.listByUser('other')).map((e) => e.key)).toEqual([key]);
      await store.close();
    });

    it(`${name}: count() adds up every master's records under its prefix`, async () => {
      const prefix = newPrefix();
      const store = storeOf(name, prefix);
      const perMaster = [1, 2, 3];
      const keys = own().ports.flatMap((port, i) =>
        keysOn(own(), port, perMaster[i] as number, 'c', (key) => `${prefix}s:${key}`),
      );
      for (const key of keys) await store.set(key, minimalRecord({ userId: 'u' }), null, 60_000);
      // Another store's records, on the same masters, are not counted.
      const other = storeOf(name);
      await other.set('x', minimalRecord(), null, 60_000);
      for (const [i, port] of own().ports.entries()) {
        const found = (await cli(port, '--scan', '--pattern', `${prefix}s:*`)).split('\n').filter(Boolean);
        expect(found, `master ${port}`).toHaveLength(perMaster[i] as number);
      }
      expect(await store.count()).toBe(6);
      await store.delete(keys[0] as string);
      expect(await store.count()).toBe(5);
      await Promise.all([store.close(), other.close()]);
    });

    it(`${name}: recovers from NOSCRIPT after SCRIPT FLUSH on every node, loading its scripts on each`, async () => {
      const prefix = newPrefix();
      const store = storeOf(name, prefix);
      const keys = own().ports.map(
        (port) => keysOn(own(), port, 1, 'n', (key) => `${prefix}s:${key}`)[0] as string,
      );
      for (const key of keys) expect(await store.set(key, fullRecord(), null, 60_000)).toBe(true);
      for (const port of own().ports) {
        expect(await cli(port, 'SCRIPT', 'FLUSH')).toBe('OK\n');
        expect(await cachedScripts(port)).toBe(0);
      }
      for (const key of keys) {
        expect(await store.set(key, fullRecord({ version: 2 }), 1, 60_000)).toBe(true);
        expect(await store.set(key, fullRecord({ version: 3 }), 1, 60_000)).toBe(false);
        expect((await store.get(key))?.version).toBe(2);
      }
      for (const port of own().ports) expect(await cachedScripts(port), `master ${port}`).toBeGreaterThan(0);
      expect((await store.listByUser('user-1')).map((e) => e.key).sort()).toEqual([...keys].sort());
      expect(await store.deleteByUser('user-1')).toBe(3);
      await store.close();
    });

    it(`${name}: step-up freshness and passive requests across the cluster`, async () => {
      await freshnessScenario(storeOf(name));
      await passiveScenario(storeOf(name));
    });

    it(`${name}: the session manager logs in, keeps the cart, lists and revokes across the cluster`, async () => {
      const manager = createSessionManager<{ cart: string[] }>({ store: storeOf(name) });
      const now = () => ({ now: Date.now() });
      try {
        const laptop = new Browser();
        expect(await cartThroughLogin(manager, laptop, now)).toEqual(['alice', ['apple', 'pear']]);
        const phone = new Browser();
        await visit(manager, phone, (s) => s.login('alice'), now());
        expect(await manager.listSessions('alice')).toHaveLength(2);
        expect(await manager.revokeSessions('alice')).toBe(2);
        expect((await visit(manager, laptop, (s) => s.userId, now())).result).toBeUndefined();
        expect(await manager.listSessions('alice')).toEqual([]);
      } finally {
        await manager.close();
      }
    });
  }

  it('a killed master: calls on its keys reject at once with SessionStoreError, the others still work, and its restart (empty, no scripts) is recovered', async () => {
    const killedCluster = await startRedisCluster();
    const opened: Connected[] = [];
    try {
      const [live, lost] = killedCluster.ports as [number, number];
      const cases: Array<{ name: ClientName; store: RedisStore; client: RedisClientLike }> = [];
      for (const name of CLIENT_NAMES) {
        const connected = await connect(name, killedCluster);
        opened.push(connected);
        const { client } = connected;
        // Only the store's listener: an 'error' event without one would be an uncaught exception.
        (client as unknown as { removeAllListeners(event: string): void }).removeAllListeners('error');
        const store = createRedisStore({ client, prefix: `${name}:` });
        expect((client as unknown as { listenerCount(event: string): number }).listenerCount('error')).toBe(
          1,
        );
        cases.push({ name, store, client });
      }
      const keyOn = (name: ClientName, port: number, label: string) =>
        keysOn(killedCluster, port, 1, label, (key) => `${name}:s:${key}`)[0] as string;
      const userOn = (name: ClientName, port: number) =>
        keysOn(killedCluster, port, 1, 'user', (userId) => `${name}:u:${userId}`)[0] as string;

      for (const { name, store } of cases) {
        expect(
          await store.set(keyOn(name, live, 'a'), fullRecord({ userId: userOn(name, live) }), null, 60_000),
        ).toBe(true);
        expect(
          await store.set(keyOn(name, lost, 'b'), fullRecord({ userId: userOn(name, lost) }), null, 60_000),
        ).toBe(true);
      }

      await killedCluster.kill(lost);
      for (const { name, store } of cases) {
        const calls: Array<[string, () => Promise<unknown>]> = [
          ['get', () => store.get(keyOn(name, lost, 'b'))],
          ['set', () => store.set(keyOn(name, lost, 'b'), fullRecord({ version: 2 }), 1, 60_000)],
          ['set new', () => store.set(keyOn(name, lost, 'new'), minimalRecord(), null, 60_000)],
          ['delete', () => store.delete(keyOn(name, lost, 'b'))],
          ['listByUser', () => store.listByUser(userOn(name, lost))],
          ['deleteByUser', () => store.deleteByUser(userOn(name, lost))],
          ['count', () => store.count()],
        ];
        for (const [call, run] of calls) {
          const started = Date.now();
          const failure = await within(5_000, run()).catch((error: unknown) => error);
          expect(failure, `${name} ${call}`).toBeInstanceOf(SessionStoreError);
          expect((failure as SessionStoreError).cause, `${name} ${call}`).toBeInstanceOf(Error);
          expect(Date.now() - started, `${name} ${call}`).toBeLessThan(500);
        }
        // The keys of the live masters are served meanwhile.
        expect((await store.get(keyOn(name, live, 'a')))?.userId).toBe(userOn(name, live));
        expect((await store.listByUser(userOn(name, live))).map((e) => e.key)).toEqual([
          keyOn(name, live, 'a'),
        ]);
      }

      await killedCluster.restart(lost);
      expect(await cachedScripts(lost)).toBe(0);
      for (const { name, store } of cases) {
        // The client reconnects by itself (bounded wait); the script runs by EVAL after the NOSCRIPT.
        let written = false;
        for (let i = 0; i < 50 && !written; i++) {
          written = await store
            .set(keyOn(name, lost, 'after'), fullRecord(), null, 60_000)
            .catch(() => false);
          if (!written) await sleep(100);
        }
        expect(written, name).toBe(true);
        expect(await store.get(keyOn(name, lost, 'new'))).toBeNull();
        expect(await store.count()).toBe(2);
      }
      expect(await cachedScripts(lost)).toBeGreaterThan(0);
      for (const { store } of cases) await store.close();
    } finally {
      for (const connected of opened) connected.close();
      await killedCluster.stop();
    }
  });
});
