/**
 * `teller/adapters/express-session`: a drop-in replacement for express-session. Its default export is the
 * middleware factory, with express-session's options, `req.session` API (`regenerate`, `destroy`, `reload`,
 * `save`, `touch`, `id`, `cookie`, in their callback forms), `req.sessionID`, `req.sessionStore` and exports
 * (`Store`, `MemoryStore`, `Cookie`, `Session`): switching is the import line. It also loads with `require()`.
 *
 * Underneath it is Teller: a session manager (`createSessionManager`) and the node:http adapter
 * (`teller/adapters/node`), which commits the session before the response's headers go out. `req.session` is an
 * object shaped as express-session's (data as plain properties, the methods not enumerable); at commit, its
 * properties are compared with what was loaded and each changed key is written to the Teller session: a key the
 * handler read (`views++`) is read first, so a concurrent change to it is a conflict (409), never a lost update; a
 * key only assigned merges with concurrent writes, as Teller's `set` does; unchanged keys are not written.
 * What is stored is keyed by the hash of the id (`req.sessionID` is the cookie's id, as in express-session).
 *
 * Stores: an express-session store (connect-redis, connect-pg-simple, a `class X extends session.Store`) runs
 * through `fromExpressStore(store, { legacyKeys: true })`, and the manager takes express-session's own cookies
 * (`s:` + signature, `legacyCookies: 'express-session'`), so live sessions survive the switch; a Teller store
 * (`teller/stores/redis`, ...) is taken as it is (compare-and-set); the default, `MemoryStore`, is Teller's
 * bounded memory store. Where express-session is unsafe by default, the API stays and the behaviour is Teller's:
 * no lost updates, the cookie cleared by `destroy()`, a memory store that cannot grow without bound, a store
 * failure answered 503 rather than a silent anonymous session. docs/migrating-from-express-session.md lists
 * every option, method and difference.
 *
 * Types: express-session's own (`@types/express-session`, which code written for express-session already has):
 * `req.session` and `req.sessionID` are typed by its declaration merging, which this module reuses (it adds
 * none of its own).
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type expressSession from 'express-session';
import type { SameSite } from '../cookie/index.js';
import type { BruteForceOptions } from '../session/brute-force.js';
import { tellerMessage } from '../session/errors.js';
import { storeKeyOf } from '../session/ids.js';
import { setPersistent } from '../session/legacy.js';
import { createSessionManager } from '../session/manager.js';
import {
  type ClearSiteDataOptions,
  DEFAULTS,
  MAX_COOKIE_LIFETIME_MS,
  type SessionEvent,
  type SessionLogger,
} from '../session/options.js';
import type { Session as TellerSession } from '../session/session.js';
import { INTERNAL_PREFIX } from '../session/state.js';
import type { SessionRecord, SessionStore } from '../session/store.js';
import { type ExpressStoreLike, fromExpressStore } from '../stores/express.js';
import { createMemoryStore, type MemoryStore as TellerMemoryStore } from '../stores/memory.js';
import type { AdapterManager } from './_shared.js';
import { createNodeSessions } from './node.js';

type ExpressSession = typeof expressSession;
type Callback = (error?: unknown) => void;

/** Teller's options the drop-in also takes (express-session has no equivalent). */
export interface TellerOptions {
  /** ms of inactivity after which a session with a browser-session cookie ends. @default 1_800_000 (30 min) */
  idleTimeout?: number;
  /** ms after creation after which such a session ends, however active. @default 43_200_000 (12 h) */
  absoluteTimeout?: number;
  /** ms a load or commit may wait for the store before a 503. @default 1_000 */
  storeTimeout?: number;
  /** ms a request waits for another request of its session (the in-process lock). @default 250 */
  lockTimeout?: number;
  /** The largest serialized session (bytes); larger is refused at commit (500). @default 65_536 */
  maxDataBytes?: number;
  /** Id brute-force detection (Teller's `bruteForce`). @default { threshold: 20, window: 60_000, maxClients: 10_000, policy: 'event' } */
  bruteForce?: BruteForceOptions | false;
  /** Clear-Site-Data when a session ends (Teller's `clearSiteData`). @default { destroy: true, logout: false } */
  clearSiteData?: ClearSiteDataOptions | false;
  logger?: SessionLogger;
  onEvent?: (event: SessionEvent) => void;
  /** Told of every error answered with a 5xx or 409. @default one console.error line */
  onError?: (error: unknown) => void;
}

