/**
 * The synchronous path (session/sync.ts): with a store that answers at once (the memory store's getNow, setNow
 * and deleteNow), a load and a commit complete without a promise. These tests pin what that path must keep:
 * it is taken (a Session, not a promise), the session lock still serialises two requests of one session, a
 * lost compare-and-set still merges or answers 409, and a store that throws is still a SessionStoreError (503,
 * no stack) through the node adapter.
 */
import { createServer, type ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createNodeSessions, type SessionRequest } from '../../src/adapters/node.js';
import { createSessionManager } from '../../src/index.js';
import { SessionConflictError, SessionStoreError } from '../../src/session/errors.js';
import { storeKeyOf } from '../../src/session/ids.js';
import type { Session } from '../../src/session/session.js';
import { COMMIT_NOW, LOAD_NOW, type ManagerNow } from '../../src/session/sync.js';
import { createMemoryStore } from '../../src/stores/memory.js';
import { close, httpCall, listen, TinyJar } from '../adapters/helpers.js';

type Data = { n?: number; a?: number; b?: number };

function setup(options: { maxEntries?: number; lockTimeout?: number } = {}) {
  const store = createMemoryStore({ cleanupInterval: 0, maxEntries: options.maxEntries });
  const manager = createSessionManager<Data>({ store, lockTimeout: options.lockTimeout });
  const now = manager as unknown as ManagerNow<Session<Data>>;
  return { store, manager, now };
}

/** A stored session's cookie header and its store key. */
async function stored(manager: ReturnType<typeof setup>['manager'], data: Data) {
  const session = await manager.load(undefined);
  for (const [key, value] of Object.entries(data)) session.set(key as keyof Data, value);
  const { setCookie } = await manager.commit(session);
  const header = setCookie[0]!.split(';')[0]!;
  return { header, key: storeKeyOf(session.id!) };
}

