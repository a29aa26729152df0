import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SessionStoreError } from '../../src/session/errors.js';
import { createSessionManager } from '../../src/session/manager.js';
import type { SessionRecord, SessionStore } from '../../src/session/store.js';
import { createSqliteStore, type SqliteDatabase, type SqliteStatement } from '../../src/stores/sqlite.js';
import { reuseScenario, sealedReuseScenario } from '../session/helpers.js';
import { fullRecord, minimalRecord, runStoreContract } from './contract.js';

const dir = mkdtempSync(path.join(tmpdir(), 'teller-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const newFile = () => path.join(dir, `sessions-${++files}.db`);
/** Runs `fn` once in every turn of the event loop (a setImmediate each) until the returned stop is called. */
const watchEachTurn = (fn: () => void): (() => void) => {
  let handle = setImmediate(function again() {
    fn();
    handle = setImmediate(again);
  });
  return () => clearImmediate(handle);
};
/** What `fn` throws (undefined when it returns). */
const thrown = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (error) {
    return error;
  }
};

runStoreContract(
  'sqlite (a Database passed in, :memory:)',
  ({ clock }) => {
    const database = new Database(':memory:');
    const store = createSqliteStore({ database, clock });
    return {
      store,
      cleanup: async () => {
        await store.close();
        database.close();
      },
    };
  },
  {
    abilities: {
      userIndex: true,
      retireByUser: true,
      purgeExpired: true,
      count: true,
      scan: true,
      clock: 'fake',
    },
  },
);

runStoreContract(
  'sqlite (a file the store opens)',
  ({ clock }) => {
    const store = createSqliteStore({ filename: newFile(), clock });
    return { store, cleanup: () => store.close() };
  },
  {
    abilities: {
      userIndex: true,
      retireByUser: true,
      purgeExpired: true,
      count: true,
      scan: true,
      clock: 'fake',
    },
  },
);

describe('sqlite store: its own behaviour', () => {
  it('survives a restart: write, close, reopen the file, read', async () => {
    const filename = newFile();
    const first = createSqliteStore({ filename });
    const record = fullRecord({ data: JSON.stringify({ counter: 41, name: 'Zoë' }) });
    expect(await first.set('key-1', record, null, 60_000)).toBe(true);
    await first.close();

    const second = createSqliteStore({ filename });
    expect(await second.get('key-1')).toStrictEqual(record);
    expect(await second.set('key-1', { ...record, version: 2 }, 1, 60_000)).toBe(true);
    expect((await second.listByUser('user-1')).map((e) => e.key)).toEqual(['key-1']);
    await second.close();
  });

  it('opens the file at creation, in WAL mode, its table created', async () => {
    const filename = newFile();
    const store = createSqliteStore({ filename });
    // Fail fast: the factory has opened the file, so a bad path or a missing package fails there.
    const db = new Database(filename, { fileMustExist: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.prepare('SELECT count(*) AS n FROM teller_sessions').get()).toEqual({ n: 0 });
    db.close();
    await store.close();
  });

  it('fails at creation, naming the file, when it cannot be opened as a database', () => {
    const notADatabase = newFile();
    writeFileSync(notADatabase, 'x'.repeat(4096));
    const cases: Array<[what: string, filename: string, reason: RegExp]> = [
      ['a missing directory', path.join(dir, 'missing', 'sessions.db'), /directory does not exist/],
      ['a directory', dir, /unable to open database file/],
      ['a file that is not a database', notADatabase, /not a database/],
    ];
    for (const [what, filename, reason] of cases) {
      const error = thrown(() => createSqliteStore({ filename }));
      expect(error, what).toBeInstanceOf(Error);
      expect((error as Error).message, what).toBe(
        `[teller] [sqlite-store] cannot open the SQLite file ${JSON.stringify(filename)}: ${((error as Error).cause as Error).message}`,
      );
      expect(((error as Error).cause as Error).message, what).toMatch(reason);
    }
  });

  it('leaves a passed Database open and configured as it was after close()', async () => {
    const database = new Database(':memory:');
    const store = createSqliteStore({ database, table: 'my_sessions' });
    await store.set('k', minimalRecord(), null, 1_000);
    await store.close();
    expect(database.open).toBe(true);
    expect(database.prepare('SELECT count(*) AS n FROM my_sessions').get()).toEqual({ n: 1 });
    await expect(store.get('k')).rejects.toThrow(/\[teller\] \[sqlite-store\] the store is closed/);
    database.close();
  });

  it('compare-and-set holds across two connections to one file (two processes)', async () => {
    const filename = newFile();
    const a = createSqliteStore({ filename });
    const b = createSqliteStore({ filename });
    await a.set('shared', minimalRecord({ version: 1 }), null, 60_000);
    expect(await b.set('shared', minimalRecord({ version: 2, data: '"b"' }), 1, 60_000)).toBe(true);
    expect(await a.set('shared', minimalRecord({ version: 2, data: '"a"' }), 1, 60_000)).toBe(false);
    expect(await a.get('shared')).toMatchObject({ version: 2, data: '"b"' });
    expect(await b.set('fresh', minimalRecord(), null, 60_000)).toBe(true);
    expect(await a.set('fresh', minimalRecord(), null, 60_000)).toBe(false);
    await a.close();
    await b.close();
  });

  it('keeps a row through its ttl by its clock, then treats it as absent and purges it', async () => {
    let now = 10_000;
    const database = new Database(':memory:');
    const store = createSqliteStore({ database, clock: () => now, cleanupInterval: 0 });
    await store.set('k', minimalRecord({ userId: 'u' }), null, 2_000);
    now = 12_000;
    expect(await store.get('k')).not.toBeNull();
    now = 12_001;
    expect(await store.get('k')).toBeNull();
    expect(await store.listByUser('u')).toEqual([]);
    expect(await store.count()).toBe(0);
    expect(await store.set('k', minimalRecord({ version: 2 }), 1, 2_000)).toBe(false);
    // The dead row is still on disk until purged; a first write takes its key over.
    expect(database.prepare('SELECT count(*) AS n FROM teller_sessions').get()).toEqual({ n: 1 });
    expect(await store.set('k', minimalRecord({ data: '"new"' }), null, 2_000)).toBe(true);
    expect((await store.get('k'))?.data).toBe('"new"');
    now = 20_000;
    expect(await store.purgeExpired(now)).toBe(1);
    expect(database.prepare('SELECT count(*) AS n FROM teller_sessions').get()).toEqual({ n: 0 });
    await store.close();
    database.close();
  });

  it('purges in batches (more rows than one batch)', async () => {
    let now = 0;
    const database = new Database(':memory:');
    const store = createSqliteStore({ database, clock: () => now, cleanupInterval: 0 });
    for (let i = 0; i < 1_234; i++) await store.set(`k${i}`, minimalRecord(), null, 1_000);
    now = 5_000;
    expect(await store.purgeExpired(now)).toBe(1_234);
    await store.close();
    database.close();
  });

  it('purges one batch per turn of the event loop, and a second purge waits for the first', async () => {
    let now = 0;
    const database = new Database(':memory:');
    const store = createSqliteStore({ database, clock: () => now, cleanupInterval: 0 });
    for (let i = 0; i < 1_600; i++) await store.set(`k${i}`, minimalRecord(), null, 1_000);
    now = 5_000;
    // Count the rows left at each turn of the loop while the purge goes on.
    const seen: number[] = [];
    const rows = database.prepare('SELECT count(*) FROM teller_sessions').pluck(true);
    const stop = watchEachTurn(() => seen.push(rows.get() as number));
    const [first, second] = await Promise.all([store.purgeExpired(now), store.purgeExpired(now)]);
    stop();
    expect(first + second).toBe(1_600);
    expect(first).toBe(1_600);
    // The loop turned between batches: some turns saw a table partly purged.
    expect(seen.some((n) => n > 0 && n < 1_600)).toBe(true);
    await store.close();
    database.close();
  });

  it("revokes a user's sessions in batches, a turn of the loop between them, keeping the one excepted", async () => {
    const now = 0;
    const database = new Database(':memory:');
    const store = createSqliteStore({ database, clock: () => now, cleanupInterval: 0 });
    const mine = { ...minimalRecord(), userId: 'u1' };
    for (let i = 0; i < 1_600; i++) await store.set(`k${i}`, mine, null, 60_000);
    await store.set('other', { ...minimalRecord(), userId: 'u2' }, null, 60_000);
    const seen: number[] = [];
    const rows = database.prepare(`SELECT count(*) FROM teller_sessions WHERE user_id = 'u1'`).pluck(true);
    const stop = watchEachTurn(() => seen.push(rows.get() as number));
    const removed = await store.deleteByUser('u1', { exceptKey: 'k7' });
    stop();
    expect(removed).toBe(1_599);
    expect(seen.some((n) => n > 1 && n < 1_600)).toBe(true);
    expect((await store.listByUser('u1')).map(({ key }) => key)).toEqual(['k7']);
    expect(await store.listByUser('u2')).toHaveLength(1);
    await store.close();
    database.close();
  });

  it('counts the live rows in chunks of the index, exact across chunks and equal drop times', async () => {
    const now = 1_000_000;
    const database = new Database(':memory:');
    const store = createSqliteStore({ database, clock: () => now, cleanupInterval: 0 });
    expect(await store.count()).toBe(0); // creates the table
    const insert = database.prepare(
      `INSERT INTO teller_sessions (key, version, expires_at, data, created_at, last_seen_at, meta)
       VALUES (?, 1, ?, '{}', 0, 0, '{}')`,
    );
    // 130,001 rows over three drop times (many equal ones: the chunks' bounds fall inside runs of them),
    // one in three already dead: more than two chunks of the first size (50,000).
    let live = 0;
    database.transaction(() => {
      for (let i = 0; i <= 130_000; i++) {
        const dropAt = [now - 1, now, now + 5][i % 3] as number;
        if (dropAt >= now) live++;
        insert.run(`k${i}` as never, dropAt as never);
      }
    })();
    let turns = 0;
    const stop = watchEachTurn(() => turns++);
    expect(await store.count()).toBe(live);
    stop();
    expect(turns).toBeGreaterThan(0);
    await store.close();
    database.close();
  });

  it('a SQLite failure rejects with a SessionStoreError (503) carrying the cause, never a raw error', async () => {
    const database = new Database(':memory:');
    const store = createSqliteStore({ database });
    await store.count();
    database.exec('DROP TABLE teller_sessions');
    const error = await store.get('k').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionStoreError);
    expect((error as SessionStoreError).status).toBe(503);
    expect((error as Error).message).toBe('[teller] [sqlite-store] get failed');
    expect((error as Error).cause).toBeInstanceOf(Error);
    await store.close();
    database.close();
  });

  it('a failing write rejects with a SessionStoreError, and writes of one turn fail together', async () => {
    const database = new Database(':memory:');
    const store = createSqliteStore({ database });
    await store.set('a', minimalRecord(), null, 60_000);
    database.exec('DROP TABLE teller_sessions');
    const results = await Promise.allSettled([
      store.set('b', minimalRecord(), null, 60_000),
      store.delete('a'),
      store.deleteByUser('u'),
    ]);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      expect((result as PromiseRejectedResult).reason).toBeInstanceOf(SessionStoreError);
    }
    expect(database.inTransaction).toBe(false);
    await store.close();
    database.close();
  });

  it('writes issued in one turn commit in one transaction, in order, each with its own result', async () => {
    const database = new Database(':memory:');
    const store = createSqliteStore({ database });
    await store.set('x', minimalRecord({ version: 1 }), null, 60_000);
    const results = await Promise.all([
      store.set('x', minimalRecord({ version: 2, data: '"first"' }), 1, 60_000),
      store.set('x', minimalRecord({ version: 2, data: '"second"' }), 1, 60_000),
      store.set('y', minimalRecord(), null, 60_000),
      store.delete('y'),
      store.set('y', minimalRecord({ data: '"y again"' }), null, 60_000),
    ]);
    expect(results).toEqual([true, false, true, undefined, true]);
    expect((await store.get('x'))?.data).toBe('"first"');
    expect((await store.get('y'))?.data).toBe('"y again"');
    await store.close();
    database.close();
  });

  it('joins a transaction the application holds open instead of failing', async () => {
    const database = new Database(':memory:');
    const store = createSqliteStore({ database });
    await store.count();
    database.exec('BEGIN');
    const writes = Promise.all([
      store.set('a', minimalRecord(), null, 1_000),
      store.set('b', minimalRecord(), null, 1_000),
    ]);
    await new Promise((resolve) => setImmediate(resolve));
    database.exec('COMMIT');
    expect(await writes).toEqual([true, true]);
    expect(await store.count()).toBe(2);
    await store.close();
    database.close();
  });

  it('close() runs the writes still queued', async () => {
    const filename = newFile();
    const store = createSqliteStore({ filename });
    const write = store.set('late', minimalRecord(), null, 60_000);
    await store.close();
    expect(await write).toBe(true);
    const again = createSqliteStore({ filename });
    expect(await again.get('late')).not.toBeNull();
    await again.close();
  });

  it('rejects bad options and arguments with a TypeError', async () => {
    expect(() => createSqliteStore({ filename: '' })).toThrow(TypeError);
    expect(() => createSqliteStore({ filename: newFile(), table: 'x; DROP TABLE y' })).toThrow(/table/);
    for (const bad of [-1, 1.5, Number.NaN, '10' as unknown as number]) {
      expect(() => createSqliteStore({ filename: newFile(), cacheSize: bad })).toThrow(
        new TypeError('[teller] [sqlite-store] cacheSize must be an integer >= 0'),
      );
      expect(() => createSqliteStore({ filename: newFile(), busyTimeout: bad })).toThrow(
        new TypeError('[teller] [sqlite-store] busyTimeout must be an integer >= 0'),
      );
    }
    const passedIn = { database: new Database(':memory:'), cacheSize: 5 } as never;
    expect(() => createSqliteStore(passedIn)).toThrow(
      /busyTimeout, cacheSize and checkpoints are for a file the store opens/,
    );
    expect(() => createSqliteStore({ filename: newFile(), checkpoints: 'later' as never })).toThrow(
      new TypeError(`[teller] [sqlite-store] checkpoints must be 'background' or 'inline'`),
    );
    const store = createSqliteStore({ database: new Database(':memory:') });
    await expect(store.set('k', minimalRecord(), null, Number.POSITIVE_INFINITY)).rejects.toThrow(TypeError);
    await expect(store.set('k', minimalRecord(), 1.5, 1)).rejects.toThrow(/expected/);
  });

  it('says plainly "install better-sqlite3" when it is missing, at creation', async () => {
    // A copy of the module outside the repository, where no node_modules holds better-sqlite3.
    const root = mkdtempSync(path.join(tmpdir(), 'teller-nodeps-'));
    try {
      // The whole source tree, so the copy holds whatever modules sqlite.ts imports.
      cpSync('src', path.join(root, 'src'), { recursive: true });
      const isolated = (await import(
        path.join(root, 'src/stores/sqlite.ts')
      )) as typeof import('../../src/stores/sqlite.js');
      const filename = path.join(root, 'x.db');
      // Not at the first request (the server would start and answer every write with a 503): here.
      expect(() => isolated.createSqliteStore({ filename })).toThrow(
        new Error(
          '[teller] [sqlite-store] install better-sqlite3 to use a SQLite file: npm install better-sqlite3',
        ),
      );
      const error = thrown(() => isolated.createSqliteStore({ filename }));
      // Not a TypeError (the options are right) nor a 503 SessionStoreError (no request is being answered).
      expect(Object.getPrototypeOf(error)).toBe(Error.prototype);
      expect((error as Error).cause).toBeInstanceOf(Error);
      expect(existsSync(filename)).toBe(false);
      // A Database passed in needs no package.
      const store = isolated.createSqliteStore({ database: new Database(':memory:') });
      expect(await store.set('k', minimalRecord(), null, 1_000)).toBe(true);
      await store.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

/**
 * Runs `source` in another node process, with better-sqlite3 from this repository and `file` as
 * `process.argv[1]`; resolves once the process printed "ready". The caller kills it.
 */
function otherProcess(source: string, file: string) {
  const child = spawn(process.execPath, ['-e', source, file], { cwd: process.cwd(), stdio: 'pipe' });
  const ready = new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk;
      if (out.includes('ready')) resolve();
    });
    child.once('exit', (code) =>
      reject(new Error(`the other process exited with ${code} before it was ready`)),
    );
  });
  return { child, ready };
}

/** Another process holding the file's write lock for `ms`, then committing. */
const HOLD_LOCK = (ms: number) => `
const Database = require('better-sqlite3');
const db = new Database(process.argv[1]);
db.exec('BEGIN IMMEDIATE');
process.stdout.write('ready\\n');
setTimeout(() => { db.exec('COMMIT'); db.close(); }, ${ms});
`;

/**
 * Writes `record` under `key` as an update (version 2 over a first version): the store keeps a copy of the
 * records it updated in its last two turns, and answers the next read from it.
 */
async function updated(store: SessionStore, key: string, record: SessionRecord, ttlMs = 60_000) {
  expect(await store.set(key, minimalRecord(), null, ttlMs)).toBe(true);
  expect(await store.set(key, { ...record, version: 2 }, 1, ttlMs)).toBe(true);
}

describe('sqlite store: the copies it keeps of the records (a file it opened)', () => {
  it('a read sees what another connection wrote, deleted or wrote again since the copy was taken', async () => {
    const filename = newFile();
    const a = createSqliteStore({ filename });
    const b = createSqliteStore({ filename });
    await updated(a, 'k', minimalRecord({ data: '"a2"' }));
    expect((await b.get('k'))?.data).toBe('"a2"');
    expect(await b.set('k', minimalRecord({ version: 3, data: '"b3"' }), 2, 60_000)).toBe(true);
    expect(await a.get('k')).toMatchObject({ version: 3, data: '"b3"' });
    await updated(a, 'gone', minimalRecord());
    await b.delete('gone');
    expect(await a.get('gone')).toBeNull();
    // Turn after turn, each store reading what the other just wrote, or what it wrote itself.
    for (let v = 4; v <= 200; v++) {
      const [writer, reader] = v % 3 === 0 ? [a, b] : [b, a];
      expect(await writer.set('k', minimalRecord({ version: v, data: `"${v}"` }), v - 1, 60_000)).toBe(true);
      const [theirs, mine] = await Promise.all([reader.get('k'), writer.get('k')]);
      expect(theirs).toMatchObject({ version: v, data: `"${v}"` });
      expect(mine).toMatchObject({ version: v, data: `"${v}"` });
    }
    await a.close();
    await b.close();
  });

  it('a read sees what another process wrote to the file', async () => {
    const filename = newFile();
    const store = createSqliteStore({ filename });
    await updated(store, 'k', fullRecord({ data: '"mine"' }));
    execFileSync(
      process.execPath,
      [
        '-e',
        `const db = new (require('better-sqlite3'))(process.argv[1]);
         db.prepare("UPDATE teller_sessions SET data = '\\"theirs\\"', version = 3 WHERE key = 'k'").run();
         db.close();`,
        filename,
      ],
      { cwd: process.cwd() },
    );
    expect(await store.get('k')).toStrictEqual(fullRecord({ data: '"theirs"', version: 3 }));
    await store.close();
  });

  it('gives back exactly what its row holds, also for records it keeps no copy of', async () => {
    const filename = newFile();
    const store = createSqliteStore({ filename });
    const reader = createSqliteStore({ filename, cacheSize: 0 });
    const records: Array<[string, SessionRecord]> = [
      ['the manager shape', fullRecord()],
      ['a field the store does not know', { ...fullRecord(), later: { nested: [1, 'x'] } } as SessionRecord],
      ['meta with another field', fullRecord({ meta: { ip: '::1', other: 1 } as SessionRecord['meta'] })],
      ['a lone surrogate in data', minimalRecord({ data: '"\ud800"' })],
      ['a lone surrogate in userId', minimalRecord({ userId: 'u\udc00' })],
      ['-0 and a fraction', minimalRecord({ expiresAt: -0, lastSeenAt: 1.5 })],
      ['explicit undefined fields', minimalRecord({ userId: undefined, persistent: undefined })],
    ];
    for (const [what, record] of records) {
      const key = `k-${what}`;
      await updated(store, key, record);
      // From the copy, if one was kept: as the row gives it back.
      const [fromCopy, fromRow] = await Promise.all([store.get(key), reader.get(key)]);
      expect(fromCopy, what).toStrictEqual(fromRow);
      expect(fromRow, what).toMatchObject({ version: 2 });
    }
    await store.close();
    await reader.close();
  });

  it('stores a record as it was when set() was called, though the caller changes it before the write runs', async () => {
    const store = createSqliteStore({ filename: newFile() });
    const first = fullRecord();
    const inserting = store.set('k', first, null, 60_000);
    first.data = '"changed"';
    expect(await inserting).toBe(true);
    const second = fullRecord({ version: 2 });
    const updating = store.set('k', second, 1, 60_000);
    second.data = '"changed"';
    second.meta!.ip = 'changed';
    expect(await updating).toBe(true);
    expect(await store.get('k')).toStrictEqual(fullRecord({ version: 2 }));
    expect(await store.get('k')).toStrictEqual(fullRecord({ version: 2 }));
    await store.close();
  });

  it('answers right with few copies or none (cacheSize 2, 0)', async () => {
    for (const cacheSize of [2, 0]) {
      const store = createSqliteStore({ filename: newFile(), cacheSize });
      const keys = ['k0', 'k1', 'k2', 'k3', 'k4'];
      await Promise.all(keys.map((key) => store.set(key, minimalRecord(), null, 60_000)));
      await Promise.all(
        keys.map((key) => store.set(key, minimalRecord({ version: 2, data: `"${key}"` }), 1, 60_000)),
      );
      const read = await Promise.all(keys.map((key) => store.get(key)));
      expect(read.map((r) => r?.data)).toEqual(keys.map((key) => `"${key}"`));
      await store.close();
    }
  });

  it('a copy goes with its row: past its drop time, with purgeExpired (any time given) and deleteByUser', async () => {
    let now = 10_000;
    const store = createSqliteStore({ filename: newFile(), clock: () => now, cleanupInterval: 0 });
    await Promise.all([
      store.set('short', minimalRecord(), null, 1_000),
      store.set('long', minimalRecord({ userId: 'u' }), null, 60_000),
      store.set('other', minimalRecord({ userId: 'v' }), null, 60_000),
    ]);
    // Each copy is taken by an update in the same turn as the call that must drop it.
    await store.set('short', minimalRecord({ version: 2 }), 1, 1_000);
    now = 11_001;
    expect(await store.get('short')).toBeNull();
    const [, revoked] = await Promise.all([
      store.set('long', minimalRecord({ version: 2, userId: 'u' }), 1, 60_000),
      store.deleteByUser('u'),
    ]);
    expect(revoked).toBe(1);
    expect(await store.get('long')).toBeNull();
    // A purge at a time past the row's drop time, though the store's clock has not got there.
    const [, purged] = await Promise.all([
      store.set('other', minimalRecord({ version: 2, userId: 'v' }), 1, 60_000),
      store.purgeExpired(now + 120_000),
    ]);
    expect(purged).toBe(2);
    expect(await store.get('other')).toBeNull();
    await store.close();
  });
});

describe('sqlite store: writes of one turn in one transaction', () => {
  it('a statement that fails fails alone: the others of its transaction are written, in order', async () => {
    const database = new Database(':memory:');
    const store = createSqliteStore({ database });
    await store.set('x', minimalRecord(), null, 60_000);
    const results = await Promise.allSettled([
      store.set('a', minimalRecord({ data: '"a"' }), null, 60_000),
      // NaN is bound as NULL: the NOT NULL constraint refuses this row.
      store.set('b', minimalRecord({ createdAt: Number.NaN }), null, 60_000),
      store.set('x', minimalRecord({ version: 2, data: '"x2"' }), 1, 60_000),
      store.set('x', minimalRecord({ version: 2, data: '"x2 again"' }), 1, 60_000),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : undefined))).toEqual([
      true,
      undefined,
      true,
      false,
    ]);
    const reason = (results[1] as PromiseRejectedResult).reason as SessionStoreError;
    expect(reason).toBeInstanceOf(SessionStoreError);
    expect(reason.message).toBe('[teller] [sqlite-store] set failed');
    expect((reason.cause as { code?: string }).code).toBe('SQLITE_CONSTRAINT_NOTNULL');
    expect((await store.get('a'))?.data).toBe('"a"');
    expect(await store.get('b')).toBeNull();
    expect((await store.get('x'))?.data).toBe('"x2"');
    expect(database.inTransaction).toBe(false);
    await store.close();
    database.close();
  });
});