/**
 * express-session's options (`secret`, `name`, `cookie`, `genid`, `rolling`, `resave`, `saveUninitialized`,
 * `store`, `unset`, `proxy`), a Teller store accepted as `store` too, and {@link TellerOptions}.
 */
export type SessionOptions = Omit<expressSession.SessionOptions, 'store'> &
  TellerOptions & { store?: expressSession.Store | SessionStore | undefined };
type Options = SessionOptions;

/** Options of the drop-in's `MemoryStore` (Teller's memory store: bounded, swept). */
export interface MemoryStoreOptions {
  /** The most sessions held; when full, a new session is refused (503), nothing is evicted. @default 100_000 */
  maxEntries?: number;
  /** ms between sweeps of ended sessions (0: none). @default 60_000 */
  cleanupInterval?: number;
}

const PART = 'express-session';
const typeError = (text: string) => new TypeError(tellerMessage(PART, text));

/** Calls back on a later turn, as express-session's stores do (a throwing callback never becomes a rejection). */
function defer(callback: ((...args: never[]) => unknown) | undefined, ...args: unknown[]): void {
  if (typeof callback === 'function') setImmediate(() => (callback as (...a: unknown[]) => unknown)(...args));
}

/** A promise's outcome given to a Node-style callback (ignored without one). */
function settle<T>(promise: Promise<T>, callback: ((error: unknown, result?: T) => void) | undefined): void {
  promise.then(
    (result) => defer(callback, null, result),
    (error: unknown) => defer(callback, error),
  );
}

// --- Cookie --------------------------------------------------------------------------------------------------

/** `req.session.cookie`: express-session's Cookie (maxAge and expires kept in step, originalMaxAge). */
class DropInCookie {
  path: string | undefined = '/';
  httpOnly: boolean | undefined = true;
  secure: boolean | 'auto' | undefined;
  sameSite: boolean | 'lax' | 'strict' | 'none' | undefined;
  domain: string | undefined;
  originalMaxAge: number | null = null;
  #expires: Date | null | undefined = undefined;

  constructor(options?: Record<string, unknown> | null) {
    this.maxAge = null;
    if (options !== undefined && options !== null) {
      if (typeof options !== 'object') throw new TypeError('argument options must be a object');
      for (const key of Object.keys(options)) {
        if (key !== 'data') (this as unknown as Record<string, unknown>)[key] = options[key];
      }
    }
    if (this.originalMaxAge === undefined || this.originalMaxAge === null)
      this.originalMaxAge = this.maxAge ?? null;
  }

  /** When a persistent cookie expires; null for a browser-session cookie. */
  get expires(): Date | null | undefined {
    return this.#expires;
  }

  set expires(date: Date | null | undefined) {
    this.#expires = date;
    this.originalMaxAge = this.maxAge ?? null;
  }

  /** ms until the cookie expires (null: a browser-session cookie); setting it makes the cookie persistent. */
  get maxAge(): number | null | undefined {
    const expires = this.#expires;
    return expires instanceof Date ? expires.valueOf() - Date.now() : (expires as null | undefined);
  }

  set maxAge(ms: number | Date | null | undefined) {
    if (ms && typeof ms !== 'number' && !(ms instanceof Date)) {
      throw new TypeError('maxAge must be a number or Date');
    }
    this.expires = typeof ms === 'number' ? new Date(Date.now() + ms) : ms;
  }

  get data(): Record<string, unknown> {
    return {
      originalMaxAge: this.originalMaxAge,
      expires: this.#expires,
      secure: this.secure,
      httpOnly: this.httpOnly,
      domain: this.domain,
      path: this.path,
      sameSite: this.sameSite,
    };
  }

