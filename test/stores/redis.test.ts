/**
 * The Redis store against a real server (`REDIS_URL`, else redis://127.0.0.1:6379) with both clients,
 * node-redis and ioredis, each under a random prefix of its own, deleting only its keys. Skipped, with a line
 * saying so, when the server is unreachable (in CI, with `CI` set, that fails instead). The disconnect and
 * NOSCRIPT tests start their own redis-server (`test/support/redis-server.ts`): the shared one is never
 * stopped or flushed.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, describe, expect, it } from 'vitest';
import { createSessionManager } from '../../src/index.js';
import { SessionStoreError } from '../../src/session/errors.js';
import { createRedisStore, type RedisClientLike } from '../../src/stores/redis.js';
import {
  Browser,
  cartThroughLogin,
  freshnessScenario,
  passiveScenario,
  reuseScenario,
  sealedReuseScenario,
  visit,
} from '../session/helpers.js';
import { reachable } from '../support/net.js';
import { redisServerAvailable, startRedisServer } from '../support/redis-server.js';
import { fullRecord, minimalRecord, runStoreContract } from './contract.js';

const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const host = url.hostname;
const port = Number(url.port || 6379);

const up = await reachable(host, port);
if (!up) {
  if (process.env.CI) throw new Error(`Redis is unreachable at ${url.href}: the Redis suite must run in CI`);
  console.warn(`[redis.test] Redis is unreachable at ${url.href}: the Redis store tests are skipped`);
}

/** This file's keys all start with it; each store under it gets a sub-prefix of its own. */
const runPrefix = `teller-test:${randomBytes(6).toString('hex')}:`;
let stores = 0;
const newPrefix = () => `${runPrefix}${++stores}:`;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const nodeOptions = { url: url.href, disableOfflineQueue: true } as const;
const ioOptions = {
  enableOfflineQueue: false,
  autoResendUnfulfilledCommands: false,
  lazyConnect: true,
} as const;

async function nodeClient(u = url.href) {
  const client = createClient({ ...nodeOptions, url: u });
  client.on('error', () => {});
  await client.connect();
  return client;
}

async function ioClient(u = url.href) {
  const client = new Redis(u, ioOptions);
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** Deletes every key matching `pattern` (SCAN, never FLUSHDB: the server is shared). */
async function deleteMatching(client: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await client.del(...keys);
  } while (cursor !== '0');
}

/** A cleaner on the shared server, connected only when it is up. */
const cleaner = up ? await ioClient() : undefined;
afterAll(async () => {
  if (cleaner !== undefined) {
    await deleteMatching(cleaner, `${runPrefix}*`);
    cleaner.disconnect();
  }
});

const abilities = {
  userIndex: true,
  retireByUser: true,
  purgeExpired: false,
  count: true,
  scan: true,
  clock: 'real',
} as const;

if (up) {
  const node = await nodeClient();
  const io = await ioClient();
  afterAll(async () => {
    node.destroy();
    io.disconnect();
  });
  for (const [name, client] of [
    ['node-redis', node],
    ['ioredis', io],
  ] as Array<[string, RedisClientLike]>) {
    runStoreContract(
      `redis (${name})`,
      () => {
        const prefix = newPrefix();
        const store = createRedisStore({ client, prefix });
        return {
          store,
          cleanup: async () => {
            await store.close();
            await deleteMatching(cleaner as Redis, `${prefix}*`);
          },
        };
      },
      { abilities },
    );
  }
} else {
  describe.skip(`redis store: Redis unreachable at ${url.href}`, () => {
    it('runs the store contract', () => {});
  });
}

const hasRedisServer = await redisServerAvailable();

