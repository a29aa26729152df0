/**
 * Sealed sessions with a store: what `revokeSessions` reports, and the records it keeps.
 */
import { describe, expect, it } from 'vitest';
import { createSessionManager } from '../../src/index.js';
import type { SessionRecord } from '../../src/session/store.js';
import { Browser, T0, TestStore, visit } from './helpers.js';

const S1 = 'first-sealing-secret-of-32-bytes-or-more';
const later = (ms: number) => ({ now: T0 + ms });

function sealedWithStore() {
  const store = new TestStore();
  const manager = createSessionManager({ seal: { secrets: [S1] }, store });
  return { store, manager };
}

/** The user's not-before record (under the 'nb.' prefix). */
function notBeforeRecord(store: TestStore): SessionRecord {
  const [entry] = [...store.records].filter(([key]) => key.startsWith('nb.')).map(([, e]) => e);
  if (entry === undefined) throw new Error('no not-before record');
  return entry.record;
}

describe('sealed revokeSessions says how many sessions it ended', () => {
  it('none: 0', async () => {
    const { manager } = sealedWithStore();
    expect(await manager.revokeSessions('alice', later(1))).toBe(0);
  });

  it('counts the live sealed sessions of the user, not the ones logged out, kept, or of another user', async () => {
    const { manager } = sealedWithStore();
    const [a, b, c, d] = [new Browser(), new Browser(), new Browser(), new Browser()];
    await visit(manager, a, (s) => s.login('alice'), later(1));
    await visit(manager, b, (s) => s.login('alice'), later(2));
    await visit(manager, c, (s) => s.login('alice'), later(3));
    await visit(manager, d, (s) => s.login('bob'), later(4));
    await visit(manager, c, (s) => s.logout(), later(5));
    const { session: current } = await visit(manager, b, (s) => s.userId, later(6));
    expect(await manager.revokeSessions('alice', { except: current, ...later(7) })).toBe(1);
    expect((await visit(manager, a, (s) => s.userId, later(8))).result).toBeUndefined();
    expect((await visit(manager, b, (s) => s.userId, later(8))).result).toBe('alice');
    // Revoked once, they are not counted again; the kept one still is.
    expect(await manager.revokeSessions('alice', later(9))).toBe(1);
    expect(await manager.revokeSessions('alice', later(10))).toBe(0);
    expect(await manager.revokeSessions('bob', later(11))).toBe(1);
  });

  it('a regenerated session counts once', async () => {
    const { manager } = sealedWithStore();
    const a = new Browser();
    await visit(manager, a, (s) => s.login('alice'), later(1));
    await visit(manager, a, (s) => s.regenerate(), later(2));
    expect(await manager.revokeSessions('alice', later(3))).toBe(1);
  });
});

describe("the user's not-before record", () => {
  it('keeps the not-before time in a field of its own; createdAt is when the record was first written', async () => {
    const { store, manager } = sealedWithStore();
    const a = new Browser();
    await visit(manager, a, (s) => s.login('alice'), later(1));
    await visit(manager, a, (s) => s.logout(), later(1000));
    expect(notBeforeRecord(store).createdAt).toBe(T0 + 1000);
    await manager.revokeSessions('alice', later(5000));
    const record = notBeforeRecord(store);
    expect(record.createdAt).toBe(T0 + 1000);
    expect((JSON.parse(record.data) as { n?: number }).n).toBe(T0 + 5000);
  });
});
