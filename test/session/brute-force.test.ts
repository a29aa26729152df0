/**
 * Id brute-force detection (`bruteForce`): distinct unknown ids per client address in a sliding window, a
 * bounded LRU table of clients, one `brute-force` event per burst, the '429' policy (SessionRateLimitError with
 * Retry-After), nothing counted for live or expired sessions nor without an address, and the node adapter's
 * address taken from X-Forwarded-For only with `trustProxy`.
 */
import { createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createNodeSessions } from '../../src/adapters/node.js';
import { SessionRateLimitError, statusForError } from '../../src/session/errors.js';
import { createSessionManager, type SessionManager } from '../../src/session/manager.js';
import type { SessionEvent, SessionManagerOptions } from '../../src/session/options.js';
import { close, httpCall, listen, unknownCookie } from '../adapters/helpers.js';
import { Browser, MINUTE, T0, TestStore, visit } from './helpers.js';

const A = '198.51.100.1';
const B = '198.51.100.2';
const C = '198.51.100.3';

function setup(bruteForce: SessionManagerOptions['bruteForce'], extra: Partial<SessionManagerOptions> = {}) {
  const store = new TestStore();
  const events: SessionEvent[] = [];
  const manager = createSessionManager({ store, bruteForce, onEvent: (e) => events.push(e), ...extra });
  const bursts = () => events.filter((e) => e.type === 'brute-force');
  return { store, manager, events, bursts };
}

/** A request from `ip` at `now` carrying the unknown id number `n`: committed, or the error load threw. */
async function guess(manager: SessionManager, n: number, ip: string | undefined, now: number) {
  try {
    const session = await manager.load(unknownCookie(n), { ip, now });
    await manager.commit(session);
    return undefined;
  } catch (error) {
    return error;
  }
}

describe('bruteForce: counting', () => {
  it('counts distinct unknown ids per client within the sliding window', async () => {
    const { manager, bursts } = setup({ threshold: 3, window: MINUTE });
    await guess(manager, 1, A, T0);
    await guess(manager, 2, A, T0 + 10_000);
    // The first has left the window: still two within it.
    await guess(manager, 3, A, T0 + MINUTE + 1);
    expect(bursts()).toEqual([]);
    // Another client's ids are its own.
    await guess(manager, 4, B, T0 + MINUTE + 2);
    expect(bursts()).toEqual([]);
    await guess(manager, 5, A, T0 + MINUTE + 3);
    expect(bursts()).toHaveLength(1);
    expect(bursts()[0]).toMatchObject({ type: 'brute-force', ip: A, at: T0 + MINUTE + 3 });
  });

  it('counts a repeated stale cookie once (a browser that kept an ended session is not guessing)', async () => {
    const { manager, bursts } = setup({ threshold: 3 });
    for (let i = 0; i < 50; i++) await guess(manager, 7, A, T0 + i);
    await guess(manager, 8, A, T0 + 100);
    expect(bursts()).toEqual([]);
  });

  it('reports one event per burst; a new burst after the window reports again', async () => {
    const { manager, bursts } = setup({ threshold: 3, window: MINUTE });
    for (let n = 0; n < 30; n++) await guess(manager, n, A, T0 + n);
    expect(bursts()).toHaveLength(1);
    const later = T0 + 2 * MINUTE;
    for (let n = 100; n < 130; n++) await guess(manager, n, A, later + n);
    expect(bursts()).toHaveLength(2);
  });

  it('keeps at most maxClients clients, forgetting the least recently seen first', async () => {
    const { manager, bursts } = setup({ threshold: 3, maxClients: 2 });
    await guess(manager, 1, A, T0);
    await guess(manager, 2, B, T0 + 1);
    await guess(manager, 3, A, T0 + 2); // A seen again: B is now the least recent
    await guess(manager, 4, C, T0 + 3); // B forgotten
    await guess(manager, 5, A, T0 + 4);
    expect(bursts().map((e) => e.ip)).toEqual([A]);
    // B starts over: two more of its ids make two, not three.
    await guess(manager, 6, B, T0 + 5);
    await guess(manager, 7, B, T0 + 6);
    expect(bursts().map((e) => e.ip)).toEqual([A]);
  });

  it('holds a bounded table under a flood of distinct addresses', async () => {
    const { manager, bursts } = setup({ threshold: 2, maxClients: 100 });
    for (let i = 0; i < 5_000; i++) await guess(manager, i, `10.0.${i >> 8}.${i & 255}`, T0 + i);
    expect(bursts()).toEqual([]);
    // The oldest address was forgotten (its first id is gone), the newest still remembered.
    await guess(manager, 9_000, '10.0.0.0', T0 + 6_000);
    expect(bursts()).toEqual([]);
    await guess(manager, 9_001, '10.0.19.135', T0 + 6_001);
    expect(bursts().map((e) => e.ip)).toEqual(['10.0.19.135']);
  });

  it('counts malformed and badly signed cookies, and sealed cookies tampered with', async () => {
    const signed = setup({ threshold: 3 }, { secret: 'a'.repeat(32) });
    for (const [n, value] of ['x', 'not-an-id', `${'A'.repeat(43)}.bad`].entries()) {
      const session = await signed.manager.load(`sid=${value}`, { ip: A, now: T0 + n });
      await signed.manager.commit(session);
    }
    expect(signed.bursts()).toHaveLength(1);
    const sealed = createSessionManager({
      seal: { secrets: ['s'.repeat(32)] },
      bruteForce: { threshold: 2 },
      onEvent: (e) => sealed.events.push(e),
    }) as SessionManager & { events: SessionEvent[] };
    sealed.events = [];
    for (const n of [1, 2]) await guess(sealed, n, A, T0 + n);
    expect(sealed.events.filter((e) => e.type === 'brute-force')).toHaveLength(1);
  });

  it('does not count expired sessions, live sessions, or requests without an address', async () => {
    const { manager, bursts, store } = setup({ threshold: 2 }, { idleTimeout: MINUTE });
    const browsers = [new Browser(), new Browser(), new Browser()];
    for (const browser of browsers) await visit(manager, browser, (s) => s.set('n', 1));
    const reads = store.reads;
    // Live: read and served, never counted, however many.
    for (let i = 0; i < 10; i++) {
      for (const browser of browsers)
        await visit(manager, browser, (s) => s.get('n'), { ip: A, now: T0 + i });
    }
    expect(store.reads).toBe(reads + 30);
    // Expired: a returning visitor, not a guess.
    for (const browser of browsers) await visit(manager, browser, undefined, { ip: A, now: T0 + 2 * MINUTE });
    for (let n = 0; n < 10; n++) await guess(manager, n, undefined, T0 + n);
    expect(bursts()).toEqual([]);
  });

  it('is off with bruteForce: false', async () => {
    const { manager, bursts } = setup(false);
    for (let n = 0; n < 50; n++) expect(await guess(manager, n, A, T0 + n)).toBeUndefined();
    expect(bursts()).toEqual([]);
  });

  it('checks its options', () => {
    const store = new TestStore();
    expect(() => createSessionManager({ store, bruteForce: { policy: 'block' as '429' } })).toThrow(
      /bruteForce\.policy must be 'event' or '429'/,
    );
    expect(() => createSessionManager({ store, bruteForce: { threshold: 0 } })).toThrow(
      /bruteForce\.threshold/,
    );
    expect(() => createSessionManager({ store, bruteForce: { window: -1 } })).toThrow(/bruteForce\.window/);
    expect(() =>
      createSessionManager({ store, bruteForce: { limit: 3 } as unknown as { threshold: number } }),
    ).toThrow(/unknown option bruteForce\.limit/);
    expect(() => createSessionManager({ store, bruteForce: true as unknown as false })).toThrow(
      /bruteForce must be an object or false/,
    );
  });
});