  toJSON(): Record<string, unknown> {
    return this.data;
  }
}

// --- Session -------------------------------------------------------------------------------------------------

/** A request's drop-in state: the Teller session behind `req.session`, and the data as loaded. */
interface RequestState {
  readonly teller: TellerSession;
  readonly req: DropInRequest;
  readonly config: Config;
  /** Each key's JSON as loaded (or as reloaded): what commit compares `req.session` with. */
  snapshot: Map<string, string>;
  /** destroy() ran: the Teller session ends at commit, `req.session` is gone. */
  destroyed: boolean;
}

const STATE = Symbol('teller.express-session');

/** What the drop-in reads and sets on a request (Express's, or node's IncomingMessage). */
interface DropInRequest {
  url?: string;
  session?: unknown;
  sessionID?: string;
  sessionStore?: unknown;
  originalUrl?: string;
  app?: { get?: (name: string) => unknown };
  [STATE]?: RequestState;
}

/** The request state a session method works on; a clear error for a Session made outside a request. */
function stateOf(session: DropInSession, call: string): RequestState {
  const state = session.req?.[STATE];
  if (state === undefined) {
    throw typeError(`session.${call}() needs a session the middleware put on req.session`);
  }
  return state;
}

/**
 * `req.session`: the session's data as its own enumerable properties (and `cookie`), express-session's methods
 * on the prototype. `id` and `req` are not enumerable.
 */
class DropInSession {
  declare readonly req: DropInRequest;
  declare readonly id: string;
  declare cookie: DropInCookie;

  constructor(req: DropInRequest, data?: Record<string, unknown> | null) {
    Object.defineProperty(this, 'req', { value: req });
    Object.defineProperty(this, 'id', { value: req.sessionID });
    if (typeof data === 'object' && data !== null) {
      for (const prop of Object.keys(data)) {
        if (!(prop in this)) (this as unknown as Record<string, unknown>)[prop] = data[prop];
      }
    }
  }

  /** Resets the cookie's maxAge to its originalMaxAge. */
  touch(): this {
    return this.resetMaxAge();
  }

  resetMaxAge(): this {
    this.cookie.maxAge = this.cookie.originalMaxAge;
    return this;
  }

  /**
   * Calls back at once: the session is saved when the response's headers go out (before them), so a redirect in
   * the callback carries the saved session. A request that never answers saves nothing.
   */
  save(callback?: Callback): this {
    stateOf(this, 'save');
    defer(callback);
    return this;
  }

  /** Reads the session again from the store (this request's changes dropped); `req.session` is a new object. */
  reload(callback: Callback): this {
    const state = stateOf(this, 'reload');
    const cookie = this.cookie;
    state.teller.reload().then(
      () => {
        if (state.teller.isNew) return defer(callback, new Error('failed to load session'));
        state.req.session = requestSession(state, takeSnapshot(state), cookie);
        defer(callback);
      },
      (error: unknown) => defer(callback, error),
    );
    return this;
  }

  /** Ends the session: at commit its record is deleted and its cookie cleared. `req.session` is unset now. */
  destroy(callback?: Callback): this {
    const state = stateOf(this, 'destroy');
    if (!state.destroyed) {
      state.teller.destroy();
      state.destroyed = true;
    }
    delete state.req.session;
    defer(callback);
    return this;
  }

  /** A new id and an empty session on `req.session`; at commit the old record is retired. */
  regenerate(callback: Callback): this {
    const state = stateOf(this, 'regenerate');
    const { teller, req, config } = state;
    teller.regenerate();
    state.destroyed = false;
    req.sessionID = teller.id;
    req.session = requestSession(state, {}, newCookie(config, undefined));
    defer(callback);
    return this;
  }
}

/** The session's data as loaded, copied (the handler may change it in place), each key's JSON remembered. */
function takeSnapshot(state: RequestState): Record<string, unknown> {
  const data = state.teller.data() as Record<string, unknown>;
  const values: Record<string, unknown> = {};
  state.snapshot = new Map();
  for (const key of Object.keys(data)) {
    const text = JSON.stringify(data[key]);
    if (text === undefined) continue;
    state.snapshot.set(key, text);
    values[key] = JSON.parse(text);
  }
  return values;
}

