/**
 * Stored data stays plain JSON (issue 16): with the default serializer, `set`, `update` and `flash` refuse
 * what JSON cannot carry unchanged, with a TypeError naming the call, the key, the offending type and
 * where it is; nothing is recorded. A serializer of your own is not second-guessed.
 */
import { describe, expect, it } from 'vitest';
import { createSessionManager, jsonSerializer } from '../../src/index.js';
import { Browser, T0, TestStore, visit } from './helpers.js';

/** Typed unknown: the types refuse a Date (types.test.ts tests that); here the run-time check does. */
const DATE: unknown = new Date(0);

class Point {
  x = 1;
}

function setup(options: { serializer?: typeof jsonSerializer } = {}) {
  const store = new TestStore();
  const manager = createSessionManager({ store, ...options });
  return { store, manager, browser: new Browser() };
}

/** Values the types may let through (unknown, casts, plain-field classes) that JSON cannot carry. */
function refused(): Array<[string, unknown, RegExp]> {
  const cycle: Record<string, unknown> = { a: 1 };
  cycle.self = cycle;
  const arrayCycle: unknown[] = [1];
  arrayCycle.push({ back: arrayCycle });
  return [
    ['a Date', new Date(0), /JSON cannot carry a Date object/],
    ['a Map', new Map([[1, 2]]), /a Map object/],
    ['a Set', new Set([1]), /a Set object/],
    ['a plain-field class instance', new Point(), /a Point object/],
    ['a Buffer', Buffer.from('x'), /a Buffer object/],
    ['a function', () => 1, /a function/],
    ['a bigint', 1n, /a bigint/],
    ['a symbol', Symbol('s'), /a symbol/],
    ['NaN', Number.NaN, /the number NaN/],
    ['Infinity', Number.POSITIVE_INFINITY, /the number Infinity/],
    ['undefined in an array', [1, undefined], /undefined in an array .*\(at v\[1\]\)/],
    ['a hole in an array', new Array(2), /undefined in an array/],
    [
      'a nested Date',
      { cart: [{ id: 'a', added: new Date(0) }] },
      /a Date object \(at v\.cart\[0\]\.added\)/,
    ],
    ['an odd key', { 'two words': new Map() }, /\(at v\["two words"\]\)/],
    ['a cycle', cycle, /a circular reference \(at v\.self\)/],
    ['a cycle through an array', arrayCycle, /a circular reference \(at v\[1\]\.back\)/],
  ];
}

describe('with the default serializer', () => {
  for (const [name, value, message] of refused()) {
    it(`set refuses ${name}, naming the key, and records nothing`, async () => {
      const { store, manager, browser } = setup();
      await visit(manager, browser, (s) => s.set('v', 'kept'));
      store.resetCounts();
      const session = await manager.load(browser.header(), { now: T0 });
      let error: unknown;
      try {
        session.set('v', value);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toMatch(/^\[teller\] \[session\] session\.set\("v"\): /);
      expect((error as Error).message).toMatch(message);
      expect(session.get('v')).toBe('kept');
      await manager.commit(session);
      expect(store.writes).toBe(0);
    });
  }

  it('update refuses its function result (the value stays, nothing recorded); flash refuses a message', async () => {
    const { store, manager, browser } = setup();
    await visit(manager, browser, (s) => s.set('v', 1));
    store.resetCounts();
    const session = await manager.load(browser.header(), { now: T0 });
    expect(() => session.update('v', () => DATE)).toThrow(/session\.update\("v"\): .*a Date object/);
    expect(session.get('v')).toBe(1);
    expect(() => session.flash('notice', { at: DATE })).toThrow(
      /session\.flash\("notice"\): .*a Date object \(at notice\.at\)/,
    );
    expect(session.flash('notice')).toEqual([]);
    await manager.commit(session);
    expect(store.writes).toBe(0);
  });

  it('takes what JSON carries: nested plain objects and arrays, null, undefined properties, null-prototype objects', async () => {
    const { manager, browser } = setup();
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 });
    let deep: unknown = 'leaf';
    for (let i = 0; i < 500; i++) deep = { d: [deep] };
    const value = { a: [1, 'two', null, true, { b: [] }], c: undefined, bare, deep, n: -0.5 };
    await visit(manager, browser, (s) => s.set('v', value));
    const { result } = await visit(manager, browser, (s) => s.get('v'));
    expect(result).toEqual(JSON.parse(JSON.stringify(value)));
  });

  it('a large value is walked once, about as fast as the JSON.stringify commit does anyway', async () => {
    const { manager } = setup();
    const session = await manager.load(undefined, { now: T0 });
    const big = Array.from({ length: 50_000 }, (_, i) => ({ id: `item-${i}`, qty: i, tags: ['a', 'b'] }));
    // A shared value seen twice is not a cycle.
    const shared = { x: 1 };
    session.set('shared', { a: shared, b: [shared, shared] });
    // The best of three of each: a collection or another process taking the core spoils one run, not three.
    const best = (fn: () => unknown) => {
      let fastest = Number.POSITIVE_INFINITY;
      for (let run = 0; run < 3; run++) {
        const started = performance.now();
        fn();
        fastest = Math.min(fastest, performance.now() - started);
      }
      return fastest;
    };
    const checked = best(() => session.set('big', big));
    const stringified = best(() => JSON.stringify(big));
    // Generous: the machine is shared. The walk allocates nothing per value; a walk of each value more than
    // once (quadratic) would take seconds.
    expect(checked).toBeLessThan(Math.max(50, stringified * 10));
    await manager.commit(session, { status: 500 });
  });
});

describe('with a serializer of your own', () => {
  it('nothing is checked: the serializer decides what it carries', async () => {
    const own = { stringify: (data: Record<string, unknown>) => JSON.stringify(data), parse: JSON.parse };
    const { manager } = setup({ serializer: own });
    const session = await manager.load(undefined, { now: T0 });
    session.set('at', DATE);
    session.update('m', (): unknown => new Map());
    session.flash('notice', new Set() as unknown);
    expect(session.get('at')).toEqual(new Date(0));
    await manager.commit(session, { status: 500 });
  });

  it('jsonSerializer given explicitly is the default: values are checked', async () => {
    const { manager } = setup({ serializer: jsonSerializer });
    const session = await manager.load(undefined, { now: T0 });
    expect(() => session.set('at', DATE)).toThrow(TypeError);
    await manager.commit(session);
  });
});

describe('sealed sessions (JSON in the cookie)', () => {
  it('refuse the same values', async () => {
    const manager = createSessionManager({ seal: { secrets: ['s'.repeat(32)] } });
    const session = await manager.load(undefined, { now: T0 });
    expect(() => session.set('at', DATE)).toThrow(/a Date object/);
    await manager.commit(session);
  });
});

describe('a deeply nested value', () => {
  it('is refused with a TypeError naming the depth, not a RangeError from the stack', async () => {
    const manager = createSessionManager<{ deep: unknown }>({ store: new TestStore() });
    const session = await manager.load(undefined);
    let deep: unknown = 0;
    for (let i = 0; i < 20_000; i++) deep = [deep];
    expect(() => session.set('deep', deep as never)).toThrow(TypeError);
    expect(() => session.set('deep', deep as never)).toThrow(/nested more than 2048 levels deep/);
    await manager.commit(session);
  });
});
