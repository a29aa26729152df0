import { describe, expect, it } from 'vitest';
import { createSessionManager, type SessionStore } from '../../src/index.js';
import { TestStore } from './helpers.js';

describe('options checked at construction', () => {
  it.each([0, -1, 1.5, Number.NaN, '64k'])(
    'a bad maxDataBytes (%s) is reported as a size in bytes, not a duration',
    (value) => {
      const make = () => createSessionManager({ store: new TestStore(), maxDataBytes: value as number });
      expect(make).toThrow(TypeError);
      expect(make).toThrow(/^\[teller\] \[session\] maxDataBytes must be a positive whole number of bytes$/);
    },
  );

  it('a good maxDataBytes is taken', () => {
    expect(() => createSessionManager({ store: new TestStore(), maxDataBytes: 1024 })).not.toThrow();
  });
});

describe('reuse (stolen-id detection)', () => {
  it("takes 'event' (the default) and 'revoke'; anything else is a TypeError naming it", () => {
    expect(() => createSessionManager({ store: new TestStore(), reuse: 'event' })).not.toThrow();
    expect(() => createSessionManager({ store: new TestStore(), reuse: 'revoke' })).not.toThrow();
    for (const bad of ['Revoke', 'block', true, 1]) {
      expect(() => createSessionManager({ store: new TestStore(), reuse: bad as 'event' })).toThrow(
        /^\[teller\] \[session\] reuse must be 'event' or 'revoke'$/,
      );
    }
  });

  it("'revoke' needs a store that can end a user's sessions (sealed sessions: any store)", () => {
    const inner = new TestStore();
    const bare: SessionStore = {
      get: (key) => inner.get(key),
      set: (key, record, expected, ttlMs) => inner.set(key, record, expected, ttlMs),
      delete: (key) => inner.delete(key),
    };
    expect(() => createSessionManager({ store: bare, reuse: 'revoke' })).toThrow(
      /deleteByUser or listByUser/,
    );
    expect(() => createSessionManager({ store: bare })).not.toThrow();
    const seal = { secrets: ['s'.repeat(32)] };
    expect(() => createSessionManager({ seal, reuse: 'revoke' })).toThrow(
      /^\[teller\] \[session\] reuse: 'revoke' needs a store \(sealed sessions: for their deny records\)$/,
    );
    // Sealed sessions end a user's cookies with their not-before record: a bare store is enough.
    expect(() => createSessionManager({ seal, store: bare, reuse: 'revoke' })).not.toThrow();
  });
});