/** A request's `req.session` (a proxy of the object) -> the object and the keys the handler read. */
const TRACKED = new WeakMap<object, { target: DropInSession; reads: Set<string> }>();

/**
 * `req.session` for `values`: the object, behind a proxy that notes which of its keys the handler reads (`get`,
 * `in`, a spread or JSON of it), so that a key only assigned (`req.session.lastSeen = now`) is written as Teller
 * writes a key set without reading it (merged with a concurrent write), and a key read first (`views++`,
 * `cart.push(x)`) as a dependent one (a concurrent change to it is a conflict).
 */
function requestSession(
  state: RequestState,
  values: Record<string, unknown>,
  cookie: DropInCookie,
): DropInSession {
  const session = new DropInSession(state.req, values);
  session.cookie = cookie;
  const reads = new Set<string>();
  const proxy = new Proxy(session, {
    get(target, key, receiver) {
      if (typeof key === 'string' && Object.hasOwn(target, key)) reads.add(key);
      return Reflect.get(target, key, receiver);
    },
    has(target, key) {
      if (typeof key === 'string') reads.add(key);
      return Reflect.has(target, key);
    },
  });
  TRACKED.set(proxy, { target: session, reads });
  return proxy;
}

/**
 * The cookie object of a session: a new one (`persistent` undefined) has the options' maxAge; a loaded one is
 * persistent as its record is (its maxAge the options', or Teller's rememberMe).
 */
function newCookie(config: Config, persistent: boolean | undefined): DropInCookie {
  const cookie = new DropInCookie(config.cookie);
  const lifetime =
    persistent === undefined ? config.maxAge : persistent ? (config.maxAge ?? config.rememberMe) : undefined;
  if (lifetime !== undefined) cookie.maxAge = lifetime;
  return cookie;
}

/**
 * Before commit: what the handler did to `req.session`, written to the Teller session. A changed or removed key
 * the handler read is read then written (a concurrent change to it is a conflict, never overwritten); one it only
 * assigned or deleted is written as such (merged with concurrent writes, the last one kept); `req.session`
 * unset destroys with `unset: 'destroy'` (else the request's changes are dropped). The cookie's expiry makes the
 * session persistent or not (a fresh session only when it is stored anyway); `rolling` touches every session.
 */
function applyChanges(state: RequestState): void {
  const { teller, req, config } = state;
  if (state.destroyed) return;
  const current = req.session;
  if (current === undefined || current === null) {
    if (config.unsetDestroy) teller.destroy();
    return;
  }
  if (typeof current !== 'object') throw typeError('req.session must be an object (or unset)');
  // An object the handler put there itself: every key counts as read.
  const tracked = TRACKED.get(current);
  const fields = (tracked?.target ?? current) as Record<string, unknown>;
  const read = (key: string) => tracked === undefined || tracked.reads.has(key);
  const seen = new Set<string>();
  let changed = false;
  for (const key of Object.keys(fields)) {
    if (key === 'cookie') continue;
    seen.add(key);
    const text = JSON.stringify(fields[key]);
    if (text === state.snapshot.get(key)) continue;
    if (read(key)) teller.get(key);
    if (text === undefined) teller.delete(key);
    else teller.set(key, JSON.parse(text));
    changed = true;
  }
  for (const key of state.snapshot.keys()) {
    if (seen.has(key)) continue;
    if (read(key)) teller.get(key);
    teller.delete(key);
    changed = true;
  }
  const expires = (fields.cookie as { expires?: unknown } | undefined)?.expires;
  const persistent = expires !== undefined && expires !== null && expires !== false;
  if (persistent !== teller.persistent && (changed || !teller.isNew)) {
    setPersistent(teller, persistent);
    if (!teller.isNew) teller.touch();
  }
  if (config.rolling && !teller.isNew) teller.touch();
}

// --- Stores --------------------------------------------------------------------------------------------------

