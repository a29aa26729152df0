import { describe, expect, it } from 'vitest';
import { createSessionManager, type Session } from '../../src/index.js';
import { Browser, T0, TestStore, visit } from './helpers.js';

type Data = { cart: string[]; x: number; a: number; n: number };
type Handler = (s: Session<Data>) => void;

const S1 = 'first-sealing-secret-of-32-bytes-or-more';

// Writes that leave the session as it was.
const noOps: Array<[string, Handler]> = [
  ['delete of an absent key', (s) => s.delete('cart')],
  ['update to undefined', (s) => s.update('x', () => undefined)],
  [
    'set then delete',
    (s) => {
      s.set('a', 1);
      s.delete('a');
    },
  ],
  ['set(undefined)', (s) => s.set('a', undefined as unknown as number)],
  [
    'flash added and taken',
    (s) => {
      s.flash('info', 'hi');
      s.flash('info');
    },
  ],
];

describe('a request that changes nothing writes nothing and sets no cookie', () => {
  for (const [name, handler] of noOps) {
    it(`cookieless request, ${name}: no record, no Set-Cookie`, async () => {
      const store = new TestStore();
      const manager = createSessionManager<Data>({ store });
      const { setCookie } = await visit(manager, new Browser(), handler);
      expect(setCookie).toEqual([]);
      expect(store.records.size).toBe(0);
      expect(store.writes).toBe(0);
    });

    it(`cookieless sealed request, ${name}: no Set-Cookie`, async () => {
      const manager = createSessionManager<Data>({ seal: { secrets: [S1] } });
      const { setCookie } = await visit(manager, new Browser(), handler);
      expect(setCookie).toEqual([]);
    });
  }

  it('a cookieless request that touches nothing makes no store call (commits even with the store down)', async () => {
    const store = new TestStore();
    store.failWith = new Error('store down');
    const manager = createSessionManager<Data>({ store });
    const session = await manager.load(undefined, { now: T0 });
    session.get('n');
    expect(await manager.commit(session)).toEqual({ setCookie: [] });
    expect(store.log).toEqual([]);
  });

  it('a logout with an expired cookie still clears it and deletes nothing more', async () => {
    const store = new TestStore();
    const manager = createSessionManager<Data>({ store });
    const session = await manager.load('sid=not-a-live-id', { now: T0 });
    await session.logout();
    const { setCookie } = await manager.commit(session);
    expect(setCookie).toHaveLength(1);
    expect(setCookie[0]).toMatch(/^sid=;.*Max-Age=0|^sid=;.*Expires=Thu, 01 Jan 1970/i);
  });

  it('an existing session written back with the same values: no store write, no cookie', async () => {
    const store = new TestStore();
    const manager = createSessionManager<Data>({ store });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('n', 1));
    store.resetCounts();
    const { setCookie } = await visit(
      manager,
      browser,
      (s) => {
        s.set('n', 1);
        s.delete('cart');
        s.update('x', () => undefined);
      },
      { now: T0 + 1000 },
    );
    expect(setCookie).toEqual([]);
    expect(store.log).toEqual(['get']);
  });

  it('an existing sealed session written back with the same values: no cookie', async () => {
    const manager = createSessionManager<Data>({ seal: { secrets: [S1] } });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('n', 1));
    const { setCookie } = await visit(manager, browser, (s) => s.set('n', 1), { now: T0 + 1000 });
    expect(setCookie).toEqual([]);
  });

  it('still stores what must be stored: data, a flash message, a login', async () => {
    const handlers: Handler[] = [
      (s) => s.set('n', 0),
      (s) => s.flash('info', 'saved'),
      (s) => s.login('alice'),
    ];
    for (const handler of handlers) {
      const store = new TestStore();
      const manager = createSessionManager<Data>({ store });
      const { setCookie } = await visit(manager, new Browser(), handler);
      expect(setCookie).toHaveLength(1);
      expect(store.sessions()).toHaveLength(1);
    }
  });

  it('a real change to an existing session is written', async () => {
    const store = new TestStore();
    const manager = createSessionManager<Data>({ store });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('n', 1));
    store.resetCounts();
    await visit(manager, browser, (s) => s.set('n', 2), { now: T0 + 1000 });
    expect(store.log).toEqual(['get', 'set']);
    expect(store.sessions()[0]![1].data).toBe('{"n":2}');
  });
});