describe("sqlite store: another process's write lock on the file", () => {
  it('a write waits for it, synchronously, and goes through once it is released: longer than storeTimeout, yet no timeout', async () => {
    const filename = newFile();
    const store = createSqliteStore({ filename, busyTimeout: 5_000 });
    const events: string[] = [];
    const manager = createSessionManager<{ n: number }>({
      store,
      storeTimeout: 100,
      onEvent: (e) => events.push(e.type),
    });
    const first = await manager.load(undefined);
    first.set('n', 1);
    const cookie = (await manager.commit(first)).setCookie[0]!.split(';')[0]!;
    const other = otherProcess(HOLD_LOCK(400), filename);
    try {
      await other.ready;
      const started = performance.now();
      // Reads do not wait for a writer (WAL).
      const session = await manager.load(cookie);
      expect(performance.now() - started).toBeLessThan(300);
      session.set('n', 2);
      await manager.commit(session);
      expect(performance.now() - started).toBeGreaterThan(250);
      expect((await manager.load(cookie)).get('n')).toBe(2);
      expect(events).not.toContain('store-error');
    } finally {
      other.child.kill();
      await manager.close();
    }
  });

  it('a write fails with a SessionStoreError (503) after busyTimeout when the lock is not released', async () => {
    const filename = newFile();
    const store = createSqliteStore({ filename, busyTimeout: 200 });
    await store.set('k', minimalRecord(), null, 60_000);
    const other = otherProcess(HOLD_LOCK(10_000), filename);
    try {
      await other.ready;
      const started = performance.now();
      const error = await store.set('k', minimalRecord({ version: 2 }), 1, 60_000).catch((e: unknown) => e);
      const waited = performance.now() - started;
      expect(error).toBeInstanceOf(SessionStoreError);
      expect((error as SessionStoreError).status).toBe(503);
      expect(((error as Error).cause as { code?: string }).code).toBe('SQLITE_BUSY');
      expect(waited).toBeGreaterThanOrEqual(190);
      expect(waited).toBeLessThan(3_000);
      // The row is as it was, and reads go on.
      expect(await store.get('k')).toMatchObject({ version: 1 });
    } finally {
      other.child.kill();
    }
    if (other.child.exitCode === null && other.child.signalCode === null)
      await new Promise((resolve) => other.child.once('exit', resolve));
    expect(await store.set('k', minimalRecord({ version: 2 }), 1, 60_000)).toBe(true);
    await store.close();
  });
});