type StoreCallback<T = unknown> = (error: unknown, result?: T) => void;

/**
 * express-session's `Store`: subclass it (`class X extends session.Store`) with `get`, `set` and `destroy` in
 * express-session's callback style; the drop-in runs it through `fromExpressStore`.
 */
abstract class DropInStore extends EventEmitter {
  abstract get(sid: string, callback: StoreCallback): void;
  abstract set(sid: string, session: unknown, callback?: Callback): void;
  abstract destroy(sid: string, callback?: Callback): void;

  /** Regenerates the request's session (`req.session.regenerate`). */
  regenerate(req: DropInRequest, callback: Callback): void {
    const session = req.session;
    if (session instanceof DropInSession) session.regenerate(callback);
    else defer(callback, typeError('store.regenerate(req) needs a request with a session'));
  }

  /** The session stored under `sid` as a Session object, or nothing. */
  load(sid: string, callback: StoreCallback): void {
    this.get(sid, (error, session) => {
      if (error) return callback(error);
      if (session === null || session === undefined) return callback(undefined);
      const req = { sessionID: sid, sessionStore: this } as unknown as DropInRequest;
      callback(null, this.createSession(req, session as Record<string, unknown>));
    });
  }

  /** A Session object for a stored session object (its cookie a Cookie). */
  createSession(req: DropInRequest, session: Record<string, unknown>): DropInSession {
    const stored = (session.cookie ?? {}) as Record<string, unknown>;
    const cookie = new DropInCookie(stored);
    if (typeof stored.expires === 'string') cookie.expires = new Date(stored.expires);
    cookie.originalMaxAge = (stored.originalMaxAge as number | null | undefined) ?? null;
    const made = new DropInSession(req, { ...session, cookie });
    req.session = made;
    return made;
  }
}

const INNER = new WeakMap<object, TellerMemoryStore>();

/**
 * The default store: Teller's memory store (compare-and-set, at most `maxEntries` sessions, ended ones swept),
 * where express-session's MemoryStore grows without bound. Its callback methods take a session id, as
 * express-session's do; sessions are created by the middleware only, and `all()` and `clear()` are not
 * available (records are keyed by hashes of ids).
 */
/** How many records of `store` hold a session (a scan: `length()` is for tests and dashboards, not requests). */
async function sessionCount(store: TellerMemoryStore): Promise<number> {
  let count = 0;
  let cursor: string | null = null;
  do {
    const page = await store.scan(cursor, 1000);
    for (const { record } of page.entries) {
      if (record.expiresAt > 0 && record.movedTo === undefined && record.retired === undefined) count++;
    }
    cursor = page.cursor;
  } while (cursor !== null);
  return count;
}

class DropInMemoryStore extends DropInStore {
  constructor(options: MemoryStoreOptions = {}) {
    super();
    if (options === null || typeof options !== 'object')
      throw typeError('MemoryStore options must be an object');
    const { maxEntries, cleanupInterval } = options;
    INNER.set(this, createMemoryStore({ maxEntries, cleanupInterval }));
  }

  get(sid: string, callback: StoreCallback): void {
    settle(
      this.#inner()
        .get(storeKeyOf(sid))
        .then((record) => sessionObject(record)),
      callback,
    );
  }

