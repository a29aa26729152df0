/**
 * The `Session` a request works with. It records what the request did (which keys it read, wrote,
 * updated) so the manager can write only when something changed and, after a compare-and-set
 * conflict, re-apply exactly this request's writes onto the newest record. Lifecycle calls
 * (`regenerate`, `login`, `logout`, `destroy`) only mark the session; their store effects happen at
 * `commit`, so a 5xx response persists nothing. The id never appears in `toJSON()` or `util.inspect`.
 */

import { inspect } from 'node:util';
import { anonymousToken, newUserSecret, userToken, verifyToken } from './csrf.js';
import { tellerMessage } from './errors.js';
import {
  AUTHENTICATED_AT_KEY,
  applyOp,
  CSRF_KEY,
  ensureId,
  FLASH_PREFIX,
  INTERNAL_PREFIX,
  type Op,
  resetToFresh,
  type SessionData,
  type SessionState,
} from './state.js';
import {
  assertJsonValue,
  assertUserKey,
  type CurrentValue,
  type DeepReadonly,
  refuseCallback,
  type SessionFormat,
  type StorableValue,
} from './values.js';

export type { SessionData } from './state.js';

const DELETE: Op = { kind: 'delete' };

/** What `data()` gives: every key optional, each value read-only as `get` gives it. */
export type ReadonlyData<Data> = { readonly [K in keyof Data]?: DeepReadonly<Data[K]> };

/**
 * Any session, whatever its data and format: for code that handles sessions of any manager (adapters, a
 * helper). A `Session<Data>` is assignable to it, not to a `Session` of other data (the types of `get` and
 * `set` depend on `Data` both ways).
 */
// biome-ignore lint/suspicious/noExplicitAny: any data and format, since Session is invariant in both
export type AnySession = Session<any, any>;

let stateOfSession: (session: AnySession) => SessionState;

/** The internal state of a session (for the manager). */
export function stateOf(session: AnySession): SessionState {
  if (!(session instanceof Session))
    throw new TypeError(tellerMessage('session', 'not a Session of this library'));
  return stateOfSession(session);
}

/** Options of {@link Session.login}. */
export interface LoginOptions {
  /** A persistent cookie ("remember me", lifetime `rememberMe`) instead of a session cookie. @default false */
  remember?: boolean;
}

/**
 * One request's view of a session. Get it from `manager.load()`, give it back to `manager.commit()`.
 * `Data` declares the keys and their values (a type or an interface). Values are what the serializer
 * stores: JSON by default (`Format` `'json'`: the types and `set`/`update`/`flash` refuse a `Date`, `Map`,
 * `Set`, class instance, function, `bigint`...), anything a serializer of your own carries with `'custom'`.
 * A value read is read-only (`get` returns a `DeepReadonly` type): a value changed in place is not saved,
 * so call `set` with a new value, or `update`. A change after commit (the response was sent) cannot be
 * saved: it is reported (a warning, a `late-write` event) and dropped. The object is not extensible:
 * `session.views = 1` throws in strict code.
 */
export class Session<Data extends object = SessionData, Format extends SessionFormat = 'json'> {
  readonly #state: SessionState;

  static {
    stateOfSession = (session) => session.#state;
  }

  /** @internal Use `manager.load()`. */
  constructor(state: SessionState) {
    this.#state = state;
    // `session.views = 1` (an express-session habit) throws in strict code (ES modules, TypeScript output)
    // instead of adding a property nothing would save; sloppy CommonJS ignores it. No per-access cost.
    Object.preventExtensions(this);
  }

