/**
 * What the parts of a manager share, built once by `createSessionManager` and passed to them (rather
 * than captured by one closure): the resolved options, the reporter, the in-process lock and the host
 * its sessions call back. Also the one interface the two backends (stored sessions, sealed sessions)
 * implement, chosen at construction, so the shared path never asks which one it runs.
 */
import type { BruteForceGuard } from './brute-force.js';
import { sessionCookieLine } from './cookie-policy.js';
import type { KeyedLock } from './lock.js';
import type { ResolvedOptions } from './options.js';
import type { Reporter } from './report.js';
import { Session } from './session.js';
import { createState, type Origin, type SessionHost, type SessionState } from './state.js';
import type { SessionMeta, SessionRecord } from './store.js';

export interface ManagerContext {
  readonly options: ResolvedOptions;
  readonly report: Reporter;
  readonly lock: KeyedLock;
  readonly host: SessionHost;
  /** Counts unknown ids per client (`bruteForce`); undefined when turned off. */
  readonly guard: BruteForceGuard | undefined;
}

/** What a load knows of its request. */
export interface RequestFacts {
  /** The request's time (epoch ms): load and commit judge expiry at this instant. */
  readonly now: number;
  readonly secure: boolean;
  readonly cookieName: string;
  /**
   * The session cookie was read under this former name (`__Host-sid`, `__Secure-sid`), the request
   * carrying none under `cookieName`: it moves to `cookieName` at commit (see `legacy.ts`).
   */
  readonly movedFrom?: string | undefined;
  readonly meta: SessionMeta | undefined;
  /** The parsed Cookie header (undefined without one). */
  readonly cookies: Readonly<Record<string, string>> | undefined;
  /** The adapter's label of the request (method and path), named in lock-timeout events. */
  readonly route: string | undefined;
  /** Whether the request takes the session's in-process lock (`load(..., { lock: false })` opts out). */
  readonly lock: boolean;
  /** A passive request (`load(..., { passive: true })`): it never keeps its session alive. */
  readonly passive: boolean;
}

/** One user's session as `listSessions` shows it (never the id). */
export interface SessionInfo {
  /** The store key (SHA-256 of the id): compare with `session.handle`, pass to `revokeSessions({ except })`. */
  handle: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  persistent: boolean;
  userAgent?: string;
  ip?: string;
}

/** Where sessions live: in a store (stored sessions), or in the cookie (sealed sessions). */
export interface SessionBackend {
  /**
   * The session a (non-empty) cookie value names, or a fresh one; throws SessionStoreError. The Session
   * itself when it was had without waiting (a store that answers synchronously), else a promise of it.
   */
  load(raw: string, facts: RequestFacts): Session | Promise<Session>;
  /**
   * Persists what the request did (its status is below 500); the Set-Cookie lines to send, or a promise of
   * them when the store did not answer synchronously.
   */
  commit(state: SessionState): string[] | Promise<string[]>;
  /** `session.reload()`: the origin record read again, the request's changes dropped. */
  reload(state: SessionState): Promise<void>;
  /** The handle `revokeSessions({ except: session })` keeps for this session. */
  keepKey(session: Session): string;
  listSessions(userId: string, now: number): Promise<SessionInfo[]>;
  /** Ends the user's sessions except `exceptKey`; how many ended. */
  revokeSessions(userId: string, exceptKey: string | undefined, now: number): Promise<number>;
  close(now: number): Promise<void>;
}

/** A session with no record behind it (no cookie, or one naming nothing usable). */
export function freshSession(ctx: ManagerContext, facts: RequestFacts, cookieSent: boolean): Session {
  const { now, secure, cookieName, movedFrom, meta, cookies, passive } = facts;
  return new Session(
    createState({ host: ctx.host, now, secure, cookieName, movedFrom, meta, cookies, passive, cookieSent }),
  );
}

/** The state of a session loaded from its record (`origin`), under the id the cookie carried. */
export function loadedState(
  ctx: ManagerContext,
  facts: RequestFacts,
  id: string,
  origin: Origin,
  values: Map<string, unknown>,
): SessionState {
  const { now, secure, cookieName, movedFrom, meta, cookies, passive } = facts;
  return createState({
    host: ctx.host,
    now,
    secure,
    cookieName,
    movedFrom,
    meta,
    cookies,
    passive,
    cookieSent: true,
    id,
    key: origin.pointerKey ?? origin.key,
    origin,
    values,
  });
}

/**
 * The Set-Cookie line carrying `value` for a session whose record is `record`, under the session cookie's
 * name (or `name`: a part of a sealed session split across cookies, `sealed-parts.ts`).
 */
export function cookieFor(
  ctx: ManagerContext,
  state: SessionState,
  record: Pick<SessionRecord, 'persistent' | 'expiresAt'>,
  value: string,
  name = state.cookieName,
): string {
  const maxAge = record.persistent ? record.expiresAt - state.now : undefined;
  return sessionCookieLine(ctx.options.policy, state.secure, name, value, maxAge);
}
