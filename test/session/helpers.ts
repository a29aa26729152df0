/**
 * Test helpers of the session core: a Map store implementing the store contract that counts its calls
 * and injects faults (throws, hangs, slow answers), a tiny cookie-keeping browser, and a request helper.
 */
import { parseSetCookie } from '../../src/cookie/index.js';
import type { CommitOptions, LoadContext, SessionManager } from '../../src/session/manager.js';
import { createSessionManager } from '../../src/session/manager.js';
import type { Session } from '../../src/session/session.js';
import type { SessionRecord, SessionStore } from '../../src/session/store.js';

/** A fixed epoch for fake clocks. */
export const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;

interface Entry {
  record: SessionRecord;
  ttlMs: number;
}

/** A Map store (compare-and-set on `version`) that counts calls and can fail on demand. */
export class TestStore implements SessionStore {
  readonly records = new Map<string, Entry>();
  reads = 0;
  writes = 0;
  deletes = 0;
  /** When set, every call rejects with this error. */
  failWith: Error | undefined;
  /** When true, every call never settles. */
  hang = false;
  /** setImmediate turns each call waits before answering (lets requests interleave). */
  ticks = 0;
  /** Real milliseconds each call takes (a slow, degraded store). */
  delayMs = 0;
  /** Every call, in order: "get", "set", "delete", ... */
  readonly log: string[] = [];

  async #fault(op: string): Promise<void> {
    this.log.push(op);
    if (this.hang) await new Promise<never>(() => {});
    for (let i = 0; i < this.ticks; i++) await new Promise((resolve) => setImmediate(resolve));
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (this.failWith) throw this.failWith;
  }

  async get(key: string): Promise<SessionRecord | null> {
    this.reads++;
    await this.#fault('get');
    const entry = this.records.get(key);
    return entry ? structuredClone(entry.record) : null;
  }

  async set(key: string, record: SessionRecord, expected: number | null, ttlMs: number): Promise<boolean> {
    this.writes++;
    await this.#fault('set');
    const current = this.records.get(key);
    if (expected === null ? current !== undefined : current?.record.version !== expected) return false;
    this.records.set(key, { record: structuredClone(record), ttlMs });
    return true;
  }

  async delete(key: string): Promise<void> {
    this.deletes++;
    await this.#fault('delete');
    this.records.delete(key);
  }

  async listByUser(userId: string): Promise<Array<{ key: string; record: SessionRecord }>> {
    this.reads++;
    await this.#fault('listByUser');
    return [...this.records]
      .filter(([, e]) => e.record.userId === userId)
      .map(([key, e]) => ({ key, record: structuredClone(e.record) }));
  }

  async deleteByUser(userId: string, options?: { exceptKey?: string }): Promise<number> {
    await this.#fault('deleteByUser');
    let n = 0;
    for (const [key, e] of this.records) {
      if (e.record.userId === userId && key !== options?.exceptKey) {
        this.records.delete(key);
        n++;
      }
    }
    return n;
  }

  async count(): Promise<number> {
    return this.records.size;
  }

  /** Records that are live sessions (not pointers or tombstones). */
  sessions(): Array<[string, SessionRecord]> {
    return [...this.records]
      .filter(([, e]) => e.record.movedTo === undefined && e.record.expiresAt > 0)
      .map(([k, e]) => [k, e.record]);
  }

  resetCounts(): void {
    this.reads = 0;
    this.writes = 0;
    this.deletes = 0;
    this.log.length = 0;
  }
}

/** A user agent that keeps the cookies it is sent (no domain/path logic: one host, Path=/). */
export class Browser {
  readonly cookies = new Map<string, string>();
  /** The last Set-Cookie lines received, parsed. */
  last: ReturnType<typeof parseSetCookie>[] = [];

  header(): string | undefined {
    if (this.cookies.size === 0) return undefined;
    return [...this.cookies].map(([n, v]) => `${n}=${v}`).join('; ');
  }

  receive(lines: readonly string[], now: number = T0): void {
    this.last = lines.map((line) => parseSetCookie(line, { now }));
    for (const cookie of this.last) {
      if (cookie === undefined)
        throw new Error(`unparseable Set-Cookie from the manager: ${lines.join(' | ')}`);
      if (cookie.expiresAt !== undefined && cookie.expiresAt.getTime() <= now)
        this.cookies.delete(cookie.name);
      else this.cookies.set(cookie.name, cookie.value);
    }
  }

  /** The value of the session cookie (whatever its name). */
  value(name = 'sid'): string | undefined {
    return this.cookies.get(name);
  }
}

export interface Visit<Data extends object, R> {
  session: Session<Data>;
  setCookie: string[];
  result: R;
}

/** One request: load with the browser's cookies, run `handler`, commit, give the browser the cookies. */
export async function visit<Data extends object, R = void>(
  manager: SessionManager<Data>,
  browser: Browser,
  handler?: (session: Session<Data>) => R | Promise<R>,
  context: LoadContext = { now: T0 },
  commit: CommitOptions = {},
): Promise<Visit<Data, R>> {
  const session = await manager.load(browser.header(), context);
  const result = (await handler?.(session)) as R;
  const { setCookie } = await manager.commit(session, commit);
  const now =
    context.now === undefined ? T0 : typeof context.now === 'number' ? context.now : context.now.getTime();
  browser.receive(setCookie, now);
  return { session, setCookie, result };
}

/** A stored session holding `data` (written by a manager of its own on `store`); its Cookie header. */
export async function seeded(store: TestStore, data: Record<string, number>): Promise<string> {
  const manager = createSessionManager({ store });
  const browser = new Browser();
  await visit(manager, browser, (s) => {
    for (const [k, v] of Object.entries(data)) s.set(k, v);
  });
  return browser.header()!;
}

/** A second browser holding a copy of `browser`'s cookies, taken now (a stolen cookie, another tab). */
export function copyOf(browser: Browser): Browser {
  const copy = new Browser();
  for (const [name, value] of browser.cookies) copy.cookies.set(name, value);
  return copy;
}

/**
 * A guest puts an apple in the cart, logs in as alice, adds a pear: what the next request then sees,
 * `[userId, cart]` (each request at `context()`; `['alice', ['apple', 'pear']]` when the store keeps it all).
 */
export async function cartThroughLogin(
  manager: SessionManager<{ cart: string[] }>,
  browser: Browser,
  context: () => LoadContext,
): Promise<unknown> {
  await visit(manager, browser, (s) => s.set('cart', ['apple']), context());
  await visit(manager, browser, (s) => s.login('alice'), context());
  await visit(manager, browser, (s) => s.update('cart', (c = []) => [...c, 'pear']), context());
  return (await visit(manager, browser, (s) => [s.userId, s.get('cart')], context())).result;
}

/** A session logged in as alice on a TestStore, behind a manager with a 100 ms storeTimeout (for fault tests). */
export async function loggedIn() {
  const store = new TestStore();
  const manager = createSessionManager({ store, storeTimeout: 100 });
  const browser = new Browser();
  await visit(manager, browser, (s) => s.login('alice'));
  return { store, manager, browser };
}
