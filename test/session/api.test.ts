import { describe, expect, it } from 'vitest';
import * as teller from '../../src/index.js';
import { createMemoryStore } from '../../src/stores/memory.js';
import { Browser, T0, TestStore, visit } from './helpers.js';

describe('the teller entry point', () => {
  it('exports the session API, the store contract constant and the typed errors', () => {
    expect(Object.keys(teller).sort()).toEqual(
      [
        'RECORD_FORMAT',
        'assertRetireArguments',
        'assertScanArguments',
        'assertSetArguments',
        'Session',
        'SessionConflictError',
        'SessionDestroyedError',
        'SessionLockTimeoutError',
        'SessionRateLimitError',
        'SessionStoreError',
        'SessionStoreTimeoutError',
        'SessionTooLargeError',
        'TellerError',
        'createSessionManager',
        'generateId',
        'isLoopbackHost',
        'jsonSerializer',
        'retiredRecordOf',
        'retiredTtlOf',
        'statusForError',
        'storeKeyOf',
      ].sort(),
    );
  });

  it('errors carry the statuses adapters answer with', () => {
    const cases: Array<[teller.TellerError, number]> = [
      [new teller.SessionStoreError('x'), 503],
      [new teller.SessionStoreTimeoutError('x'), 503],
      [new teller.SessionLockTimeoutError('x'), 503],
      [new teller.SessionConflictError('x'), 409],
      [new teller.SessionDestroyedError('x'), 409],
      [new teller.SessionTooLargeError('x'), 500],
      [new teller.SessionRateLimitError('x', 30), 429],
    ];
    for (const [error, status] of cases) {
      expect(error).toBeInstanceOf(teller.TellerError);
      expect(teller.statusForError(error)).toBe(status);
    }
    expect(teller.statusForError(new Error('x'))).toBe(500);
  });

  it('works end to end with the memory store (first visit, login, read, logout, replay)', async () => {
    const manager = teller.createSessionManager<{ visits: number }>({ store: createMemoryStore() });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.update('visits', (n = 0) => n + 1));
    await visit(manager, browser, (s) => s.login('alice'));
    const old = browser.header()!;
    const read = await visit(manager, browser, (s) => [s.userId, s.get('visits'), s.accessed]);
    expect(read.result).toEqual(['alice', 1, true]);
    await visit(manager, browser, (s) => s.logout());
    const replay = await manager.load(old, { now: T0 });
    expect([replay.isNew, replay.userId]).toEqual([true, undefined]);
    await manager.commit(replay);
    await manager.close();
    await expect(manager.load(undefined)).rejects.toThrow(/closed/);
  });
});

describe('a closed manager', () => {
  it('answers a late request 503 (a SessionStoreError), like a store that is down', async () => {
    const manager = teller.createSessionManager({ store: new TestStore() });
    await manager.close();
    const error = await manager.load(undefined).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(teller.SessionStoreError);
    expect(teller.statusForError(error)).toBe(503);
  });
});