describe("bruteForce: the '429' policy", () => {
  it('refuses the unknown ids of a burst with SessionRateLimitError (429, Retry-After until the burst ends)', async () => {
    const { manager, bursts } = setup({ threshold: 3, window: MINUTE, policy: '429' });
    expect(await guess(manager, 1, A, T0)).toBeUndefined();
    expect(await guess(manager, 2, A, T0 + 15_000)).toBeUndefined();
    const refused = await guess(manager, 3, A, T0 + 20_000);
    expect(refused).toBeInstanceOf(SessionRateLimitError);
    expect(statusForError(refused)).toBe(429);
    // The first id leaves the window at T0 + 60 s: 40 s from now.
    expect((refused as SessionRateLimitError).retryAfter).toBe(40);
    expect((refused as Error).message).not.toContain(unknownCookie(3).split('=')[1]!.slice(0, 43));
    expect(await guess(manager, 4, A, T0 + 21_000)).toBeInstanceOf(SessionRateLimitError);
    // Another address is not refused.
    expect(await guess(manager, 5, B, T0 + 21_000)).toBeUndefined();
    expect(bursts()).toHaveLength(1);
    // Once the window has passed, the client is served again.
    expect(await guess(manager, 6, A, T0 + 3 * MINUTE)).toBeUndefined();
  });

  it('never refuses a live session of the same address, nor a request without a cookie', async () => {
    const { manager } = setup({ threshold: 2, policy: '429' });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.login('alice'), { ip: A, now: T0 });
    for (let n = 0; n < 5; n++) await guess(manager, n, A, T0 + n);
    const mine = await visit(manager, browser, (s) => s.userId, { ip: A, now: T0 + 10 });
    expect(mine.result).toBe('alice');
    const first = await manager.load(undefined, { ip: A, now: T0 + 11 });
    await manager.commit(first);
  });
});

describe('bruteForce behind the node adapter: the address is the socket, X-Forwarded-For only with trustProxy', () => {
  const servers: ReturnType<typeof createServer>[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map(close));
  });

  async function serve(trustProxy: boolean) {
    const events: SessionEvent[] = [];
    const manager = createSessionManager({
      store: new TestStore(),
      bruteForce: { threshold: 3, policy: '429' },
      onEvent: (e) => events.push(e),
    });
    const sessions = createNodeSessions(manager, { trustProxy, onError: () => {} });
    const server = createServer(sessions.wrap((_req, res) => res.end('ok')));
    servers.push(server);
    const port = await listen(server);
    const statuses = [];
    for (let n = 0; n < 4; n++) {
      const headers = { cookie: unknownCookie(n), 'x-forwarded-for': `203.0.113.${n}` };
      statuses.push((await httpCall(port, 'GET', '/', { headers })).status);
    }
    return { statuses, ips: events.filter((e) => e.type === 'brute-force').map((e) => e.ip) };
  }

  it('without trustProxy, a forged X-Forwarded-For per request does not spread the guesses', async () => {
    const { statuses, ips } = await serve(false);
    expect(statuses).toEqual([200, 200, 429, 429]);
    expect(ips).toHaveLength(1);
    expect(ips[0]).toMatch(/127\.0\.0\.1$/);
  });

  it('with trustProxy, each forwarded client is counted on its own', async () => {
    const { statuses, ips } = await serve(true);
    expect(statuses).toEqual([200, 200, 200, 200]);
    expect(ips).toEqual([]);
  });
});