describe('redis store: its own behaviour', () => {
  it('refuses a client whose offline queue is on, naming the option', () => {
    const node = createClient({ url: url.href });
    expect(() => createRedisStore({ client: node })).toThrow(TypeError);
    expect(() => createRedisStore({ client: node })).toThrow(/disableOfflineQueue: true/);
    const io = new Redis(url.href, { lazyConnect: true });
    expect(() => createRedisStore({ client: io })).toThrow(/enableOfflineQueue: false/);
    const resending = new Redis(url.href, { lazyConnect: true, enableOfflineQueue: false });
    expect(() => createRedisStore({ client: resending })).toThrow(/autoResendUnfulfilledCommands: false/);
    expect(() => createRedisStore({ client: {} as RedisClientLike })).toThrow(/node-redis or ioredis/);
    // Cluster clients: test/stores/redis-cluster.test.ts.
    // Accepted when set (no connection needed to create the store).
    expect(() => createRedisStore({ client: createClient(nodeOptions) })).not.toThrow();
    expect(() => createRedisStore({ client: new Redis(url.href, ioOptions) })).not.toThrow();
  });

  it("adds an 'error' listener that keeps the user's and is removed by close()", async () => {
    const client = createClient(nodeOptions);
    const mine = () => {};
    client.on('error', mine);
    const store = createRedisStore({ client });
    expect(client.listenerCount('error')).toBe(2);
    // An error event with only the store's listener does not throw (it would crash the process).
    client.off('error', mine);
    expect(() => client.emit('error', new Error('boom'))).not.toThrow();
    await store.close();
    expect(client.listenerCount('error')).toBe(0);
  });

  describe.skipIf(!hasRedisServer)('with a redis-server of its own', () => {
    for (const [name, connect] of [
      ['node-redis', nodeClient],
      ['ioredis', ioClient],
    ] as const) {
      it(`${name}: while Redis is down, a call rejects with SessionStoreError at once, nothing crashes, and it works again after a restart`, async () => {
        const server = await startRedisServer();
        const client = await connect(server.url);
        client.removeAllListeners('error');
        const store = createRedisStore({ client: client as RedisClientLike, prefix: 'own:' });
        expect(await store.set('k', minimalRecord({ userId: 'u' }), null, 60_000)).toBe(true);
        // Only the store's listener: an 'error' event without one would be an uncaught exception.
        expect(client.listenerCount('error')).toBe(1);
        await server.stop();
        await sleep(100);
        const started = Date.now();
        const failure = await store.get('k').catch((error: unknown) => error);
        expect(failure).toBeInstanceOf(SessionStoreError);
        expect((failure as SessionStoreError).cause).toBeInstanceOf(Error);
        const writeFailure = await store
          .set('k2', minimalRecord(), null, 60_000)
          .catch((error: unknown) => error);
        expect(writeFailure).toBeInstanceOf(SessionStoreError);
        expect(Date.now() - started).toBeLessThan(500);
        // A new server on the same port: the client reconnects; the write that failed never lands.
        try {
          await server.start();
          let ok = false;
          for (let i = 0; i < 100 && !ok; i++) {
            await sleep(100);
            ok = await store.set('k3', minimalRecord(), null, 60_000).catch(() => false);
          }
          expect(ok).toBe(true);
          expect(await store.get('k2')).toBeNull();
        } finally {
          await store.close();
          if ('destroy' in client) client.destroy();
          else client.disconnect();
          await server.stop();
        }
      });

      it(`${name}: a call in flight when Redis dies rejects with SessionStoreError at once, and one in flight at a reconnect too`, async () => {
        const server = await startRedisServer();
        const client = await connect(server.url);
        const pauser = await connect(server.url);
        const send = (c: typeof client, args: string[]) =>
          'call' in c ? c.call(args[0] as string, ...args.slice(1)) : c.sendCommand(args);
        const closeListeners = client.listenerCount('close');
        const store = createRedisStore({ client: client as RedisClientLike, prefix: 'own:' });
        /** Follows a call from now on; then how it ended within 1.5 s more: 'answered', its error, or 'pending'. */
        const track = (call: Promise<unknown>) => {
          const outcome = call.then(
            () => 'answered',
            (error: unknown) => error,
          );
          return () => Promise.race([outcome, sleep(1_500).then(() => 'pending')]);
        };
        const until = async (ok: () => Promise<boolean>) => {
          for (let i = 0; i < 100 && !(await ok()); i++) await sleep(50);
        };
        const pause = () =>
          send(pauser, ['CLIENT', 'PAUSE', '5000', 'ALL']).then(
            () => true,
            () => false,
          );
        try {
          expect(await store.set('k', minimalRecord(), null, 60_000)).toBe(true);
          // Redis holds every client's commands (CLIENT PAUSE): the store's call is sent, not yet answered.
          expect(await pause()).toBe(true);
          const dying = track(store.get('k'));
          await sleep(100);
          await server.stop();
          expect(await dying()).toBeInstanceOf(SessionStoreError);
          // Again, with a new server on the port at once: the client reconnects, and nothing is left hanging.
          await server.start();
          await until(() =>
            store.get('k').then(
              () => true,
              () => false,
            ),
          );
          await until(pause);
          const cut = track(store.get('k'));
          await sleep(100);
          await server.stop();
          await server.start();
          expect(await cut()).toBeInstanceOf(SessionStoreError);
          // close() leaves the client's 'close' listeners as they were.
          await store.close();
          expect(client.listenerCount('close')).toBe(closeListeners);
        } finally {
          await store.close();
          for (const c of [client, pauser]) {
            if ('destroy' in c) c.destroy();
            else c.disconnect();
          }
          await server.stop();
        }
      });

      it(`${name}: loads its scripts again after a NOSCRIPT (SCRIPT FLUSH on its own server)`, async () => {
        const server = await startRedisServer();
        const client = await connect(server.url);
        const store = createRedisStore({ client: client as RedisClientLike, prefix: 'own:' });
        try {
          expect(await store.set('k', fullRecord(), null, 60_000)).toBe(true);
          await ('call' in client ? client.call('SCRIPT', 'FLUSH') : client.sendCommand(['SCRIPT', 'FLUSH']));
          expect(await store.set('k', fullRecord({ version: 2 }), 1, 60_000)).toBe(true);
          expect(await store.set('k', fullRecord({ version: 3 }), 1, 60_000)).toBe(false);
          expect((await store.get('k'))?.version).toBe(2);
          expect((await store.listByUser('user-1')).map((e) => e.key)).toEqual(['k']);
          expect(await store.deleteByUser('user-1')).toBe(1);
        } finally {
          await store.close();
          if ('destroy' in client) client.destroy();
          else client.disconnect();
          await server.stop();
        }
      });
    }
  });
});

