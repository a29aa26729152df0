import { describe, expect, it } from 'vitest';
import { Session } from '../../src/session/session.js';
import { createState, resetChanges, type SessionHost } from '../../src/session/state.js';

const host: SessionHost = {
  newId: () => 'id',
  keyOf: (id) => `key:${id}`,
  csrfKeys: () => undefined,
  jsonOnly: true,
  reload: async () => {},
  lateWrite: () => {},
};
const fresh = () =>
  createState({
    host,
    now: 0,
    secure: false,
    cookieName: 'sid',
    meta: undefined,
    cookies: undefined,
    passive: false,
    cookieSent: false,
  });

describe('session state: write bookkeeping created on first use', () => {
  it('a session nothing touched holds no write collections', () => {
    const state = fresh();
    expect([state.ops, state.readBase, state.overwritten, state.dependent]).toStrictEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('a read, then a write of the read key, records the read, the op and the dependency', () => {
    const state = fresh();
    const session = new Session(state);
    session.get('a');
    expect([...(state.readBase ?? [])]).toStrictEqual(['a']);
    expect(state.ops).toBeUndefined();
    session.set('a', 1);
    session.set('b', 2);
    session.update('b', (v) => (v as number) + 1);
    expect([...(state.dependent ?? [])]).toStrictEqual(['a']);
    expect([...(state.overwritten ?? [])]).toStrictEqual(['a', 'b']);
    expect([...(state.ops?.keys() ?? [])]).toStrictEqual(['a', 'b']);
    expect(state.ops?.get('b')?.length).toBe(2);
    // A read after the key was overwritten no longer reads the base.
    session.get('b');
    expect([...(state.readBase ?? [])]).toStrictEqual(['a']);
    resetChanges(state, new Map());
    expect([state.ops, state.readBase, state.overwritten, state.dependent]).toStrictEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });
});
