/**
 * The session manager: `load` turns a Cookie header into a `Session`, `commit` turns the session back
 * into store writes and Set-Cookie lines. The core sees strings and plain objects only, never
 * `req`/`res`; adapters translate.
 *
 * This file holds the public interfaces and a short facade. The parts, each readable alone:
 * - `options.ts`: every option checked once, every default and cap (`resolveOptions`, `LIMITS`);
 * - `context.ts`: what the parts share (`ManagerContext`) and the `SessionBackend` interface;
 * - `stored.ts` + `stored-commit.ts`: sessions in a store (load under the lock, compare-and-set commits);
 * - `sealed.ts` + `sealed-revocation.ts`: sessions in the cookie, and refusing ended ones;
 * - `users.ts`: the user index (`listSessions`, `revokeSessions`) of stored sessions;
 * - `csrf.ts`: CSRF tokens (a user's per-session secret; anonymous double-submit cookies and their key);
 * - `records.ts`: building records and judging them live; `store-calls.ts`: store calls within the
 *   time budget, as typed errors; `report.ts`: the logger and events; `state.ts` + `session.ts`: the
 *   session a request works with.
 *
 * Guarantees (the README, "Sessions"): strict ids, lazy storage (one store read for an unmodified
 * request, no write and no cookie), throttled touch, expiry judged by this manager's clock only,
 * renewal with a grace pointer, compare-and-set on every write with per-key re-application, an
 * in-process lock per session, store failures as typed errors within `storeTimeout`, no raw id in
 * anything logged, thrown or emitted.
 */
import { parseCookie } from '../cookie/index.js';
import { epochMs } from '../util.js';
import { BruteForceGuard } from './brute-force.js';
import {
  freshSession,
  type ManagerContext,
  type RequestFacts,
  type SessionBackend,
  type SessionInfo,
} from './context.js';
import { cookieNameFor, csrfCookieLine, csrfCookieName, isSecureRequest } from './cookie-policy.js';
import { CsrfKeys, csrfCookieValue, deriveCsrfKeys } from './csrf.js';
import { SessionStoreError, SessionStoreTimeoutError, tellerMessage } from './errors.js';
import { generateId, storeKeyOf } from './ids.js';
import { formerCookieOf, movedCookieLines } from './legacy.js';
import { KeyedLock } from './lock.js';
import { LIMITS, type ResolvedOptions, resolveOptions, type SessionManagerOptions } from './options.js';
import { Reporter, reportLockWait } from './report.js';
import { SealedBackend } from './sealed.js';
import { SealedRevocations } from './sealed-revocation.js';
import { jsonSerializer } from './serializer.js';
import { type AnySession, type Session, stateOf } from './session.js';
import type { SessionData, SessionHost, SessionState } from './state.js';
import type { SessionMeta } from './store.js';
import { StoreCalls } from './store-calls.js';
import { StoredBackend } from './stored.js';
import { COMMIT_NOW, LOAD_NOW, type ManagerNow } from './sync.js';
import type { SessionFormat } from './values.js';

export type { SessionInfo } from './context.js';

/** What the adapter knows about the request. */
export interface LoadContext {
  /** The request's time; load and commit judge expiry at this instant. @default the manager's clock */
  now?: Date | number;
  /** The adapter's verdict: HTTPS, directly or through a trusted proxy. */
  secure?: boolean;
  /** The Host header. */
  host?: string;
  /** Stored with the session for `listSessions`. */
  userAgent?: string;
  /** Stored with the session for `listSessions`; the client `bruteForce` counts unknown ids of. */
  ip?: string;
  /**
   * The request's method and target, e.g. `GET /report?year=2026`: named in a `lock-timeout` event when
   * this request held its session's lock while another waited, so operators find the slow route. Only
   * the event's text is made from it (query, token-like segments and length cut then), never a request.
   */
  route?: string;
}

/**
 * What one request (one route) wants of its session, given to `load` and to every adapter's per-route
 * setup.
 */
