/**
 * `clearSiteData`: the commit result asks for `Clear-Site-Data` when the request ended its session (destroy by
 * default, logout when asked), never when a session was stored after the end (its new cookie would be wiped),
 * nor with an anonymous CSRF cookie being set, nor on a 5xx; the adapters' header helper adds the field.
 */
import { describe, expect, it } from 'vitest';
import { addSessionHeaders, headerTarget } from '../../src/adapters/_shared.js';
import { createSessionManager } from '../../src/session/manager.js';
import type { SessionManagerOptions } from '../../src/session/options.js';
import type { Session } from '../../src/session/session.js';
import { Browser, T0, TestStore, visit } from './helpers.js';

async function ended(
  clearSiteData: SessionManagerOptions['clearSiteData'],
  end: (session: Session) => void,
  status = 200,
) {
  const manager = createSessionManager({ store: new TestStore(), clearSiteData });
  const browser = new Browser();
  await visit(manager, browser, (s) => s.login('alice'));
  const session = await manager.load(browser.header(), { now: T0 });
  end(session);
  return manager.commit(session, { status });
}

describe('clearSiteData', () => {
  it('is asked for by destroy() by default, not by logout()', async () => {
    expect((await ended(undefined, (s) => s.destroy())).clearSiteData).toBe(true);
    expect((await ended(undefined, (s) => s.logout())).clearSiteData).toBeUndefined();
  });

  it('follows the option: logout on, destroy off, or never', async () => {
    expect((await ended({ logout: true }, (s) => s.logout())).clearSiteData).toBe(true);
    expect((await ended({ destroy: false }, (s) => s.destroy())).clearSiteData).toBeUndefined();
    expect((await ended(false, (s) => s.destroy())).clearSiteData).toBeUndefined();
    expect(() =>
      createSessionManager({ store: new TestStore(), clearSiteData: { destroy: 1 as unknown as boolean } }),
    ).toThrow(/clearSiteData\.destroy must be a boolean/);
    expect(() =>
      createSessionManager({ store: new TestStore(), clearSiteData: { all: true } as unknown as false }),
    ).toThrow(/unknown option clearSiteData\.all/);
  });

  it('is not asked for when a session is stored after the end, or on a 5xx, or without an end', async () => {
    const after = await ended(undefined, (s) => {
      s.destroy();
      s.set('flash', 'bye');
    });
    expect(after.setCookie).toHaveLength(1);
    expect(after.clearSiteData).toBeUndefined();
    expect((await ended(undefined, (s) => s.destroy(), 500)).clearSiteData).toBeUndefined();
    expect((await ended(undefined, (s) => s.set('n', 1))).clearSiteData).toBeUndefined();
    // An anonymous CSRF token rendered after the end: its cookie must survive.
    const csrf = await ended(undefined, (s) => {
      s.destroy();
      expect(s.csrfToken).toBeTruthy();
    });
    expect(csrf.setCookie.some((line) => /csrf/i.test(line))).toBe(true);
    expect(csrf.clearSiteData).toBeUndefined();
  });

  it("is added by the adapters' header helper, beside the deleting Set-Cookie", () => {
    const headers = new Headers();
    addSessionHeaders(headerTarget(headers), {}, ['sid=; Max-Age=0'], true);
    expect(headers.get('clear-site-data')).toBe('"cookies", "storage"');
    expect(headers.get('cache-control')).toBe('no-store');
    const plain = new Headers();
    addSessionHeaders(headerTarget(plain), {}, ['sid=x'], false);
    expect(plain.get('clear-site-data')).toBeNull();
  });
});