describe.skipIf(!up)('redis store: ioredis keyPrefix', () => {
  it('counts and finds records under the client keyPrefix too', async () => {
    const keyPrefix = newPrefix();
    const client = new Redis(url.href, { ...ioOptions, keyPrefix });
    await client.connect();
    const store = createRedisStore({ client, prefix: 'p:' });
    try {
      await store.set('a', minimalRecord({ userId: 'alice' }), null, 60_000);
      await store.set('b', minimalRecord(), null, 60_000);
      expect(await store.count()).toBe(2);
      expect(await (cleaner as Redis).exists(`${keyPrefix}p:s:a`)).toBe(1);
      expect((await store.listByUser('alice')).map((e) => e.key)).toEqual(['a']);
    } finally {
      await store.close();
      client.disconnect();
    }
  });
});

describe.skipIf(!up)('redis store: the user index', () => {
  it('is a sorted set per user scored by expiry, pruned as read, reconciled when listed', async () => {
    const prefix = newPrefix();
    const store = createRedisStore({ client: cleaner as Redis, prefix });
    const index = `${prefix}u:alice`;
    await store.set('a', minimalRecord({ userId: 'alice' }), null, 60_000);
    const score = Number(await (cleaner as Redis).zscore(index, 'a'));
    expect(Math.abs(score - (Date.now() + 60_000))).toBeLessThan(5_000);
    // The index key expires with its last member.
    expect(await (cleaner as Redis).pttl(index)).toBeGreaterThan(60_000);
    // An entry long expired is pruned; one whose record is gone or moved to another user is reconciled.
    await (cleaner as Redis).zadd(index, Date.now() - 3_600_000, 'old');
    await (cleaner as Redis).zadd(index, Date.now() + 60_000, 'gone');
    await store.set('b', minimalRecord({ userId: 'bob' }), null, 60_000);
    await (cleaner as Redis).zadd(index, Date.now() + 60_000, 'b');
    expect((await store.listByUser('alice')).map((e) => e.key)).toEqual(['a']);
    expect(await (cleaner as Redis).zrange(index, 0, -1)).toEqual(['a']);
    // A record changing user leaves the old user's set.
    await store.set('a', minimalRecord({ userId: 'bob', version: 2 }), 1, 60_000);
    expect(await (cleaner as Redis).exists(index)).toBe(0);
    await store.close();
  });
});