export interface RequestOptions {
  /**
   * Take the session's in-process lock (requests of one session then run one after another while their
   * handlers are fast; a request waits `lockTimeout` at most, then goes on without it). `false` for routes
   * that must neither wait nor be waited on: long polls, uploads, streams. Their writes still merge by
   * compare-and-set. Ignored with a store that declares `lockOnly` (the lock is all it has). @default true
   */
  lock?: boolean;
  /**
   * A passive request: a poll, a health check, a status badge, which must not keep a session alive. The
   * session is read as usual, but the commit never touches it (the throttled touch, `session.touch()`),
   * never renews its id (`renewAfter`) and never extends its idle lifetime: a write is saved with the
   * record's idle expiry and last-seen time as they were (sealed: the new cookie keeps the old expiry),
   * and no persistent cookie is re-sent for it. So a session polled every minute still ends at its idle
   * timeout, written to or not. `login()`, `logout()`, `destroy()` and `regenerate()` still work (they are
   * explicit): a login starts its lifetimes anew, a regenerate keeps the expiry. A new session stored by a
   * passive request is created as any other. @default false
   */
  passive?: boolean;
}

export interface CommitOptions {
  /** The response status; 500 and above persist nothing and set no cookie. @default 200 */
  status?: number;
}

export interface CommitResult {
  /** Set-Cookie field values to append to the response (before its headers are sent). */
  setCookie: string[];
  /**
   * Send `Clear-Site-Data: "cookies", "storage"` (the session ended by `destroy()`, or `logout()`, as the
   * `clearSiteData` option says); adapters add it.
   */
  clearSiteData?: boolean;
}

export interface RevokeOptions<Data extends object = SessionData, Format extends SessionFormat = 'json'> {
  /** Keep this session (e.g. the current one, for "log out other devices"): a Session or its handle. */
  except?: Session<Data, Format> | string;
  /** @default the manager's clock */
  now?: Date | number;
}

/**
 * A session manager for sessions of `Data` (a type or an interface of the keys and their values), whose
 * serializer stores `Format`: `'json'` (the default serializer) or `'custom'` (see `SessionFormat`).
 */
export interface SessionManager<Data extends object = SessionData, Format extends SessionFormat = 'json'> {
  /**
   * Reads the session the Cookie header names, or gives a fresh one (absent, expired, unknown, tampered:
   * never an error). Throws SessionStoreError (503) when the store fails or exceeds `storeTimeout`; with a
   * `lockOnly` store, SessionLockTimeoutError (503) when another request of the session held its lock 5 s;
   * under `bruteForce: { policy: '429' }`, SessionRateLimitError (429) for an unknown id of a client in a burst.
   * A loaded session holds its in-process lock until `commit` (or `session.release()`): always commit,
   * with the response status (a 5xx persists nothing), also when the handler failed.
   */
  load(
    cookieHeader: string | undefined | null,
    context?: LoadContext,
    options?: RequestOptions,
  ): Promise<Session<Data, Format>>;
  /**
   * Persists what the request did (nothing when unchanged, or when `status` >= 500) and returns the
   * Set-Cookie lines to send before the response headers; releases the session lock. Throws
   * SessionConflictError or SessionDestroyedError (409), SessionStoreError (503), SessionTooLargeError (500).
   */
  commit(session: Session<Data, Format>, options?: CommitOptions): Promise<CommitResult>;
  /** A user's live sessions (needs a store with `listByUser`). */
  listSessions(userId: string, options?: { now?: Date | number }): Promise<SessionInfo[]>;
  /**
   * Ends every session of a user ("log out everywhere"), except one if asked; returns how many ended.
   * Sealed sessions (with a store) are counted from the user's record of the cookies issued to them: those
   * not logged out and within their absolute lifetime (an idle one is counted until then).
   */
  revokeSessions(userId: string, options?: RevokeOptions<Data, Format>): Promise<number>;
  /** The cookie name this manager uses for a request. */
  cookieName(context?: Pick<LoadContext, 'secure' | 'host'>): string;
  /**
   * Sealed sessions: the Cookie header bytes the session's cookies may take (`sealedMaxBytes`), which the
   * node, Express and Fastify adapters check against node's `maxHeaderSize` at setup; undefined for
   * sessions in a store.
   */
  readonly sealedMaxBytes: number | undefined;
  /** Closes the store (when it can be closed); later loads throw. */
  close(): Promise<void>;
}

