/**
 * The types tell the truth (issue 16): session data declared as an interface, values JSON can carry
 * (with the default serializer), `set(key, undefined)` deleting, and values read being read-only. Checked
 * by `npm run typecheck` (`@ts-expect-error` lines fail it when the error they expect goes away); the
 * tests also run, so a line that compiles is shown to do at run time what its type says.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { withSession } from '../../src/adapters/fetch.js';
import { createNodeSessions } from '../../src/adapters/node.js';
import {
  type AnySession,
  createSessionManager,
  type DeepReadonly,
  type Session,
  type SessionSerializer,
} from '../../src/index.js';
import type { JsonSafe, NotJsonError } from '../../src/session/values.js';
import { createMemoryStore } from '../../src/stores/memory.js';

interface Item {
  id: string;
  qty: number;
  note?: string;
}

interface Tree {
  name: string;
  children: Tree[];
}

/** Declared as express-session users declare theirs: an interface, no index signature. */
interface CartData {
  cart: Item[];
  views: number;
  mode: 'light' | 'dark';
  profile: { name: string; tags: string[] };
}

class Money {
  constructor(readonly cents: number) {}
  format(): string {
    return `${this.cents / 100}`;
  }
}

/** A serializer of your own (here JSON again, but not the default one: values are not checked). */
const ownSerializer: SessionSerializer = {
  stringify: (data) => JSON.stringify(data),
  parse: (text) => JSON.parse(text),
};

describe('session data declared as an interface', () => {
  it('compiles and keeps key typing, in the manager, the session and the adapters', async () => {
    const manager = createSessionManager<CartData>({ store: createMemoryStore() });
    const session = await manager.load(undefined);
    session.set('views', 1);
    session.set('mode', 'dark');
    session.set('cart', [{ id: 'book', qty: 1 }]);
    expectTypeOf(session.get('views')).toEqualTypeOf<number | undefined>();
    expectTypeOf(session.get('mode')).toEqualTypeOf<'light' | 'dark' | undefined>();
    // @ts-expect-error not a key of CartData
    session.set('nope', 1);
    // @ts-expect-error the wrong type for the key
    session.set('views', 'one');
    // @ts-expect-error not one of the declared literals
    session.set('mode', 'blue');
    expect(session.get('cart')).toEqual([{ id: 'book', qty: 1 }]);
    await manager.commit(session);

    // The adapters take a manager of interface data, and hand its sessions to handlers.
    createNodeSessions(manager).wrap((req) => {
      expectTypeOf(req.session).toEqualTypeOf<Session<CartData>>();
    });
    withSession(manager, (_request, { session: s }) => {
      expectTypeOf(s.get('views')).toEqualTypeOf<number | undefined>();
      return new Response('ok');
    });
    // A recursive interface.
    const trees = await createSessionManager<{ tree: Tree }>({ store: createMemoryStore() }).load(undefined);
    trees.set('tree', { name: 'root', children: [{ name: 'leaf', children: [] }] });
    expectTypeOf(trees.get('tree')?.children[0]?.name).toEqualTypeOf<string | undefined>();
    const any: AnySession = session;
    expect(any).toBe(session);
  });
});

describe('set(key, undefined) deletes, and the types allow it', () => {
  it('typed and untyped', async () => {
    const manager = createSessionManager<CartData>({ store: createMemoryStore() });
    const session = await manager.load(undefined);
    session.set('views', 3);
    session.set('views', undefined);
    expect(session.has('views')).toBe(false);
    const untyped = await createSessionManager({ store: createMemoryStore() }).load(undefined);
    untyped.set('n', 1);
    untyped.set('n', undefined);
    expect(untyped.data()).toEqual({});
  });
});