describe.skipIf(!up)('the session manager over the redis store', () => {
  for (const [name, connect] of [
    ['node-redis', nodeClient],
    ['ioredis', ioClient],
  ] as const) {
    it(`${name}: login, cart, logout, revokeSessions`, async () => {
      const client = await connect();
      const store = createRedisStore({ client: client as RedisClientLike, prefix: newPrefix() });
      const manager = createSessionManager<{ cart: string[] }>({ store });
      const now = () => ({ now: Date.now() });
      try {
        const laptop = new Browser();
        expect(await cartThroughLogin(manager, laptop, now)).toEqual(['alice', ['apple', 'pear']]);
        const phone = new Browser();
        await visit(manager, phone, (s) => s.login('alice'), now());
        expect(await manager.listSessions('alice')).toHaveLength(2);
        await visit(manager, phone, (s) => s.logout(), now());
        expect(await manager.listSessions('alice')).toHaveLength(1);
        expect((await visit(manager, phone, (s) => s.userId, now())).result).toBeUndefined();
        expect(await manager.revokeSessions('alice')).toBe(1);
        expect((await visit(manager, laptop, (s) => s.userId, now())).result).toBeUndefined();
        expect(await manager.listSessions('alice')).toEqual([]);
      } finally {
        await manager.close();
        if ('destroy' in client) client.destroy();
        else client.disconnect();
      }
    });

    for (const [what, scenario] of [
      ['step-up freshness (authenticatedAt, isFresh)', freshnessScenario],
      ['passive requests end at the idle timeout, their writes land', passiveScenario],
    ] as const) {
      it(`${name}: ${what}`, async () => {
        const client = await connect();
        const store = createRedisStore({ client: client as RedisClientLike, prefix: newPrefix() });
        try {
          await scenario(store);
        } finally {
          await store.close();
          if ('destroy' in client) client.destroy();
          else client.disconnect();
        }
      });
    }

    it(`${name}: stolen-id detection, two processes (two clients) on one prefix`, async () => {
      const [c1, c2] = [await connect(), await connect()];
      const prefix = newPrefix();
      const store = createRedisStore({ client: c1 as RedisClientLike, prefix });
      const other = createRedisStore({ client: c2 as RedisClientLike, prefix });
      try {
        await reuseScenario(store, other);
      } finally {
        for (const client of [c1, c2]) {
          if ('destroy' in client) client.destroy();
          else client.disconnect();
        }
      }
    });

    it(`${name}: stolen-id detection of sealed sessions, two processes (two clients) on one prefix`, async () => {
      const [c1, c2] = [await connect(), await connect()];
      const prefix = newPrefix();
      const store = createRedisStore({ client: c1 as RedisClientLike, prefix });
      const other = createRedisStore({ client: c2 as RedisClientLike, prefix });
      try {
        await sealedReuseScenario(store, other);
      } finally {
        for (const client of [c1, c2]) {
          if ('destroy' in client) client.destroy();
          else client.disconnect();
        }
      }
    });

    it(`${name}: 20 parallel updates from two managers on one store all count (compare-and-set)`, async () => {
      const client = await connect();
      const store = createRedisStore({ client: client as RedisClientLike, prefix: newPrefix() });
      const [m1, m2] = [
        createSessionManager<{ n: number }>({ store }),
        createSessionManager<{ n: number }>({ store }),
      ];
      try {
        const browser = new Browser();
        await visit(m1, browser, (s) => s.set('n', 0), { now: Date.now() });
        const cookie = browser.header();
        await Promise.all(
          Array.from({ length: 20 }, async (_, i) => {
            const m = i % 2 === 0 ? m1 : m2;
            const s = await m.load(cookie, { now: Date.now() });
            s.update('n', (n = 0) => n + 1);
            await m.commit(s);
          }),
        );
        expect((await visit(m1, browser, (s) => s.get('n'), { now: Date.now() })).result).toBe(20);
      } finally {
        await store.close();
        if ('destroy' in client) client.destroy();
        else client.disconnect();
      }
    });
  }
});