/**
 * A better-sqlite3 Database that logs the first word(s) of every statement the store runs (SELECT, UPDATE,
 * BEGIN, BEGIN IMMEDIATE, COMMIT, PRAGMA...), to see how the store groups its calls into transactions.
 */
function loggedDatabase() {
  const database = new Database(':memory:');
  const log: string[] = [];
  const verb = (sql: string) => /^\s*(BEGIN IMMEDIATE|BEGIN|COMMIT|ROLLBACK|[A-Z]+)/.exec(sql)?.[1] ?? sql;
  const wrap = (statement: Database.Statement, sql: string): SqliteStatement => {
    const logged: SqliteStatement = {
      run: (...params: never[]) => {
        log.push(verb(sql));
        return statement.run(...params);
      },
      get: (...params: never[]) => {
        log.push(verb(sql));
        return statement.get(...params);
      },
      all: (...params: never[]) => {
        log.push(verb(sql));
        return statement.all(...params);
      },
      raw(toggle?: boolean) {
        statement.raw(toggle);
        return this;
      },
      pluck(toggle?: boolean) {
        statement.pluck(toggle);
        return this;
      },
    };
    return logged;
  };
  const logged: SqliteDatabase = {
    prepare: (sql: string) => wrap(database.prepare(sql), sql),
    exec: (sql: string) => database.exec(sql),
    pragma: (sql: string, options?: { simple?: boolean }) => database.pragma(sql, options),
    close: () => database.close(),
    get inTransaction() {
      return database.inTransaction;
    },
  };
  return { database, logged, log };
}

