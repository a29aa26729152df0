/**
 * A new user's first day (issue 16): mistakes fail at construction, with what to do instead; anonymous
 * sessions that outlive the browser.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSessionManager } from '../../src/index.js';
import { Browser, HOUR, MINUTE, T0, TestStore, visit } from './helpers.js';

const DAY = 24 * HOUR;
const at = (ms: number) => ({ now: T0 + ms });

describe('unknown options are an error at construction, naming the option', () => {
  it.each([
    [
      'resave',
      { resave: false },
      /unknown option resave: .*only when it changed.*\(code written for express-session keeps its options on teller\/adapters\/express-session\)$/,
    ],
    ['saveUninitialized', { saveUninitialized: false }, /unknown option saveUninitialized: .*first write/],
    ['name', { name: 'connect.sid' }, /unknown option name: .*cookie\.name/],
    ['rolling', { rolling: true }, /unknown option rolling: .*idle lifetime slides/],
    ['genid', { genid: () => 'x' }, /unknown option genid: .*CSPRNG/],
    [
      'cookie.maxAge',
      { cookie: { maxAge: 60_000 } },
      /unknown option cookie\.maxAge: .*remember: true.*anonymousLifetime/,
    ],
    [
      'cookie.httpOnly',
      { cookie: { httpOnly: false } },
      /unknown option cookie\.httpOnly: .*always HttpOnly/,
    ],
    ['a typo', { idleTimout: 1000 }, /^\[teller\] \[session\] unknown option idleTimout$/],
  ])('%s', (_name, extra, message) => {
    // A config object built first compiles in TypeScript; the check happens at run time.
    const options = { store: new TestStore(), ...extra } as Parameters<typeof createSessionManager>[0];
    expect(() => createSessionManager(options)).toThrow(TypeError);
    expect(() => createSessionManager(options)).toThrow(message);
  });

  it('every documented option is accepted', () => {
    expect(() =>
      createSessionManager({
        store: new TestStore(),
        cookie: { name: 'sid', secure: 'auto', sameSite: 'Lax', path: '/', domain: undefined },
        idleTimeout: MINUTE,
        absoluteTimeout: HOUR,
        renewAfter: MINUTE,
        renewGrace: MINUTE,
        rememberMe: DAY,
        rememberMeAbsolute: 2 * DAY,
        anonymousLifetime: 7 * DAY,
        secret: 'a-signing-secret-of-at-least-32-bytes!!',
        maxDataBytes: 1024,
        storeTimeout: 1000,
        lockTimeout: 100,
        touchInterval: MINUTE,
        logger: console,
        onEvent: () => {},
        clock: Date.now,
      }),
    ).not.toThrow();
  });
});

describe('secrets are checked at construction', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("secret: '' throws now, not at the first commit", () => {
    expect(() => createSessionManager({ store: new TestStore(), secret: '' })).toThrow(
      /^\[teller\] \[session\] secret must not be empty$/,
    );
    expect(() =>
      createSessionManager({ store: new TestStore(), secret: ['long-enough-secret-of-32-bytes!!!', ''] }),
    ).toThrow(/secret\[1\] must not be empty/);
  });

  it('a short secret warns at construction', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    createSessionManager({ store: new TestStore(), secret: 'short' });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toMatch(/shorter than 32 bytes/);
  });
});

describe('anonymousLifetime: anonymous sessions that outlive the browser', () => {
  function guestCarts(extra: object = {}) {
    const store = new TestStore();
    const manager = createSessionManager<{ cart: string[] }>({ store, anonymousLifetime: 7 * DAY, ...extra });
    return { store, manager };
  }

  it('an anonymous session with data gets a persistent cookie for the lifetime, past the idle and absolute timeouts', async () => {
    const { manager } = guestCarts();
    const browser = new Browser();
    const { setCookie } = await visit(manager, browser, (s) => s.set('cart', ['book']), at(0));
    expect(setCookie).toHaveLength(1);
    expect(setCookie[0]).toMatch(/Max-Age=604800/);
    // Back after two days (idle timeout 30 min, absolute 12 h): the cart is there.
    expect((await visit(manager, browser, (s) => s.get('cart'), at(2 * DAY))).result).toEqual(['book']);
    // The lifetime is fixed from creation: a visit does not extend it.
    expect((await visit(manager, browser, (s) => s.get('cart'), at(7 * DAY + 1))).result).toBeUndefined();
  });

  it('a visit that writes nothing stores nothing', async () => {
    const { store, manager } = guestCarts();
    const { setCookie } = await visit(manager, new Browser(), (s) => s.get('cart'), at(0));
    expect(setCookie).toEqual([]);
    expect(store.records.size).toBe(0);
  });

  it('at login the user rules apply: a session cookie (or rememberMe); after logout, anonymous again', async () => {
    const { manager } = guestCarts();
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('cart', ['book']), at(0));
    const login = await visit(manager, browser, (s) => s.login('alice'), at(1000));
    expect(login.setCookie[0]).not.toMatch(/Max-Age/);
    expect(
      (await visit(manager, browser, (s) => s.get('cart'), at(1000 + 31 * MINUTE))).result,
    ).toBeUndefined();
  });

  it('is at most 400 days', () => {
    expect(() => createSessionManager({ store: new TestStore(), anonymousLifetime: 401 * DAY })).toThrow(
      /anonymousLifetime must be a positive number of milliseconds/,
    );
  });

  it('sealed, with a store: a destroyed guest session is refused for its whole lifetime', async () => {
    const store = new TestStore();
    const manager = createSessionManager<{ cart: string[] }>({
      seal: { secrets: ['first-sealing-secret-of-32-bytes-or-more'] },
      store,
      anonymousLifetime: 7 * DAY,
    });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.set('cart', ['book']), at(0));
    const copy = new Browser();
    for (const [name, value] of browser.cookies) copy.cookies.set(name, value);
    await visit(manager, browser, (s) => s.destroy(), at(1000));
    expect((await visit(manager, copy, (s) => s.get('cart'), at(3 * DAY))).result).toBeUndefined();
    const [deny] = [...store.records].filter(([key]) => key.startsWith('dn.'));
    expect(deny![1].record.expiresAt).toBe(T0 + 7 * DAY);
  });
});
