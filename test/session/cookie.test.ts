import { describe, expect, it } from 'vitest';
import { parseSetCookie } from '../../src/cookie/index.js';
import { createSessionManager, isLoopbackHost } from '../../src/index.js';
import { T0, TestStore } from './helpers.js';

async function firstCookie(options: Parameters<typeof createSessionManager>[0], context: object) {
  const manager = createSessionManager(options);
  const s = await manager.load(undefined, { now: T0, ...context });
  s.set('a', 1);
  const { setCookie } = await manager.commit(s);
  expect(setCookie).toHaveLength(1);
  return { line: setCookie[0]!, cookie: parseSetCookie(setCookie[0]!)!, manager };
}

describe('the session cookie', () => {
  it('defaults: HttpOnly, SameSite=Lax, Path=/, a session cookie (no Max-Age/Expires)', async () => {
    const { line, cookie } = await firstCookie({ store: new TestStore() }, {});
    expect(cookie).toMatchObject({ name: 'sid', httpOnly: true, sameSite: 'Lax', path: '/', secure: false });
    expect(line).not.toMatch(/Max-Age|Expires|Domain/);
  });

  const names: Array<[string, object, object, string, boolean]> = [
    ['secure: auto over HTTPS', {}, { secure: true, host: 'example.com' }, '__Host-Http-sid', true],
    ['secure: auto over HTTP', {}, { secure: false, host: 'example.com' }, 'sid', false],
    ['secure: auto over plain http on localhost', {}, { host: 'localhost:3000' }, 'sid', false],
    ['secure: auto over plain http on 127.0.0.1', {}, { host: '127.0.0.1:8080' }, 'sid', false],
    ['secure: auto over plain http on 127.9.9.9', {}, { host: '127.9.9.9' }, 'sid', false],
    ['secure: auto over plain http on [::1]', {}, { host: '[::1]:3000' }, 'sid', false],
    ['secure: auto on a LAN address', {}, { host: '192.168.1.2' }, 'sid', false],
    ['secure: auto on a look-alike host', {}, { host: 'localhost.example.com' }, 'sid', false],
    ['secure: true', { secure: true }, {}, '__Host-Http-sid', true],
    ['secure: true with a Domain', { secure: true, domain: 'example.com' }, {}, '__Http-sid', true],
    ['secure: true with another Path', { secure: true, path: '/app' }, {}, '__Http-sid', true],
    ['secure: false over HTTPS', { secure: false }, { secure: true }, 'sid', false],
    ['an explicit name', { name: 'app_session', secure: true }, {}, 'app_session', true],
  ];
  for (const [title, cookieOptions, context, name, secure] of names) {
    it(`${title}: ${name}`, async () => {
      const { cookie } = await firstCookie({ store: new TestStore(), cookie: cookieOptions }, context);
      expect(cookie.name).toBe(name);
      expect(cookie.secure).toBe(secure);
      expect(cookie.httpOnly).toBe(true);
    });
  }

  it('load reads the cookie name that fits the request', async () => {
    const store = new TestStore();
    const { cookie, manager } = await firstCookie({ store }, { secure: true });
    const header = `sid=${cookie.value}; __Host-Http-sid=${cookie.value}`;
    expect((await manager.load(header, { now: T0, secure: true })).isNew).toBe(false);
    expect((await manager.load(`sid=${cookie.value}`, { now: T0, secure: true })).isNew).toBe(true);
    expect((await manager.load(`__Host-Http-sid=${cookie.value}`, { now: T0, secure: false })).isNew).toBe(
      true,
    );
    // The former name is read over HTTPS only (plain http's name, sid, did not change).
    expect((await manager.load(`__Host-sid=${cookie.value}`, { now: T0, secure: false })).isNew).toBe(true);
    expect(manager.cookieName({ secure: true })).toBe('__Host-Http-sid');
    expect(manager.cookieName({ host: 'example.com' })).toBe('sid');
  });

  it('sameSite, path and domain options are written', async () => {
    const { cookie } = await firstCookie(
      {
        store: new TestStore(),
        cookie: { sameSite: 'strict', path: '/app', domain: 'example.com', secure: true },
      },
      {},
    );
    expect(cookie).toMatchObject({ sameSite: 'Strict', path: '/app', domain: 'example.com' });
  });

  it('refuses option combinations a browser would drop', () => {
    const store = new TestStore();
    expect(() => createSessionManager({ store, cookie: { sameSite: 'None' } })).toThrow(
      /needs cookie.secure: true/,
    );
    expect(() => createSessionManager({ store, cookie: { name: '__Host-x', secure: false } })).toThrow(
      TypeError,
    );
    for (const name of ['__Host-Http-x', '__Http-x', '__http-x']) {
      expect(() => createSessionManager({ store, cookie: { name, secure: false } }), name).toThrow(
        /requires secure: true/,
      );
      expect(() => createSessionManager({ store, cookie: { name } }), name).toThrow(
        /needs cookie.secure: true, not 'auto'/,
      );
    }
    expect(() =>
      createSessionManager({ store, cookie: { name: '__Host-Http-x', secure: true, domain: 'example.com' } }),
    ).toThrow(/must not have a domain/);
    expect(() =>
      createSessionManager({ store, cookie: { name: '__Http-x', secure: true, path: '/app' } }),
    ).not.toThrow();
    expect(() => createSessionManager({ store, cookie: { name: 'bad name' } })).toThrow(TypeError);
    expect(() => createSessionManager({ store, cookie: { secure: 'yes' as never } })).toThrow(TypeError);
    expect(() => createSessionManager({ store, idleTimeout: -1 })).toThrow(/idleTimeout/);
    expect(() => createSessionManager({ store, rememberMe: 401 * 24 * 3600 * 1000 })).toThrow(/rememberMe/);
    expect(() => createSessionManager({} as never)).toThrow(/give a store/);
  });

  it('isLoopbackHost', () => {
    for (const host of [
      'localhost',
      'LOCALHOST:80',
      'localhost.',
      'app.localhost',
      '127.0.0.1',
      '127.255.255.255:1',
      '[::1]',
      '[0:0:0:0:0:0:0:1]:8080',
    ]) {
      expect(isLoopbackHost(host), host).toBe(true);
    }
    for (const host of [
      '',
      undefined,
      'example.com',
      '128.0.0.1',
      '127.0.0.256',
      '[::2]',
      'localhost.evil.com',
      '[::1',
      '1.127.0.0.1',
    ]) {
      expect(isLoopbackHost(host), String(host)).toBe(false);
    }
  });
});