describe('values read are read-only: a change in place is a compile error', () => {
  it('get, update and data() give deeply read-only values; set takes a new value', async () => {
    const manager = createSessionManager<CartData>({ store: createMemoryStore() });
    const session = await manager.load(undefined);
    session.set('cart', [{ id: 'a', qty: 1 }]);
    session.set('profile', { name: 'Ann', tags: ['x'] });
    expectTypeOf(session.get('cart')).toEqualTypeOf<
      readonly { readonly id: string; readonly qty: number; readonly note?: string }[] | undefined
    >();
    expectTypeOf(session.get('profile')).toEqualTypeOf<
      { readonly name: string; readonly tags: readonly string[] } | undefined
    >();
    expectTypeOf(session.data().cart).toEqualTypeOf<DeepReadonly<Item[]> | undefined>();
    // The README's ways: a new value to set, or update().
    const cart = session.get('cart') ?? [];
    session.set('cart', [...cart, { id: 'b', qty: 2 }]);
    const after = session.update('cart', (current = []) => [...current, { id: 'c', qty: 1 }]);
    expectTypeOf(after).toEqualTypeOf<DeepReadonly<Item[]> | undefined>();
    session.update('views', (n = 0) => n + 1);
    // Returning the current value unchanged is fine.
    session.update('profile', (current) => current);
    expect(session.get('cart')?.map((item) => item.id)).toEqual(['a', 'b', 'c']);
    expect(session.get('views')).toBe(1);
    await manager.commit(session);
  });

  it('mutations of what was read do not compile', () => {
    // Never called: each line would change a value in place, which nothing saves.
    function compileOnly(session: Session<CartData>): void {
      // @ts-expect-error push on a read-only array
      session.get('cart')?.push({ id: 'x', qty: 1 });
      const first = session.get('cart')?.[0];
      // @ts-expect-error a read-only property, deep inside
      if (first) first.qty = 2;
      // @ts-expect-error a read-only array inside an object
      session.get('profile')?.tags.push('y');
      // @ts-expect-error the data() copy is read-only too, inside
      session.data().cart?.push({ id: 'x', qty: 1 });
      session.update('cart', (current) => {
        // @ts-expect-error update's current value is read-only: return a new one
        current?.push({ id: 'x', qty: 1 });
        return current;
      });
    }
    expect(compileOnly).toBeTypeOf('function');
  });
});

describe('values JSON cannot carry are refused by the types (default serializer) and at run time', () => {
  it('an untyped session', async () => {
    const session = await createSessionManager({ store: createMemoryStore() }).load(undefined);
    session.set('n', 1);
    session.set('s', 'text');
    session.set('nested', { a: [1, 'b', null, true], b: { c: { d: [] } }, optional: undefined });
    const item: Item = { id: 'a', qty: 1 };
    session.set('item', item); // an interface value: no index signature needed
    expectTypeOf(session.get('n')).toEqualTypeOf<unknown>();
    // @ts-expect-error a Date
    expect(() => session.set('at', new Date())).toThrow(TypeError);
    // @ts-expect-error a Date, nested
    expect(() => session.set('at', { when: new Date() })).toThrow(TypeError);
    // @ts-expect-error a Map
    expect(() => session.set('m', new Map())).toThrow(TypeError);
    // @ts-expect-error a Set
    expect(() => session.set('m', new Set([1]))).toThrow(TypeError);
    // @ts-expect-error a bigint
    expect(() => session.set('b', 1n)).toThrow(TypeError);
    // @ts-expect-error a function
    expect(() => session.set('f', () => 1)).toThrow(TypeError);
    // @ts-expect-error a class instance (its methods)
    expect(() => session.set('money', new Money(100))).toThrow(TypeError);
    // @ts-expect-error undefined in an array comes back as null
    expect(() => session.set('list', [1, undefined])).toThrow(TypeError);
    // @ts-expect-error update's new value is checked as well
    expect(() => session.update('at', () => new Date())).toThrow(TypeError);
    // @ts-expect-error and a flash message
    expect(() => session.flash('notice', new Map())).toThrow(TypeError);
    // A value typed unknown passes the types; the run-time check covers it.
    const parsed: unknown = JSON.parse('{"a":1}');
    session.set('parsed', parsed);
  });

  it('declared data: a key declared with a type JSON cannot carry cannot be set', async () => {
    const session = await createSessionManager<{ at: Date; list: Array<number | undefined> }>({
      store: createMemoryStore(),
    }).load(undefined);
    // @ts-expect-error Date, with the default serializer
    expect(() => session.set('at', new Date())).toThrow(TypeError);
    // @ts-expect-error undefined inside an array
    expect(() => session.set('list', [1, undefined])).toThrow(TypeError);
  });

  it("a serializer of your own, declared with 'custom': the types take the declared values, nothing is checked", async () => {
    const manager = createSessionManager<{ at: Date; money: Money }, 'custom'>({
      store: createMemoryStore(),
      serializer: ownSerializer,
    });
    const session = await manager.load(undefined);
    session.set('at', new Date(0));
    session.set('money', new Money(5));
    expectTypeOf(session.get('at')).toEqualTypeOf<Date | undefined>();
    expect(session.get('money')?.format()).toBe('0.05');
    await manager.commit(session, { status: 500 }); // nothing stored: the serializer need not carry Money
  });

  it('JsonSafe: what a type becomes (the error text where JSON cannot carry it)', () => {
    expectTypeOf<JsonSafe<Item>>().toEqualTypeOf<{ id: string; qty: number; note?: string }>();
    expectTypeOf<JsonSafe<Date>>().toEqualTypeOf<NotJsonError>();
    expectTypeOf<JsonSafe<{ at: Date; n: number }>>().toEqualTypeOf<{ at: NotJsonError; n: number }>();
    expectTypeOf<JsonSafe<unknown>>().toEqualTypeOf<unknown>();
  });
});