/**
 * Creates a session manager. `Data` declares the session's keys and values (a type or an interface); with
 * a `serializer` of your own that carries more than JSON, say so: `createSessionManager<Data, 'custom'>`.
 *
 * @example
 * const sessions = createSessionManager<{ cart: string[] }>({ store: createMemoryStore() });
 * const session = await sessions.load(req.headers.cookie, { secure: true, host: req.headers.host });
 * session.update('cart', (cart = []) => [...cart, 'apple']);
 * const { setCookie } = await sessions.commit(session, { status: 200 });
 */
export function createSessionManager<
  Data extends object = SessionData,
  Format extends SessionFormat = 'json',
>(options: SessionManagerOptions): SessionManager<Data, Format> {
  const resolved = resolveOptions(options);
  const report = new Reporter(resolved.logger, resolved.onEvent);
  let backend: SessionBackend;
  const calls = resolved.store && new StoreCalls(resolved.store, resolved.storeTimeout, report);
  if (resolved.legacyCookies !== undefined && typeof resolved.store?.migrateLegacy !== 'function') {
    // Legitimate when the sessions were rewritten under their hashes beforehand; otherwise a forgotten option.
    report.log(
      'warn',
      tellerMessage(
        'session',
        "legacyCookies: the store has no migrateLegacy, so express-session's sessions are found only if already stored under the hash of their id (fromExpressStore(store, { legacyKeys: true }) moves them)",
      ),
    );
  }
  // Anonymous CSRF cookies: a key from `secret` (32 bytes or more), else the seal secrets, else the store.
  const derived = resolved.secrets && deriveCsrfKeys(resolved.secrets);
  const csrf = new CsrfKeys(derived ?? (options.seal && deriveCsrfKeys(options.seal.secrets)), calls);
  const host: SessionHost = {
    newId: () => generateId(resolved.random),
    keyOf: storeKeyOf,
    csrfKeys: () => csrf.current,
    reload: (state) => backend.reload(state),
    jsonOnly: resolved.serializer === jsonSerializer,
    lateWrite: (state, call, key) => report.lateWrite(state, call, key),
  };
  // A hold is stale (taken over, swept) once no waiter would wait for it any longer.
  const lock = new KeyedLock(resolved.lockTimeout, {
    strictStaleMs: LIMITS.lockOnlyStaleMs,
    onStale: (key, heldBy, heldForMs) => reportLockWait(report, resolved.clock(), key, heldBy, heldForMs),
  });
  const guard = resolved.bruteForce && new BruteForceGuard(resolved.bruteForce, report);
  const ctx: ManagerContext = { options: resolved, report, lock, host, guard };
  if (resolved.sealKeys !== undefined) {
    backend = new SealedBackend(ctx, resolved.sealKeys, calls && new SealedRevocations(ctx, calls));
  } else {
    backend = new StoredBackend(ctx, calls!);
  }
  return new Manager<Data, Format>(ctx, backend, csrf);
}

