/**
 * `teller sessions list|show|revoke|purge` against a real SQLite file, Redis (a key prefix of its own) and
 * PostgreSQL (a table of its own), with sessions made by the real manager: the human and the `--json` output,
 * that no id is ever printed, the effect of a revocation on the next request, and the exit codes of bad input
 * and of a store that does not answer. Redis and PostgreSQL are skipped, with a line saying so, when
 * unreachable (under CI that fails instead).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSessionManager, type SessionEvent, type SessionManager } from '../../src/index.js';
import { type OpenedStore, openStore } from '../../src/stores/url.js';
import { Browser, visit } from '../session/helpers.js';
import { minimalRecord } from '../stores/contract.js';
import { freePort, reachable } from '../support/net.js';
import { assertBuilt, oneLine, teller } from './helpers.js';

assertBuilt();

const redisUrl = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const pgUrl = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
const run = randomBytes(5).toString('hex');
const dir = mkdtempSync(join(tmpdir(), 'teller-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function available(name: string, url: URL, port: number): Promise<boolean> {
  if (await reachable(url.hostname, Number(url.port || port))) return true;
  if (process.env.CI) throw new Error(`${name} is unreachable at ${url.host}: the CLI tests need it in CI`);
  console.warn(`[cli/sessions.test] ${name} is unreachable at ${url.host}: its CLI tests are skipped`);
  return false;
}

const redisPrefix = `teller-test:cli-${run}:`;
const pgTable = `teller_cli_${run}`;
const kinds = [
  { kind: 'sqlite', url: `sqlite:${join(dir, 'sessions.db')}`, up: true },
  {
    kind: 'redis',
    url: `redis://${redisUrl.host}/?prefix=${encodeURIComponent(redisPrefix)}`,
    up: await available('Redis', redisUrl, 6379),
  },
  {
    kind: 'postgres',
    url: `${pgUrl.href}${pgUrl.search ? '&' : '?'}table=${pgTable}`,
    up: await available('PostgreSQL', pgUrl, 5432),
  },
] as const;

afterAll(async () => {
  if (kinds[1].up) {
    const redis = new Redis(redisUrl.href);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${redisPrefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
  }
  if (kinds[2].up) {
    const pool = new pg.Pool({ connectionString: pgUrl.href });
    await pool.query(`DROP TABLE IF EXISTS "${pgTable}"`);
    await pool.end();
  }
});

interface Listed {
  key: string;
  state: string;
  userId: string | null;
  persistent: boolean;
  userAgent: string | null;
  ip: string | null;
  lastSeenAt: number;
}

for (const { kind, url, up } of kinds) {
  describe.skipIf(!up)(`teller sessions on ${kind}`, () => {
    let opened: OpenedStore;
    let manager: SessionManager<{ cart?: string[]; n?: number }>;
    const alice = [new Browser(), new Browser()];
    const bob = new Browser();
    const guest = new Browser();
    const context = () => ({ now: Date.now(), userAgent: 'TestAgent/1', ip: '203.0.113.9' });
    /** Every raw id handed out: none may ever appear in the CLI's output. */
    const ids = () => [...alice, bob, guest].map((b) => b.value()).filter((v) => v !== undefined) as string[];
    const store = ['--store', url];

    beforeAll(async () => {
      opened = await openStore(url);
      manager = createSessionManager({ store: opened.store });
      for (const browser of alice) {
        await visit(manager, browser, (s) => s.set('cart', ['apple']), context());
        await visit(manager, browser, (s) => s.login('alice'), context());
      }
      await visit(manager, bob, (s) => s.login('bob'), context());
      await visit(manager, guest, (s) => s.set('n', 7), context());
    });
    afterAll(async () => {
      await manager?.close();
      await opened?.close();
    });

    const live = (list: Listed[]) => list.filter((entry) => entry.state === 'live');

    it('list --json: every session by its key with its facts, never an id', async () => {
      const result = await teller(['sessions', 'list', ...store, '--json']);
      expect(result.code, result.stderr).toBe(0);
      const list = JSON.parse(result.stdout) as Listed[];
      const users = live(list).map((entry) => entry.userId);
      expect(users.sort()).toEqual(['alice', 'alice', 'bob', null]);
      for (const entry of live(list)) {
        expect(entry.key).toMatch(/^[A-Za-z0-9_-]{43}$/);
        expect(entry).toMatchObject({ userAgent: 'TestAgent/1', ip: '203.0.113.9', persistent: false });
      }
      // The ids the login rotated away are kept as ended markers.
      expect(list.filter((entry) => entry.state === 'ended').length).toBeGreaterThanOrEqual(2);
      for (const id of ids()) expect(result.stdout).not.toContain(id);
    });

    it('list (human): a header, a line per session, the count', async () => {
      const result = await teller(['sessions', 'list', ...store]);
      expect(result.code, result.stderr).toBe(0);
      const lines = result.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^KEY\s+STATE\s+USER\s+LAST SEEN\s+EXPIRES$/);
      expect(lines.filter((line) => /\blive\s+alice\s+\d{4}-/.test(line))).toHaveLength(2);
      expect(lines.at(-1)).toMatch(new RegExp(`^${lines.length - 2} sessions$`));
      for (const id of ids()) expect(result.stdout).not.toContain(id);
    });

    it('list --user and --limit', async () => {
      const mine = JSON.parse(
        (await teller(['sessions', 'list', ...store, '--user', 'alice', '--json'])).stdout,
      );
      expect(live(mine).map((entry: Listed) => entry.userId)).toEqual(['alice', 'alice']);
      const one = await teller(['sessions', 'list', ...store, '--limit', '1', '--json']);
      expect(JSON.parse(one.stdout)).toHaveLength(1);
      const none = await teller(['sessions', 'list', ...store, '--user', 'nobody', '--json']);
      expect(JSON.parse(none.stdout)).toEqual([]);
    });

    it('show: a key as list prints it, or --id with the cookie value; the data decoded', async () => {
      const list = JSON.parse((await teller(['sessions', 'list', ...store, '--json'])).stdout) as Listed[];
      const guestKey = live(list).find((entry) => entry.userId === null)!.key;
      const byKey = await teller(['sessions', 'show', ...store, '--json', '--', guestKey]);
      expect(byKey.code, byKey.stderr).toBe(0);
      const shown = JSON.parse(byKey.stdout);
      expect(shown).toMatchObject({ key: guestKey, state: 'live', userId: null, data: { n: 7 } });
      expect(shown.record.version).toBeGreaterThanOrEqual(1);
      const byId = await teller(['sessions', 'show', '--id', ...store, '--json', '--', guest.value()!]);
      expect(JSON.parse(byId.stdout).key).toBe(guestKey);
      expect(byId.stdout).not.toContain(guest.value()!);
      const human = await teller(['sessions', 'show', ...store, '--', guestKey]);
      expect(human.stdout).toMatch(/^key:\s+\S{43}$/m);
      expect(human.stdout).toMatch(/^state:\s+live$/m);
      expect(human.stdout).toContain('data:\n{\n  "n": 7\n}');
    });

    it('show of an unknown key: exit 1, one line on stderr', async () => {
      const result = await teller(['sessions', 'show', 'A'.repeat(43), ...store]);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(oneLine(result)).toMatch(/^teller: no session under the key A{43}$/);
    });

    it('revoke <key> ends that session: its next request is anonymous, and a reuse', async () => {
      const list = JSON.parse(
        (await teller(['sessions', 'list', ...store, '--user', 'bob', '--json'])).stdout,
      ) as Listed[];
      const key = live(list)[0]!.key;
      const result = await teller(['sessions', 'revoke', ...store, '--', key]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toBe('1 session revoked\n');
      // Left as revokeSessions leaves it: a retirement record, out of bob's sessions.
      const retired = await opened.store.get(key);
      expect(retired?.retired).toMatchObject({ by: 'revoke', user: 'bob' });
      expect(retired?.userId).toBeUndefined();
      const events: SessionEvent[] = [];
      const watching = createSessionManager({ store: opened.store, onEvent: (e) => events.push(e) });
      const next = await visit(watching, bob, (s) => s.userId, context());
      expect(next.result).toBeUndefined();
      expect(events.filter((e) => e.type === 'reuse')).toEqual([
        expect.objectContaining({ userId: 'bob', retiredBy: 'revoke' }),
      ]);
      // Not closed: closing a manager closes its store, which the other tests go on using.
      const again = await teller(['sessions', 'revoke', ...store, '--json', '--', key]);
      expect(JSON.parse(again.stdout)).toEqual({ revoked: 0 });
    });

    it('revoke --user ends every session of the user (the manager’s revokeSessions)', async () => {
      const result = await teller(['sessions', 'revoke', '--user', 'alice', ...store, '--json']);
      expect(result.code, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual({ revoked: 2 });
      for (const browser of alice)
        expect((await visit(manager, browser, (s) => s.userId, context())).result).toBe(undefined);
      const after = JSON.parse(
        (await teller(['sessions', 'list', ...store, '--user', 'alice', '--json'])).stdout,
      );
      expect(live(after)).toEqual([]);
    });

    it('revoke with neither or both of a key and --user: a usage error (exit 2)', async () => {
      for (const args of [[], ['k', '--user', 'alice'], ['--except', 'k', 'k']]) {
        const result = await teller(['sessions', 'revoke', ...args, ...store]);
        expect(result.code, args.join(' ')).toBe(2);
        expect(oneLine(result)).toMatch(/^teller: /);
      }
    });

    if (kind === 'redis') {
      it('purge says plainly that Redis expires records itself (exit 0)', async () => {
        const human = await teller(['sessions', 'purge', ...store]);
        expect(human.code).toBe(0);
        expect(human.stdout).toMatch(/Redis drops each record itself .*nothing to purge/);
        const json = JSON.parse((await teller(['sessions', 'purge', ...store, '--json'])).stdout);
        expect(json).toMatchObject({ purged: 0, supported: false });
      });
    } else {
      it('purge deletes the records whose lifetime ended, and only those', async () => {
        const key = `cli-dead-${run}`;
        await opened.store.set(key, minimalRecord(), null, 1);
        await new Promise((resolve) => setTimeout(resolve, 20));
        const before = await opened.store.count!();
        const result = await teller(['sessions', 'purge', ...store, '--json']);
        expect(result.code, result.stderr).toBe(0);
        const json = JSON.parse(result.stdout);
        expect(json).toMatchObject({ supported: true });
        expect(json.purged).toBeGreaterThanOrEqual(1);
        expect(await opened.store.count!()).toBe(before);
        const human = await teller(['sessions', 'purge', ...store]);
        expect(human.stdout).toMatch(/^purged 0 expired session records in \d+\.\d s\n$/);
      });
    }
  });
}