  /** Replaces the data of a live session (not its lifetime); a session that is not stored is an error. */
  set(sid: string, session: unknown, callback?: Callback): void {
    settle(this.#replace(sid, session), callback);
  }

  destroy(sid: string, callback?: Callback): void {
    settle(this.#inner().delete(storeKeyOf(sid)), callback);
  }

  /** The sessions held (not the records retired ids leave: login tombstones, renewal pointers, logouts). */
  length(callback: StoreCallback<number>): void {
    settle(sessionCount(this.#inner()), callback);
  }

  /** Teller extends a session's idle lifetime itself (the throttled touch): nothing to do. */
  touch(_sid: string, _session: unknown, callback?: () => void): void {
    defer(callback);
  }

  all(callback: StoreCallback): void {
    defer(
      callback,
      typeError('MemoryStore.all() is not available: sessions are stored under hashes of their ids'),
    );
  }

  clear(callback?: Callback): void {
    defer(callback, typeError('MemoryStore.clear() is not available: end sessions with destroy(sid)'));
  }

  #inner(): TellerMemoryStore {
    return INNER.get(this) as TellerMemoryStore;
  }

  async #replace(sid: string, session: unknown): Promise<void> {
    if (session === null || typeof session !== 'object')
      throw typeError('MemoryStore.set needs a session object');
    const key = storeKeyOf(sid);
    const record = await this.#inner().get(key);
    if (sessionObject(record) === null) {
      throw typeError('MemoryStore.set replaces a stored session: sessions are created by the middleware');
    }
    const live = record as SessionRecord;
    const data: Record<string, unknown> = {};
    const old = JSON.parse(live.data) as Record<string, unknown>;
    for (const name of Object.keys(old)) if (name.startsWith(INTERNAL_PREFIX)) data[name] = old[name];
    for (const [name, value] of Object.entries(session)) {
      if (name !== 'cookie' && !name.startsWith(INTERNAL_PREFIX)) data[name] = value;
    }
    const next: SessionRecord = { ...live, data: JSON.stringify(data), version: live.version + 1 };
    const ttl = Math.max(0, live.expiresAt - Date.now()) + 60_000;
    if (!(await this.#inner().set(key, next, live.version, ttl))) {
      throw typeError('MemoryStore.set: the session changed meanwhile; nothing was written');
    }
  }
}

/** A Teller record as express-session's session object, or null when absent, ended or a pointer. */
function sessionObject(record: SessionRecord | null): Record<string, unknown> | null {
  if (record === null || record.expiresAt <= Date.now() || record.movedTo !== undefined) return null;
  const data = JSON.parse(record.data) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(data)) if (!name.startsWith(INTERNAL_PREFIX)) out[name] = data[name];
  out.cookie = {
    originalMaxAge: record.persistent ? record.expiresAt - Date.now() : null,
    expires: record.persistent ? new Date(record.expiresAt).toISOString() : null,
    httpOnly: true,
    path: '/',
  };
  return out;
}

/** A Teller store (get/set/delete), as opposed to an express-session store (get/set/destroy). */
function isTellerStore(store: object): store is SessionStore {
  const s = store as Record<string, unknown>;
  return typeof s.delete === 'function' && typeof s.destroy !== 'function';
}

// --- Options -------------------------------------------------------------------------------------------------

/** The options, checked once. */
interface Config {
  readonly cookie: Record<string, unknown>;
  readonly path: string;
  readonly maxAge: number | undefined;
  readonly rememberMe: number;
  readonly rolling: boolean;
  readonly unsetDestroy: boolean;
}

const OPTION_NAMES = new Set([
  'secret',
  'name',
  'cookie',
  'genid',
  'rolling',
  'resave',
  'saveUninitialized',
  'store',
  'unset',
  'proxy',
  'key',
  'idleTimeout',
  'absoluteTimeout',
  'storeTimeout',
  'lockTimeout',
  'maxDataBytes',
  'bruteForce',
  'clearSiteData',
  'logger',
  'onEvent',
  'onError',
]);
const COOKIE_NAMES = new Set(['path', 'domain', 'secure', 'sameSite', 'httpOnly', 'maxAge', 'signed']);
const COOKIE_REFUSED: Record<string, string> = {
  expires: 'one date for every session; give cookie.maxAge (ms) instead',
  partitioned: 'Teller does not write the Partitioned attribute',
  priority: 'Teller does not write the Priority attribute',
  encode: 'the cookie value is the signed id, never re-encoded',
};

function optionalBoolean(name: string, value: unknown): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') throw typeError(`${name} must be true or false`);
  return value;
}

function sameSiteOf(value: unknown): SameSite {
  if (value === undefined || value === false) return 'Lax';
  if (value === true) return 'Strict';
  const lower = typeof value === 'string' ? value.toLowerCase() : '';
  if (lower === 'lax') return 'Lax';
  if (lower === 'strict') return 'Strict';
  if (lower === 'none') return 'None';
  throw typeError("cookie.sameSite must be true, false, 'lax', 'strict' or 'none'");
}

// --- The middleware ------------------------------------------------------------------------------------------

type Middleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

/**
 * express-session's middleware factory, on Teller. Throws a TypeError naming the option for a bad or unknown
 * one (express-session ignores unknown ones), and when `secret` is missing.
 */
function session(options: SessionOptions = {} as SessionOptions): ReturnType<ExpressSession> {
  if (options === null || typeof options !== 'object') throw typeError('options must be an object');
  const given = options as unknown as Record<string, unknown>;
  for (const name of Object.keys(given)) {
    if (!OPTION_NAMES.has(name) && given[name] !== undefined) throw typeError(`unknown option ${name}`);
  }
  const secret = options.secret as string | string[] | undefined;
  if (secret === undefined || (Array.isArray(secret) && secret.length === 0) || secret === '') {
    throw typeError('secret option required for sessions (express-session signs the cookie with it)');
  }
  // `key`: express-session's old name of the option, still read by it.
  const name = options.name ?? (given.key as string | undefined) ?? 'connect.sid';
  if (typeof name !== 'string' || name === '') throw typeError('name must be a non-empty string');
  if (options.genid !== undefined && typeof options.genid !== 'function') {
    throw typeError('genid option must be a function');
  }
  const unset = options.unset;
  if (unset !== undefined && unset !== 'destroy' && unset !== 'keep') {
    throw typeError('unset option must be "destroy" or "keep"');
  }
  const rolling = optionalBoolean('rolling', options.rolling) ?? false;
  optionalBoolean('resave', options.resave);
  optionalBoolean('saveUninitialized', options.saveUninitialized);
  const proxy = optionalBoolean('proxy', options.proxy);
  const cookie = (options.cookie ?? {}) as Record<string, unknown>;
  if (typeof cookie === 'function') {
    throw typeError('cookie must be an object: one session manager serves every request');
  }
  if (cookie === null || typeof cookie !== 'object') throw typeError('cookie must be an object');
  for (const key of Object.keys(cookie)) {
    if (cookie[key] === undefined) continue;
    const refused = COOKIE_REFUSED[key];
    if (refused !== undefined) throw typeError(`cookie.${key} is not supported: ${refused}`);
    if (!COOKIE_NAMES.has(key)) throw typeError(`unknown option cookie.${key}`);
  }
  if (cookie.httpOnly === false)
    throw typeError('cookie.httpOnly false is not supported: the session cookie is always HttpOnly');
  const maxAge = (cookie.maxAge ?? undefined) as number | undefined;
  if (
    maxAge !== undefined &&
    (typeof maxAge !== 'number' || !Number.isFinite(maxAge) || maxAge <= 0 || maxAge > MAX_COOKIE_LIFETIME_MS)
  ) {
    throw typeError(
      `cookie.maxAge must be a positive number of ms, at most 400 days (${MAX_COOKIE_LIFETIME_MS})`,
    );
  }
  const secure = (cookie.secure ?? 'auto') as boolean | 'auto';
  if (secure !== true && secure !== false && secure !== 'auto') {
    throw typeError("cookie.secure must be true, false or 'auto'");
  }
  const path = (cookie.path as string | undefined) ?? '/';
  const domain = cookie.domain as string | undefined;
  const sameSite = sameSiteOf(cookie.sameSite);

  const storeObject = options.store ?? new DropInMemoryStore();
  if (storeObject === null || typeof storeObject !== 'object')
    throw typeError('store must be a store object');
  let store: SessionStore;
  let legacy = false;
  if (storeObject instanceof DropInMemoryStore) store = INNER.get(storeObject) as TellerMemoryStore;
  else if (isTellerStore(storeObject)) store = storeObject;
  else {
    store = fromExpressStore(storeObject as unknown as ExpressStoreLike, { legacyKeys: true });
    legacy = true;
  }

  const manager = createSessionManager({
    store,
    secret,
    legacyCookies: legacy ? 'express-session' : undefined,
    cookie: { name, secure, sameSite, path, domain },
    rememberMe: maxAge,
    idleTimeout: options.idleTimeout,
    absoluteTimeout: options.absoluteTimeout,
    storeTimeout: options.storeTimeout,
    lockTimeout: options.lockTimeout,
    maxDataBytes: options.maxDataBytes,
    bruteForce: options.bruteForce,
    clearSiteData: options.clearSiteData,
    logger: options.logger,
    onEvent: options.onEvent,
  });
  const config: Config = {
    cookie: { path, domain, secure: cookie.secure, sameSite: cookie.sameSite, httpOnly: true },
    path,
    maxAge,
    rememberMe: maxAge ?? DEFAULTS.rememberMe,
    rolling,
    unsetDestroy: unset === 'destroy',
  };

  const states = new WeakMap<TellerSession, RequestState>();
  // The node adapter commits the Teller session as the headers go out; what req.session holds is written first.
  const adapterManager: AdapterManager<TellerSession> = {
    load: (cookieHeader, context, requestOptions) => manager.load(cookieHeader, context, requestOptions),
    commit(teller, commitOptions) {
      const state = states.get(teller);
      if (state !== undefined && (commitOptions.status ?? 200) < 500) {
        try {
          applyChanges(state);
        } catch (error) {
          teller.release();
          return Promise.reject(error);
        }
      }
      return manager.commit(teller, commitOptions);
    },
  };
  const onError = options.onError;
  const plain = createNodeSessions(adapterManager, { trustProxy: false, onError });
  const trusting = createNodeSessions(adapterManager, { trustProxy: true, onError });

  /** Replaces the Teller session the node adapter put on req.session by express-session's object. */
  function attach(req: DropInRequest): void {
    const teller = req.session as TellerSession;
    const state: RequestState = { teller, req, config, snapshot: new Map(), destroyed: false };
    states.set(teller, state);
    req[STATE] = state;
    req.sessionStore = storeObject;
    req.sessionID = teller.id;
    const values = takeSnapshot(state);
    req.session = requestSession(
      state,
      values,
      newCookie(config, teller.isNew ? undefined : teller.persistent),
    );
  }

  const middleware: Middleware = function session(request, res, next) {
    const req = request as unknown as DropInRequest;
    // Already there (the middleware mounted twice), or a path the cookie does not cover: as express-session.
    if (req.session) return next();
    const url = req.originalUrl ?? req.url ?? '/';
    const query = url.indexOf('?');
    if (!(query === -1 ? url : url.slice(0, query)).startsWith(path)) return next();
    const trusted = proxy ?? Boolean(req.app?.get?.('trust proxy'));
    void (trusted ? trusting : plain).middleware(request, res, (error?: unknown) => {
      if (error !== undefined) return next(error);
      attach(req);
      next();
    });
  };
  return middleware as unknown as ReturnType<ExpressSession>;
}

// The factory is also a namespace, as express-session's is: its classes as properties (what CommonJS code reads
// from require()), and its types (`session.SessionData`, `session.Store`, ...) for code that names them.
namespace session {
  export const Store = DropInStore as unknown as ExpressSession['Store'];
  export type Store = expressSession.Store;
  export const MemoryStore = DropInMemoryStore as unknown as ExpressSession['MemoryStore'] &
    (new (
      options?: MemoryStoreOptions,
    ) => expressSession.MemoryStore);
  export type MemoryStore = expressSession.MemoryStore;
  export const Cookie = DropInCookie as unknown as ExpressSession['Cookie'];
  export type Cookie = expressSession.Cookie;
  export const Session = DropInSession as unknown as ExpressSession['Session'];
  export type Session = expressSession.Session;
  export type SessionData = expressSession.SessionData;
  export type CookieOptions = expressSession.CookieOptions;
  export type SessionOptions = Options;
}

export default session;
/** What `require('teller/adapters/express-session')` returns: the middleware factory, as express-session's. */
export { session as 'module.exports' };
export const { Store, MemoryStore, Cookie, Session } = session;
