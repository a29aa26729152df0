import { describe, expect, it } from 'vitest';
import { createSessionManager, SessionConflictError } from '../../src/index.js';
import type { SessionRecord } from '../../src/session/store.js';
import { Browser, T0, TestStore, visit } from './helpers.js';

const S1 = 'first-sealing-secret-of-32-bytes-or-more';

/** A store that loses every compare-and-set race (someone else always wrote first). */
class AlwaysConflicting extends TestStore {
  override async set(key: string, record: SessionRecord, expected: number | null, ttlMs: number) {
    await super.set(key, record, expected, ttlMs);
    // Bump the version behind the writer's back, so its compare-and-set never matches.
    const entry = this.records.get(key);
    if (entry) entry.record.version += 7;
    return false;
  }
}

describe('sealed revokeSessions', () => {
  it('throws SessionConflictError when the not-before record cannot be written, instead of claiming success', async () => {
    const store = new AlwaysConflicting();
    const manager = createSessionManager({ seal: { secrets: [S1] }, store });
    await expect(manager.revokeSessions('alice', { now: T0 })).rejects.toBeInstanceOf(SessionConflictError);
  });

  it('succeeds on a cooperative store and then refuses the older sealed cookie', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ seal: { secrets: [S1] }, store });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.login('alice'));
    expect(await manager.revokeSessions('alice', { now: T0 + 1 })).toBe(1);
    const { result } = await visit(manager, browser, (s) => s.userId, { now: T0 + 2 });
    expect(result).toBeUndefined();
  });
});
