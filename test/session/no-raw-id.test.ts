import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createSessionManager, type SessionEvent } from '../../src/index.js';
import { flipBit } from '../support/tamper.js';
import { Browser, MINUTE, T0, TestStore, visit } from './helpers.js';

describe('nothing logged, thrown or emitted carries a raw id', () => {
  it('a full scenario, captured whole', async () => {
    const captured: string[] = [];
    const capture = (level: string) => (message: string, fields?: Record<string, unknown>) =>
      captured.push(`${level} ${message} ${inspect(fields, { depth: 10 })}`);
    const logger = {
      debug: capture('debug'),
      info: capture('info'),
      warn: capture('warn'),
      error: capture('error'),
    };
    const events: SessionEvent[] = [];
    const store = new TestStore();
    const options = {
      store,
      logger,
      onEvent: (e: SessionEvent) => events.push(e),
      renewAfter: 10 * MINUTE,
      storeTimeout: 50,
      lockTimeout: 30,
      maxDataBytes: 2000,
    };
    const manager = createSessionManager<Record<string, unknown>>(options);
    const other = createSessionManager<Record<string, unknown>>(options);
    const ids = new Set<string>();
    const errors: unknown[] = [];
    const browser = new Browser();
    const remember = () => {
      for (const v of browser.cookies.values()) ids.add(v);
    };
    const attempt = async (fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (error) {
        errors.push(error);
      }
    };

    // First visit, login, reads, a touch, a renewal.
    await visit(manager, browser, (s) => s.set('cart', ['apple']));
    remember();
    await visit(manager, browser, (s) => s.login('alice'), {
      now: T0 + 1000,
      userAgent: 'UA',
      ip: '10.0.0.1',
    });
    remember();
    await visit(manager, browser, (s) => s.get('cart'), { now: T0 + 2 * MINUTE });
    await visit(manager, browser, (s) => s.get('cart'), { now: T0 + 12 * MINUTE });
    remember();
    const t = T0 + 13 * MINUTE;
    // A conflict across two processes.
    const a = await manager.load(browser.header(), { now: t });
    const b = await other.load(browser.header(), { now: t });
    a.set('n', (a.get('n') as number | undefined) ?? 1);
    b.set('n', 2);
    await other.commit(b);
    await attempt(() => manager.commit(a));
    // A lock timeout.
    const holder = await manager.load(browser.header(), { now: t });
    await attempt(() => manager.load(browser.header(), { now: t }));
    await manager.commit(holder);
    // Too large.
    await attempt(() => visit(manager, browser, (s) => s.set('big', 'x'.repeat(5000)), { now: t }));
    // Store down, then hanging.
    store.failWith = new Error('down');
    await attempt(() => visit(manager, browser, (s) => s.get('cart'), { now: t }));
    store.failWith = undefined;
    store.hang = true;
    await attempt(() => visit(manager, browser, (s) => s.get('cart'), { now: t }));
    store.hang = false;
    // Tampered and unknown cookies.
    const id = [...ids].at(-1)!;
    for (const bad of [flipBit(id), id.slice(0, 20), 'x'.repeat(43)]) {
      await visit(manager, Object.assign(new Browser(), { cookies: new Map([['sid', bad]]) }), (s) =>
        s.get('cart'),
      );
      ids.add(bad);
    }
    // listSessions, a session shown in logs, logout, a replay, a write racing the logout.
    const listed = await manager.listSessions('alice', { now: t });
    const racer = await other.load(browser.header(), { now: t });
    const stolen = browser.header()!;
    const shown = await manager.load(browser.header(), { now: t });
    captured.push(inspect(shown), JSON.stringify(shown), String(shown));
    shown.logout();
    await manager.commit(shown);
    racer.set('n', 3);
    await attempt(() => other.commit(racer));
    await visit(
      manager,
      Object.assign(new Browser(), { cookies: new Map([['sid', stolen.slice(4)]]) }),
      (s) => s.userId,
    );
    await manager.revokeSessions('alice');

    expect(ids.size).toBeGreaterThanOrEqual(6);
    expect(errors.length).toBeGreaterThanOrEqual(5);
    expect(events.map((e) => e.type)).toEqual(
      expect.arrayContaining([
        'created',
        'login',
        'touched',
        'renewed',
        'conflict',
        'rejected',
        'store-error',
        'logout',
        'revoked',
      ]),
    );
    const everything = [
      ...captured,
      JSON.stringify(events),
      JSON.stringify(listed),
      ...errors.flatMap((e) => {
        const err = e as Error;
        return [
          err.message,
          String(err.stack),
          inspect(err, { depth: 10 }),
          String((err.cause as Error | undefined)?.message),
        ];
      }),
    ].join('\n');
    expect(captured.length).toBeGreaterThan(0);
    for (const raw of ids) expect(everything).not.toContain(raw);
  });
});