describe('sqlite store: the calls of one turn, run together', () => {
  it("runs a turn's reads in one read transaction, then its writes in one write transaction", async () => {
    const { database, logged, log } = loggedDatabase();
    const store = createSqliteStore({ database: logged });
    await store.set('a', minimalRecord({ data: '"a"' }), null, 60_000);
    await store.set('b', minimalRecord({ data: '"b"' }), null, 60_000);
    log.length = 0;
    const [a, b, absent, written, c] = await Promise.all([
      store.get('a'),
      store.set('a', minimalRecord({ version: 2, data: '"a2"' }), 1, 60_000),
      store.get('absent'),
      store.set('c', minimalRecord({ data: '"c"' }), null, 60_000),
      store.get('b'),
    ]);
    // Each caller gets its own answer; the reads of the turn ran before its writes.
    expect([(a as SessionRecord).data, b, absent, written, (c as SessionRecord).data]).toEqual([
      '"a"',
      true,
      null,
      true,
      '"b"',
    ]);
    expect(log).toEqual([
      'BEGIN',
      'SELECT',
      'SELECT',
      'SELECT',
      'COMMIT',
      'BEGIN IMMEDIATE',
      'UPDATE',
      'INSERT',
      'COMMIT',
    ]);
    expect((await store.get('a'))?.data).toBe('"a2"');
    // A call alone needs no transaction of its own.
    log.length = 0;
    await store.get('c');
    await store.delete('c');
    expect(log).toEqual(['SELECT', 'DELETE']);
    await store.close();
    database.close();
  });

  it('a read that fails fails alone: the other reads of its transaction are answered', async () => {
    const database = new Database(':memory:');
    const store = createSqliteStore({ database });
    await store.set('good', minimalRecord({ data: '"good"' }), null, 60_000);
    await store.set('broken', minimalRecord(), null, 60_000);
    database.prepare("UPDATE teller_sessions SET meta = 'not json' WHERE key = 'broken'").run();
    const results = await Promise.allSettled([store.get('good'), store.get('broken'), store.get('absent')]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[0] as PromiseFulfilledResult<SessionRecord>).value.data).toBe('"good"');
    const reason = (results[1] as PromiseRejectedResult).reason as Error;
    expect(reason).toBeInstanceOf(SessionStoreError);
    expect(reason.message).toBe('[teller] [sqlite-store] get failed');
    expect(reason.cause).toBeInstanceOf(SyntaxError);
    expect((results[2] as PromiseFulfilledResult<null>).value).toBeNull();
    expect(database.inTransaction).toBe(false);
    await store.close();
    database.close();
  });

  it('the calls made by the answers are run in the same turn, a long chain yielding to the next turn', async () => {
    const store = createSqliteStore({ filename: newFile() });
    await store.set('k', minimalRecord(), null, 60_000);
    /** Runs `steps` calls, each made by the answer of the one before (a get, then a set, ...). */
    const chain = async (steps: number) => {
      for (let i = 0; i < steps / 2; i++) {
        const { version } = (await store.get('k'))!;
        expect(await store.set('k', minimalRecord({ version: version + 1 }), version, 60_000)).toBe(true);
      }
    };
    // The first call waits for the end of the turn; the next ones are run as soon as the answers' work is
    // done: all before a callback queued for the next turn.
    await store.delete('unrelated');
    let nextTurn = false;
    setImmediate(() => {
      nextTurn = true;
    });
    await chain(20);
    expect(nextTurn).toBe(false);
    // A long chain lets the event loop turn (I/O, timers) after 64 flushes in a row.
    let turns = 0;
    const counting = setInterval(() => turns++, 0);
    await chain(400);
    clearInterval(counting);
    expect(turns).toBeGreaterThan(0);
    expect((await store.get('k'))?.version).toBe(1 + 10 + 200);
    await store.close();
  });
});