/** The facade: what every request and call does whichever backend keeps the sessions. */
class Manager<Data extends object, Format extends SessionFormat>
  implements SessionManager<Data, Format>, ManagerNow<Session<Data, Format>>
{
  readonly #ctx: ManagerContext;
  readonly #options: ResolvedOptions;
  readonly #backend: SessionBackend;
  readonly #csrf: CsrfKeys;
  #closed = false;

  constructor(ctx: ManagerContext, backend: SessionBackend, csrf: CsrfKeys) {
    this.#ctx = ctx;
    this.#options = ctx.options;
    this.#backend = backend;
    this.#csrf = csrf;
  }

  load(
    cookieHeader: string | undefined | null,
    context: LoadContext = {},
    options?: RequestOptions,
  ): Promise<Session<Data, Format>> {
    try {
      const loaded = this[LOAD_NOW](cookieHeader, context, options);
      return loaded instanceof Promise ? loaded : Promise.resolve(loaded);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** {@link load}: the Session itself when nothing had to be waited for (see `sync.ts`); throws its errors. */
  [LOAD_NOW](
    cookieHeader: string | undefined | null,
    context: LoadContext = {},
    options?: RequestOptions,
  ): Session<Data, Format> | Promise<Session<Data, Format>> {
    // Shutting down: a request that still arrives is answered 503, like a store that is down.
    if (this.#closed) throw new SessionStoreError(tellerMessage('session', 'the session manager is closed'));
    const policy = this.#options.policy;
    const secure = isSecureRequest(policy, context);
    const cookies = cookieHeader ? parseCookie(cookieHeader) : undefined;
    const cookieName = cookieNameFor(policy, secure);
    const facts: RequestFacts = {
      now: toMs(context.now, this.#options.clock),
      secure,
      cookieName,
      // Only a request without the cookie under its name looks for it under a former one (legacy.ts).
      movedFrom: cookies?.[cookieName] === undefined ? formerCookieOf(policy, secure, cookies) : undefined,
      meta: metaOf(context),
      cookies,
      route: typeof context.route === 'string' ? context.route : undefined,
      lock: options?.lock !== false,
      passive: options?.passive === true,
    };
    // Only with the CSRF key in the store, until this process has read it: a CSRF cookie must be
    // checked synchronously by the handler, so its key is read first (once; then cached).
    if (this.#csrf.current === undefined && cookies?.[csrfCookieName(secure)] !== undefined) {
      return this.#csrf.read(facts.now).then(() => this.#open(facts));
    }
    return this.#open(facts);
  }

  #open(facts: RequestFacts): Session<Data, Format> | Promise<Session<Data, Format>> {
    const raw = facts.cookies?.[facts.movedFrom ?? facts.cookieName];
    // The backend's answer is returned as it is: no further promise turn on the request's path.
    const loaded =
      raw === undefined || raw === ''
        ? freshSession(this.#ctx, facts, raw !== undefined)
        : this.#backend.load(raw, facts);
    return loaded as Session<Data, Format> | Promise<Session<Data, Format>>;
  }

  commit(session: Session<Data, Format>, commitOptions: CommitOptions = {}): Promise<CommitResult> {
    try {
      const result = this[COMMIT_NOW](session, commitOptions);
      return result instanceof Promise ? result : Promise.resolve(result);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** {@link commit}: the result itself when nothing had to be waited for (see `sync.ts`); throws its errors. */
  [COMMIT_NOW](
    session: Session<Data, Format>,
    commitOptions: CommitOptions = {},
  ): CommitResult | Promise<CommitResult> {
    const state = stateOf(session);
    if (state.committed) throw new TypeError(tellerMessage('session', 'the session was already committed'));
    state.committed = true;
    let later = false;
    try {
      const status = commitOptions.status ?? 200;
      if (status >= 500) return { setCookie: [] };
      // An anonymous CSRF token was rendered and the request carried no valid cookie: send one, with a key
      // read before anything is written (a failure to read it then writes nothing).
      const nonce = state.csrfIssued;
      const keys = nonce === undefined ? undefined : this.#csrf.current;
      if (nonce !== undefined && keys === undefined) {
        later = true;
        return this.#commitLater(session, state, nonce, undefined, undefined);
      }
      const committed = this.#backend.commit(state);
      if (committed instanceof Promise) {
        later = true;
        return this.#commitLater(session, state, nonce, keys, committed);
      }
      return this.#result(state, committed, nonce, keys);
    } catch (error) {
      this.#failWaiters(state, error);
      throw error;
    } finally {
      if (!later) session.release();
    }
  }

  /** {@link COMMIT_NOW} once something has to be waited for: the CSRF key (`keys` undefined), or the store. */
  async #commitLater(
    session: Session<Data, Format>,
    state: SessionState,
    nonce: SessionState['csrfIssued'],
    known: CsrfKeys['current'],
    committing: Promise<string[]> | undefined,
  ): Promise<CommitResult> {
    try {
      const keys = nonce === undefined ? undefined : (known ?? (await this.#csrf.read(state.now)));
      const committed = await (committing ?? this.#backend.commit(state));
      return this.#result(state, committed, nonce, keys);
    } catch (error) {
      this.#failWaiters(state, error);
      throw error;
    } finally {
      session.release();
    }
  }

  /** What a commit answers once its writes are done (`committed`: the backend's Set-Cookie lines). */
  #result(
    state: SessionState,
    committed: string[],
    nonce: SessionState['csrfIssued'],
    keys: CsrfKeys['current'],
  ): CommitResult {
    // A session read under a former cookie name: the former cookie goes once the new one is set.
    const setCookie =
      state.movedFrom === undefined ? committed : movedCookieLines(this.#options.policy, state, committed);
    const result: CommitResult =
      nonce === undefined || keys === undefined
        ? { setCookie }
        : { setCookie: [...setCookie, csrfCookieLine(state.secure, csrfCookieValue(nonce, keys))] };
    if (state.lifecycle.length > 0 && nonce === undefined && this.#clearsSiteData(state)) {
      result.clearSiteData = true;
    }
    return result;
  }

  /** The store is not answering: the requests queued on this session would each wait for it in turn. */
  #failWaiters(state: SessionState, error: unknown): void {
    if (error instanceof SessionStoreTimeoutError && state.lockKey !== undefined && state.release) {
      this.#ctx.lock.fail(state.lockKey, error, state.release);
    }
  }

  /**
   * Whether the answer sends Clear-Site-Data: the request's last lifecycle call ended the session (logout
   * or destroy, as the option says) and no session was stored after it, whose cookie the header would wipe.
   */
  #clearsSiteData(state: SessionState): boolean {
    const last = state.lifecycle.at(-1);
    return (
      (last === 'logout' || last === 'destroy') &&
      state.storedKey === undefined &&
      this.#options.clearSiteData[last]
    );
  }

  listSessions(userId: string, listOptions: { now?: Date | number } = {}): Promise<SessionInfo[]> {
    assertUserId(userId);
    return this.#backend.listSessions(userId, toMs(listOptions.now, this.#options.clock));
  }

  async revokeSessions(userId: string, revokeOptions: RevokeOptions<Data, Format> = {}): Promise<number> {
    assertUserId(userId);
    const now = toMs(revokeOptions.now, this.#options.clock);
    const except = revokeOptions.except;
    const exceptKey =
      except === undefined || typeof except === 'string'
        ? except
        : this.#backend.keepKey(except as AnySession);
    const count = await this.#backend.revokeSessions(userId, exceptKey, now);
    this.#ctx.report.emit('revoked', now, undefined, { userId, detail: String(count) });
    return count;
  }

  get sealedMaxBytes(): number | undefined {
    return this.#options.sealKeys === undefined ? undefined : this.#options.sealedMaxBytes;
  }

  cookieName(context: Pick<LoadContext, 'secure' | 'host'> = {}): string {
    const policy = this.#options.policy;
    return cookieNameFor(policy, isSecureRequest(policy, context));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#backend.close(this.#options.clock());
  }
}

function assertUserId(userId: unknown): asserts userId is string {
  if (typeof userId !== 'string' || userId === '') {
    throw new TypeError(tellerMessage('session', 'userId must be a non-empty string'));
  }
}

/** A `now` option as epoch ms (the clock's when absent). */
function toMs(now: Date | number | undefined, clock: () => number): number {
  return epochMs(now, clock, 'session', 'context.now');
}

/** What a record keeps of the client (for `listSessions`), capped. */
function metaOf(context: LoadContext): SessionMeta | undefined {
  const { userAgent, ip } = context;
  if (userAgent === undefined && ip === undefined) return undefined;
  const meta: SessionMeta = {};
  if (typeof userAgent === 'string') meta.userAgent = userAgent.slice(0, LIMITS.maxUserAgent);
  if (typeof ip === 'string') meta.ip = ip.slice(0, LIMITS.maxIp);
  return meta;
}
