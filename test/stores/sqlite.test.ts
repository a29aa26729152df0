import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SessionStoreError } from '../../src/session/errors.js';
import { createSqliteStore } from '../../src/stores/sqlite.js';
import { fullRecord, minimalRecord, runStoreContract } from './contract.js';

const dir = mkdtempSync(path.join(tmpdir(), 'teller-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const newFile = () => path.join(dir, `sessions-${++files}.db`);
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
  { abilities: { userIndex: true, purgeExpired: true, count: true, clock: 'fake' } },
);

runStoreContract(
  'sqlite (a file the store opens)',
  ({ clock }) => {
    const store = createSqliteStore({ filename: newFile(), clock });
    return { store, cleanup: () => store.close() };
  },
  { abilities: { userIndex: true, purgeExpired: true, count: true, clock: 'fake' } },
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