describe('teller sessions: bad input and unreachable stores', () => {
  it('a store URL of no known kind is a usage error (exit 2)', async () => {
    const result = await teller(['sessions', 'list', '--store', 'mysql://h/db']);
    expect(result.code).toBe(2);
    expect(oneLine(result)).toMatch(/not a store URL/);
  });

  it('--store is required (exit 2), and TELLER_STORE gives it', async () => {
    const missing = await teller(['sessions', 'list']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/required option '--store <url>'/);
    const fromEnv = await teller(['sessions', 'list', '--json'], { TELLER_STORE: 'memory:' });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
    expect(JSON.parse(fromEnv.stdout)).toEqual([]);
  });

  it('a SQLite file that does not exist is not created (exit 1)', async () => {
    const file = join(dir, 'typo.db');
    const result = await teller(['sessions', 'list', '--store', `sqlite:${file}`]);
    expect(result.code).toBe(1);
    expect(oneLine(result)).toBe(`teller: --store: no SQLite file at ${file}`);
  });

  it('--limit must be a whole number (exit 2)', async () => {
    const result = await teller(['sessions', 'list', '--store', 'memory:', '--limit', 'x']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--limit must be a whole number >= 1/);
  });

  it('Redis and PostgreSQL that do not answer: exit 1, one line naming the URL with its password masked', async () => {
    const port = await freePort();
    const redis = await teller(['sessions', 'list', '--store', `redis://:s3cret@127.0.0.1:${port}`]);
    expect(redis.code).toBe(1);
    expect(oneLine(redis)).toMatch(
      /^teller: \[store-url\] redis:\/\/:\*\*\*@127\.0\.0\.1:\d+.*cannot connect/,
    );
    expect(redis.stderr).not.toContain('s3cret');
    const postgres = await teller([
      'sessions',
      'purge',
      '--store',
      `postgres://u:s3cret@127.0.0.1:${port}/db`,
    ]);
    expect(postgres.code).toBe(1);
    expect(oneLine(postgres)).toMatch(/^teller: \[store-url\] postgres:\/\/u:\*\*\*@127\.0\.0\.1/);
    expect(postgres.stderr).not.toContain('s3cret');
  });
});