describe('sqlite store: WAL checkpoints in a worker thread (a file it opened)', () => {
  /** Writes `n` records of about 1 KB each: some 350 pages of WAL per 1,000. */
  async function fill(store: SessionStore, n: number): Promise<void> {
    const data = JSON.stringify({ blob: 'x'.repeat(1_000) });
    const writes: Promise<boolean>[] = [];
    for (let i = 0; i < n; i++) writes.push(store.set(`k${i}`, { ...minimalRecord(), data }, null, 60_000));
    expect(await Promise.all(writes)).toEqual(writes.map(() => true));
  }
  const sizeOf = (file: string) => (existsSync(file) ? statSync(file).size : 0);

  it('copies the WAL into the file without a request waiting for it, then leaves no WAL at close', async () => {
    const file = newFile();
    const store = createSqliteStore({ filename: file });
    // 1,500 records (the worker starts once a store has written 1,000): about 2 MB of WAL, under the 1,000
    // pages at which SQLite would checkpoint in a commit.
    await fill(store, 1_500);
    const deadline = Date.now() + 10_000;
    while (sizeOf(file) < 1_000_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    // The worker copied the pages into the database file (the store's own connection would not have).
    expect(sizeOf(file)).toBeGreaterThan(1_000_000);
    expect(await store.get('k1499')).not.toBeNull();
    await store.close();
    // The worker's connection was closed first, so the store's, the last, checkpointed and removed the WAL.
    expect(existsSync(`${file}-wal`)).toBe(false);
    const again = createSqliteStore({ filename: file });
    expect(await again.count()).toBe(1_500);
    await again.close();
  });

  it("checkpoints: 'inline' leaves them to SQLite (the same writes stay in the WAL)", async () => {
    const file = newFile();
    const store = createSqliteStore({ filename: file, checkpoints: 'inline' });
    await fill(store, 1_500);
    await new Promise((r) => setTimeout(r, 600));
    expect(sizeOf(file)).toBeLessThan(500_000);
    expect(sizeOf(`${file}-wal`)).toBeGreaterThan(1_000_000);
    await store.close();
  });
});

describe('stolen-id detection over one SQLite file', () => {
  it('two processes (two stores on one file): reuse events, the revoke policy', async () => {
    const filename = newFile();
    const store = createSqliteStore({ filename });
    const other = createSqliteStore({ filename });
    try {
      await reuseScenario(store, other);
    } finally {
      await store.close();
      await other.close();
    }
  });

  it('two processes (two stores on one file), sealed sessions: reuse events, the revoke policy', async () => {
    const filename = newFile();
    const store = createSqliteStore({ filename });
    const other = createSqliteStore({ filename });
    try {
      await sealedReuseScenario(store, other);
    } finally {
      await store.close();
      await other.close();
    }
  });
});