describe('the synchronous path of a store that answers at once', () => {
  it('is taken: a load and a commit of a stored session return the Session and the result, not promises', async () => {
    const { manager, now } = setup();
    const { header } = await stored(manager, { n: 1 });
    const session = now[LOAD_NOW](header);
    expect(session).not.toBeInstanceOf(Promise);
    const loaded = session as Session<Data>;
    expect(loaded.get('n')).toBe(1);
    loaded.set('n', 2);
    const result = now[COMMIT_NOW](loaded);
    expect(result).not.toBeInstanceOf(Promise);
    // The public methods still answer with promises.
    const again = manager.load(header);
    expect(again).toBeInstanceOf(Promise);
    expect((await again).get('n')).toBe(2);
  });

  it('a store wrapped by spreading it has no synchronous methods: the wrapper’s own are called', async () => {
    const memory = createMemoryStore({ cleanupInterval: 0 });
    expect(typeof memory.getNow).toBe('function');
    let gets = 0;
    const wrapped = {
      ...memory,
      get: (key: string) => {
        gets++;
        return memory.get(key);
      },
    };
    expect('getNow' in wrapped).toBe(false);
    const manager = createSessionManager<Data>({ store: wrapped });
    const { header } = await stored(manager, { n: 1 });
    const session = await manager.load(header);
    expect(session.get('n')).toBe(1);
    await manager.commit(session);
    expect(gets).toBe(1);
  });

  it('keeps the session lock: a second request of the session waits until the first commits', async () => {
    const { manager, now } = setup();
    const { header } = await stored(manager, { n: 0 });
    const first = now[LOAD_NOW](header) as Session<Data>;
    const second = now[LOAD_NOW](header);
    expect(second).toBeInstanceOf(Promise); // waiting for the lock
    let settled = false;
    void (second as Promise<Session<Data>>).then(() => {
      settled = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    first.set('n', (first.get('n') ?? 0) + 1);
    now[COMMIT_NOW](first);
    const next = await second;
    // Read after the first commit: naive read-then-write code stays serial.
    expect(next.get('n')).toBe(1);
    next.set('n', (next.get('n') ?? 0) + 1);
    await manager.commit(next);
    expect((await manager.load(header)).get('n')).toBe(2);
  });

  it('a lost compare-and-set merges a written key, and answers 409 for a key read then written', async () => {
    const { store, manager, now } = setup();
    const { header, key } = await stored(manager, { a: 1, b: 1 });
    // Another process writes the session while this request holds it.
    const mine = now[LOAD_NOW](header) as Session<Data>;
    const record = (await store.get(key))!;
    const theirs = JSON.parse(record.data) as Record<string, unknown>;
    theirs.b = 5;
    const newer = { ...record, data: JSON.stringify(theirs), version: record.version + 1 };
    expect(await store.set(key, newer, record.version, 60_000)).toBe(true);
    mine.set('a', 2); // written only: re-applied onto the newest record
    const merged = await manager.commit(mine);
    expect(merged.setCookie).toEqual([]);
    const after = await manager.load(header);
    expect([after.get('a'), after.get('b')]).toEqual([2, 5]);
    await manager.commit(after);

    // Read, then written, and changed meanwhile: a conflict, nothing saved.
    const reader = now[LOAD_NOW](header) as Session<Data>;
    const seen = reader.get('b') ?? 0;
    const current = (await store.get(key))!;
    const changed = JSON.parse(current.data) as Record<string, unknown>;
    changed.b = 9;
    const written = { ...current, data: JSON.stringify(changed), version: current.version + 1 };
    expect(await store.set(key, written, current.version, 60_000)).toBe(true);
    reader.set('b', seen + 1);
    await expect(manager.commit(reader)).rejects.toBeInstanceOf(SessionConflictError);
    expect((await manager.load(header)).get('b')).toBe(9);
  });

  it('a store that throws is a SessionStoreError: from the load, and from a first write of a full store', async () => {
    const { store, manager, now } = setup({ maxEntries: 1 });
    const { header } = await stored(manager, { n: 1 });
    // Full: the next new session's write is refused (setNow throws).
    const fresh = await manager.load(undefined);
    fresh.set('n', 1);
    expect(() => now[COMMIT_NOW](fresh)).toThrow(SessionStoreError);
    await store.close(); // closed: getNow throws
    expect(() => now[LOAD_NOW](header)).toThrow(SessionStoreError);
    await expect(manager.load(header)).rejects.toBeInstanceOf(SessionStoreError);
  });

  it('a plain error thrown by a synchronous store call becomes a SessionStoreError with it as cause', async () => {
    const memory = createMemoryStore({ cleanupInterval: 0 });
    let broken = false;
    const store = {
      ...memory,
      getNow(key: string) {
        if (broken) throw new Error('disk on fire');
        return memory.getNow(key);
      },
      setNow(...args: Parameters<typeof memory.setNow>) {
        if (broken) throw new Error('disk on fire');
        return memory.setNow(...args);
      },
      deleteNow(key: string) {
        if (broken) throw new Error('disk on fire');
        memory.deleteNow(key);
      },
    };
    const events: string[] = [];
    const manager = createSessionManager<Data>({ store, onEvent: (e) => events.push(e.type) });
    const now = manager as unknown as ManagerNow<Session<Data>>;
    const { header } = await stored(manager, { n: 1 });
    const session = now[LOAD_NOW](header) as Session<Data>;
    session.set('n', 2);
    broken = true;
    let thrown: unknown;
    try {
      now[COMMIT_NOW](session);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(SessionStoreError);
    expect(((thrown as Error).cause as Error).message).toBe('disk on fire');
    await expect(manager.load(header)).rejects.toBeInstanceOf(SessionStoreError);
    expect(events.filter((type) => type === 'store-error')).toHaveLength(2);
    broken = false;
    expect((await manager.load(header)).get('n')).toBe(1); // the failed commit saved nothing, and freed the lock
  });

  it('through the node adapter: 503 without a stack for a full store and a closed one; the lock serialises', async () => {
    // A long lockTimeout: on a loaded machine five queued requests must not outwait it (then they merge or 409).
    const { store, manager } = setup({ maxEntries: 2, lockTimeout: 5000 });
    const errors: unknown[] = [];
    const sessions = createNodeSessions(manager, { onError: (error) => errors.push(error) });
    const handler = async (req: SessionRequest<Session<Data>>, res: ServerResponse) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname === '/slow-incr') {
        const n = req.session.get('n') ?? 0;
        await new Promise((resolve) => setTimeout(resolve, 30));
        req.session.set('n', n + 1);
      } else if (url.pathname === '/set') req.session.set('n', 0);
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end(String(req.session.get('n') ?? 'none'));
    };
    const server = createServer(sessions.wrap(handler));
    const port = await listen(server);
    try {
      const jar = new TinyJar();
      const first = await httpCall(port, 'GET', '/set', { jar });
      expect(first.status).toBe(200);
      expect(first.setCookie).toHaveLength(1);
      expect(first.header('cache-control')).toBe('no-store');
      expect(first.header('vary')).toBe('Cookie');
      // Five read-then-write requests of one session at once: the lock runs them one after another.
      const answers = await Promise.all(
        Array.from({ length: 5 }, () => httpCall(port, 'GET', '/slow-incr', { jar })),
      );
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
      expect((await httpCall(port, 'GET', '/', { jar })).body).toBe('5');
      // A second browser fills the store (2 entries); a third's first write is refused: 503.
      expect((await httpCall(port, 'GET', '/set', { jar: new TinyJar() })).status).toBe(200);
      const full = await httpCall(port, 'GET', '/set', { jar: new TinyJar() });
      expect(full.status).toBe(503);
      expect(full.body).toBe('Service Unavailable\n');
      expect(full.setCookie).toEqual([]);
      await store.close();
      const closed = await httpCall(port, 'GET', '/', { jar });
      expect(closed.status).toBe(503);
      expect(closed.body).toBe('Service Unavailable\n');
      expect(errors.map((e) => (e as Error).name)).toEqual(['SessionStoreError', 'SessionStoreError']);
    } finally {
      await close(server);
    }
  });
});
