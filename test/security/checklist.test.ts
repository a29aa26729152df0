/**
 * Rows of SECURITY.md's checklist (OWASP ASVS 5.0 V7, the Session Management Cheat Sheet) that no test
 * elsewhere proved in so many words. The others name their tests in SECURITY.md.
 */
import { describe, expect, it } from 'vitest';
import { withSession } from '../../src/adapters/fetch.js';
import { createSessionManager } from '../../src/index.js';
import { Browser, copyOf, TestStore, visit } from '../session/helpers.js';

const SECRET = 'a-32-byte-or-longer-signing-secret!!';
const NEW_SECRET = 'a-new-32-byte-signing-secret-for-everyone';
const SEAL = 'first-sealing-secret-of-32-bytes-or-more';
const NEW_SEAL = 'a-new-sealing-secret-of-32-bytes-or-more';

describe('ASVS 7.2.4: a new token at authentication, including re-authentication', () => {
  it('login() on a session already logged in (re-authentication) issues a new id and ends the old one', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ store });
    const browser = new Browser();
    await visit(manager, browser, (s) => s.login('alice'));
    const before = copyOf(browser);
    await visit(manager, browser, (s) => s.login('alice'));
    expect(browser.value()).not.toBe(before.value());
    expect((await visit(manager, before, (s) => [s.isNew, s.userId])).result).toEqual([true, undefined]);
    expect((await visit(manager, browser, (s) => s.userId)).result).toBe('alice');
    expect(store.sessions()).toHaveLength(1);
  });
});

describe('ASVS 7.4.5: administrators end the sessions of one user or of all users', () => {
  it("one user's: revokeSessions(userId), the others untouched", async () => {
    const store = new TestStore();
    const manager = createSessionManager({ store });
    const [alice, alice2, bob] = [new Browser(), new Browser(), new Browser()];
    await visit(manager, alice, (s) => s.login('alice'));
    await visit(manager, alice2, (s) => s.login('alice'));
    await visit(manager, bob, (s) => s.login('bob'));
    expect(await manager.revokeSessions('alice')).toBe(2);
    for (const browser of [alice, alice2])
      expect((await visit(manager, browser, (s) => s.userId)).result).toBeUndefined();
    expect((await visit(manager, bob, (s) => s.userId)).result).toBe('bob');
  });

  it("all users': a new id-signing secret (stored sessions) or new seal secrets (sealed), the old one left out", async () => {
    const store = new TestStore();
    const signed = new Browser();
    await visit(createSessionManager({ store, secret: SECRET }), signed, (s) => s.login('alice'));
    const rotated = createSessionManager({ store, secret: [NEW_SECRET, SECRET] });
    expect((await visit(rotated, copyOf(signed), (s) => s.userId)).result).toBe('alice');
    const replaced = createSessionManager({ store, secret: NEW_SECRET });
    expect((await visit(replaced, signed, (s) => s.userId)).result).toBeUndefined();

    const sealed = new Browser();
    await visit(createSessionManager({ seal: { secrets: [SEAL] } }), sealed, (s) => s.login('bob'));
    const resealed = createSessionManager({ seal: { secrets: [NEW_SEAL] } });
    expect((await visit(resealed, sealed, (s) => s.userId)).result).toBeUndefined();
  });
});

describe('Session Management Cheat Sheet: the id travels in the cookie only', () => {
  it('an id in the query string, a form body or another header is never read: the request gets a fresh session', async () => {
    const store = new TestStore();
    const manager = createSessionManager({ store });
    const handler = withSession(manager, (_request, { session }) =>
      Response.json({ user: session.userId ?? null, isNew: session.isNew }),
    );
    const login = await withSession(manager, (_request, { session }) => {
      session.login('alice');
      return new Response('ok');
    })(new Request('http://127.0.0.1/login'));
    const id = /^sid=([^;]+)/.exec(login.headers.get('set-cookie') ?? '')![1]!;
    const answers = await Promise.all(
      [
        new Request(`http://127.0.0.1/?sid=${id}`),
        new Request('http://127.0.0.1/', {
          method: 'POST',
          body: new URLSearchParams({ sid: id }),
        }),
        new Request('http://127.0.0.1/', { headers: { authorization: `Bearer ${id}`, 'x-session-id': id } }),
      ].map(async (request) => (await handler(request)).json()),
    );
    for (const answer of answers) expect(answer).toEqual({ user: null, isNew: true });
    // The control: the same id in the cookie is alice.
    const withCookie = await handler(new Request('http://127.0.0.1/', { headers: { cookie: `sid=${id}` } }));
    expect(await withCookie.json()).toEqual({ user: 'alice', isNew: false });
  });
});