  /**
   * The state, for a change. After commit (the response was sent) the change cannot be saved: it is
   * reported (the logger at 'warn', a `late-write` event, naming `call` and `key`) and dropped, and this
   * returns undefined. Never a throw: in an Express 4 async handler, that was an unhandled rejection that
   * ended the process.
   */
  #writable(call: string, key?: string): SessionState | undefined {
    // `call` names the method: with a key, 'set' for set("views"); without, the whole call, e.g. 'touch()'.
    const state = this.#state;
    if (state.committed) {
      state.host.lateWrite(state, call, key);
      return undefined;
    }
    state.accessed = true;
    return state;
  }

  /** The session id: the cookie's bearer token. Treat it as a secret; it is never logged or printed. */
  get id(): string {
    this.#state.accessed = true;
    return ensureId(this.#state);
  }

  /**
   * A handle to this session that is safe to show and store: the store key (SHA-256 of the id). It is
   * what `listSessions` returns, and what `revokeSessions(user, { except })` accepts.
   */
  get handle(): string {
    ensureId(this.#state);
    const state = this.#state;
    state.accessed = true;
    // Before a login/regenerate is committed, its handle is the key the new record will have.
    if (state.rotate && !state.committed) return state.key!;
    return state.storedKey ?? state.key!;
  }

  /** True when no stored session matched the request's cookie (or after logout/destroy). */
  get isNew(): boolean {
    this.#state.accessed = true;
    return this.#state.isNew;
  }

  /** The user bound by `login`, if any. */
  get userId(): string | undefined {
    this.#state.accessed = true;
    return this.#state.userId;
  }

  /**
   * When the session's user last logged in (epoch ms, the manager's clock): the time of the last `login()`,
   * kept across renewals and `regenerate()`, never moved by a touch or a write; undefined without a user.
   * A second `login()` of the same user (re-entering a password) sets it anew. Sessions stored by a
   * version before this one have a user but no login time: undefined for them too, so `isFresh` is false
   * and their users log in again before a sensitive action.
   */
  get authenticatedAt(): number | undefined {
    const state = this.#state;
    state.accessed = true;
    if (state.userId === undefined) return undefined;
    const at = state.values.get(AUTHENTICATED_AT_KEY);
    return typeof at === 'number' && Number.isFinite(at) ? at : undefined;
  }

  /**
   * Whether the user logged in at most `maxAgeMs` ago, by the request's time (step-up freshness, Better
   * Auth's `freshAge`): ask it before a sensitive action (a new password or e-mail address, a payment,
   * "log out all other devices") and, when false, ask for the password again and call `login()` for the
   * same user. False without a user, or when the login time is unknown (see `authenticatedAt`). A
   * `maxAgeMs` that is not a non-negative finite number is a TypeError.
   *
   * @example
   * if (!req.session.isFresh(5 * 60_000)) return res.redirect(303, '/confirm-password');
   */
  isFresh(maxAgeMs: number): boolean {
    if (typeof maxAgeMs !== 'number' || !Number.isFinite(maxAgeMs) || maxAgeMs < 0) {
      throw new TypeError(
        tellerMessage('session', 'isFresh needs maxAgeMs, a non-negative finite number of milliseconds'),
      );
    }
    const at = this.authenticatedAt;
    return at !== undefined && this.#state.now - at <= maxAgeMs;
  }

  /**
   * Whether the request used the session (for adapters: `Vary: Cookie`): any getter or method that reveals
   * or changes session state sets it (`get`, `has`, `data()`, `toJSON()`, `id`, `handle`, `isNew`,
   * `userId`, `persistent`, `csrfToken`, `flash`, ...). Reading `accessed` itself does not.
   */
  get accessed(): boolean {
    return this.#state.accessed;
  }

  /** Whether the cookie is persistent ("remember me"). */
  get persistent(): boolean {
    const state = this.#state;
    state.accessed = true;
    return state.persistent ?? state.origin?.record.persistent ?? false;
  }

  /**
   * The value of `key`, or undefined. Read-only in the types: a value changed in place is not saved (give
   * `set` a new value, or use `update`).
   */
  get<K extends keyof Data & string>(key: K): DeepReadonly<Data[K]> | undefined {
    assertUserKey(key);
    const state = this.#state;
    state.accessed = true;
    if (state.overwritten?.has(key) !== true) (state.readBase ??= new Set()).add(key);
    return state.values.get(key) as DeepReadonly<Data[K]> | undefined;
  }

  /** Whether `key` has a value (counts as reading it). */
  has(key: keyof Data & string): boolean {
    return this.get(key) !== undefined;
  }

  /**
   * Sets `key` (undefined deletes it). If this request read `key` first, a concurrent change to it is a
   * conflict. With the default serializer, a value JSON cannot carry is a TypeError naming the key.
   */
  set<K extends keyof Data & string, V extends Data[K]>(
    key: K,
    value: StorableValue<Data[K], V, Format> | undefined,
  ): void {
    assertUserKey(key);
    const state = this.#writable('set', key);
    if (state === undefined) return;
    if (value === undefined) this.#record(state, key, DELETE);
    else this.#record(state, key, { kind: 'set', value }, 'set');
  }

  /** Deletes `key`. */
  delete(key: keyof Data & string): void {
    assertUserKey(key);
    const state = this.#writable('delete', key);
    if (state !== undefined) this.#record(state, key, DELETE);
  }

  /**
   * Sets `key` to `fn(current)` (undefined deletes it); `current` is read-only: return a new value (or
   * `current` unchanged). After a concurrent change, `fn` runs again on the newest value, so updates from
   * parallel requests all count (keep `fn` free of other side effects). Returns the new value. With the
   * default serializer, a value JSON cannot carry is a TypeError naming the key.
   */
  update<K extends keyof Data & string, V extends Data[K]>(
    key: K,
    fn: (
      current: DeepReadonly<Data[K]> | undefined,
    ) => StorableValue<Data[K], V, Format> | CurrentValue<Data[K]> | undefined,
  ): DeepReadonly<Data[K]> | undefined {
    assertUserKey(key);
    if (typeof fn !== 'function') throw new TypeError(tellerMessage('session', 'update needs a function'));
    const state = this.#writable('update', key);
    // After commit: fn does not run, and the value stays what it is.
    if (state === undefined) return this.#state.values.get(key) as DeepReadonly<Data[K]> | undefined;
    const op: Op = { kind: 'update', fn: fn as (current: unknown) => unknown };
    return this.#record(state, key, op, 'update') as DeepReadonly<Data[K]> | undefined;
  }

  /** Applies `op` to `key`; with `call` (a user's set or update) and the default serializer, JSON only. */
  #record(state: SessionState, key: string, op: Op, call?: 'set' | 'update'): unknown {
    const value = applyOp(state.values.get(key), op);
    if (call !== undefined && value !== undefined && state.host.jsonOnly) assertJsonValue(call, key, value);
    if (op.kind !== 'update') {
      if (state.readBase?.has(key) === true) (state.dependent ??= new Set()).add(key);
      (state.overwritten ??= new Set()).add(key);
    }
    if (value === undefined) state.values.delete(key);
    else state.values.set(key, value);
    const all = (state.ops ??= new Map());
    const ops = all.get(key);
    if (ops === undefined) all.set(key, [op]);
    else ops.push(op);
    return value;
  }

  /** A new id for the same data at commit; the old record is deleted (privilege change). No callback. */
  regenerate(): void;
  regenerate(callback?: unknown): void {
    refuseCallback('regenerate', callback);
    const state = this.#writable('regenerate()');
    if (state !== undefined) this.#regenerate(state);
  }

  #regenerate(state: SessionState): void {
    state.id = state.host.newId();
    state.key = state.host.keyOf(state.id);
    if (state.origin !== null) state.rotate = true;
    state.lifecycle.push('regenerate');
  }

  /**
   * Binds the session to `userId`: a new id (fixation defence), the old record deleted, the absolute
   * lifetime restarted, a new CSRF secret, the login time (`authenticatedAt`) set to the request's time;
   * a persistent cookie with `{ remember: true }`. At commit. Calling it again for the same user (after
   * asking for the password again) is the re-authentication that makes the session fresh (`isFresh`).
   */
  login(userId: string, options: LoginOptions = {}): void {
    if (typeof userId !== 'string' || userId === '') {
      throw new TypeError(tellerMessage('session', 'login needs a non-empty string userId'));
    }
    const state = this.#writable('login()');
    if (state === undefined) return;
    this.#regenerate(state);
    state.lifecycle.pop();
    state.lifecycle.push('login');
    state.userId = userId;
    state.userChanged = true;
    state.restartLifetime = true;
    state.persistent = options.remember === true;
    if (state.values.has(CSRF_KEY)) this.#record(state, CSRF_KEY, DELETE);
    // A write like any other: a compare-and-set merge re-applies it, renewals and sealing carry it.
    this.#record(state, AUTHENTICATED_AT_KEY, { kind: 'set', value: state.now });
  }

  /**
   * Ends the session: at commit the record is deleted and the cookie cleared. The object is then a fresh
   * session. Sealed sessions without a store cannot be revoked: a copy of the cookie taken before the
   * logout keeps working until its sealed expiry (with a store, it is refused).
   */
  logout(): void {
    this.#discard('logout');
  }

  /**
   * Same as `logout()`, for sessions without a user (the same caveat for sealed sessions without a store).
   * No callback: the effect happens at commit.
   */
  destroy(): void;
  destroy(callback?: unknown): void {
    refuseCallback('destroy', callback);
    this.#discard('destroy');
  }

  #discard(kind: 'logout' | 'destroy'): void {
    const state = this.#writable(kind === 'logout' ? 'logout()' : 'destroy()');
    if (state === undefined) return;
    if (state.origin !== null) state.discarded.push(state.origin);
    resetToFresh(state);
    state.storedKey = undefined;
    state.userChanged = true;
    state.persistent = undefined;
    state.restartLifetime = false;
    state.touchRequested = false;
    state.lifecycle.push(kind);
  }

  /**
   * Extends the idle lifetime at commit even if the throttle would skip it. Ignored in a passive request
   * (`{ passive: true }`): the route's choice not to keep sessions alive wins over a helper's touch.
   */
  touch(): void {
    const state = this.#writable('touch()');
    if (state !== undefined) state.touchRequested = true;
  }

  /** Re-reads the session from the store, dropping this request's unsaved writes. Await it (no callback). */
  reload(): Promise<void>;
  reload(callback?: unknown): Promise<void> {
    // Thrown, not a rejection: express-session code ignores the promise, and an unhandled rejection ends the process.
    refuseCallback('reload', callback);
    return this.#reload();
  }

  async #reload(): Promise<void> {
    const state = this.#writable('reload()');
    if (state !== undefined) await state.host.reload(state);
  }

  /**
   * Ends this request's hold on the session lock before commit, so other requests of the session
   * may proceed (their writes then merge by compare-and-set).
   */
  release(): void {
    const state = this.#state;
    const release = state.release;
    state.release = undefined;
    state.lockKey = undefined;
    release?.();
  }

  /**
   * With a value: adds a flash message under `key` for a later request. Without: returns the messages
   * under `key` (oldest first) and removes them.
   */
  flash<V>(key: string, value: StorableValue<unknown, V, Format>): void;
  flash(key: string): unknown[];
  flash(key: string, ...rest: unknown[]): unknown[] | undefined {
    if (typeof key !== 'string' || key === '')
      throw new TypeError(tellerMessage('session', 'flash needs a key'));
    const state = this.#writable('flash', key);
    // After commit: a message is dropped, and none is taken (they stay for a later request).
    if (state === undefined) return rest.length > 0 ? undefined : [];
    const name = FLASH_PREFIX + key;
    if (rest.length > 0) {
      const value = rest[0];
      if (value !== undefined && state.host.jsonOnly) assertJsonValue('flash', key, value);
      this.#record(state, name, {
        kind: 'update',
        fn: (list) => [...(Array.isArray(list) ? list : []), value],
      });
      return undefined;
    }
    const list = state.values.get(name);
    if (!Array.isArray(list) || list.length === 0) return [];
    const taken = list.length;
    // Removes only the messages returned here, so a message added meanwhile by another request survives.
    this.#record(state, name, {
      kind: 'update',
      fn: (current) => (Array.isArray(current) && current.length > taken ? current.slice(taken) : undefined),
    });
    return [...list];
  }

  /**
   * A CSRF token (send it back in a form field or header; check it with {@link verifyCsrfToken}). Each read
   * gives a differently masked token (BREACH). A session with a user: a per-session secret kept in the
   * session (synchronizer token pattern; `login()` replaces it). An anonymous session: a signed
   * double-submit token whose nonce travels in a cookie of its own (`__Host-csrf` over HTTPS, else `csrf`),
   * sent at commit when the request did not carry a valid one: nothing is stored.
   */
  get csrfToken(): string {
    const writable = this.#writable('csrfToken');
    // After commit a token is still given, but the secret or cookie it needs may never reach the client.
    const state = writable ?? this.#state;
    if (state.userId === undefined) return anonymousToken(state);
    let secret = state.values.get(CSRF_KEY);
    if (typeof secret !== 'string') {
      const fresh = newUserSecret();
      // After a concurrent write, keep the newest secret if another request created one.
      secret =
        writable === undefined
          ? fresh
          : this.#record(writable, CSRF_KEY, {
              kind: 'update',
              fn: (current) => (typeof current === 'string' ? current : fresh),
            });
    }
    return userToken(secret as string);
  }

  /**
   * Whether `token` is a CSRF token of this session (constant-time comparisons). With a user: a token
   * of its per-session secret. Without: an anonymous token matching the CSRF cookie the request carried
   * (no session is read). Anonymous tokens stop being accepted once the session has a user: a login
   * form verifies its token before `login()`, and a page rendered before the login (another tab) must be
   * reloaded.
   */
  verifyCsrfToken(token: unknown): boolean {
    const state = this.#state;
    state.accessed = true;
    return verifyToken(state, state.values.get(CSRF_KEY), token);
  }

  /**
   * A copy of the user's data (Teller's own keys left out; `__proto__` can never be a key); its values are
   * the session's own, read-only as `get` gives them.
   */
  data(): ReadonlyData<Data> {
    const state = this.#state;
    state.accessed = true;
    const out: Record<string, unknown> = {};
    for (const [key, value] of state.values) {
      if (!key.startsWith(INTERNAL_PREFIX)) out[key] = value;
    }
    return out as ReadonlyData<Data>;
  }

  /** For logs and JSON: never the id. */
  toJSON(): { isNew: boolean; userId: string | undefined; data: ReadonlyData<Data> } {
    const state = this.#state;
    state.accessed = true;
    return { isNew: state.isNew, userId: state.userId, data: this.data() };
  }

  [inspect.custom](_depth: number, options: object): string {
    return `Session ${inspect(this.toJSON(), options)}`;
  }
}
