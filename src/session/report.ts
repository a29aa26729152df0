/**
 * Where the core tells what happened: the logger and the `onEvent` hook, both made safe (a throwing
 * logger or hook never breaks a request). Nothing reported carries a raw id: events name a session by
 * `ref`, a prefix of its store key (a hash).
 */
import { tellerMessage } from './errors.js';
import { refOf } from './ids.js';
import { LIMITS, type SessionEvent, type SessionEventType, type SessionLogger } from './options.js';
import type { SessionState } from './state.js';

type Level = 'debug' | 'info' | 'warn' | 'error';

export class Reporter {
  readonly #logger: SessionLogger | undefined;
  readonly #onEvent: ((event: SessionEvent) => void) | undefined;

  constructor(logger: SessionLogger | undefined, onEvent: ((event: SessionEvent) => void) | undefined) {
    this.#logger = logger;
    this.#onEvent = onEvent;
  }

  log(level: Level, message: string, fields?: Record<string, unknown>): void {
    try {
      this.#logger?.[level]?.(message, fields);
    } catch {
      // A broken logger must not break requests.
    }
  }

  /** Emits an event at `at` (the request's time) about the session stored under `key`, if any. */
  emit(type: SessionEventType, at: number, key?: string, extra?: Partial<SessionEvent>): void {
    const onEvent = this.#onEvent;
    if (onEvent === undefined) return;
    const event: SessionEvent = { type, at, ...extra };
    if (key !== undefined) event.ref = refOf(key);
    try {
      onEvent(event);
    } catch (error) {
      this.log('error', tellerMessage('session', 'an onEvent hook threw'), { error: String(error) });
    }
  }

  /**
   * A change after commit (the response was sent): it cannot be saved and was dropped. A warning and a
   * `late-write` event naming the call (`set("views")`, `touch()`), never the id.
   */
  lateWrite(state: SessionState, call: string, key: string | undefined): void {
    const detail = key === undefined ? call : `${call}(${JSON.stringify(key.slice(0, 100))})`;
    const ref = state.storedKey === undefined ? undefined : refOf(state.storedKey);
    this.log(
      'warn',
      tellerMessage(
        'session',
        `session.${detail} came after the response was already sent (the session was committed): it cannot be saved and was dropped; change the session before answering`,
      ),
      { call: detail, ref },
    );
    this.emit('late-write', state.now, state.storedKey, {
      detail,
      ...(state.userId === undefined ? {} : { userId: state.userId }),
    });
  }

  /** The lifecycle events of a committed session (login, logout, destroy, regenerate), in order. */
  lifecycle(state: SessionState, key: string | undefined): void {
    for (const type of state.lifecycle) {
      this.emit(type, state.now, key, state.userId === undefined ? undefined : { userId: state.userId });
    }
  }
}

/**
 * A `lock-timeout` event: a request of the session under `key` waited for, or found stale, the hold of
 * another (`heldBy`, its route). Path segments that may carry a token (long, or mostly digits) are masked.
 */
export function reportLockWait(
  report: Reporter,
  at: number,
  key: string,
  heldBy: string | undefined,
  heldForMs: number,
): void {
  const by = heldBy === undefined ? 'another request' : maskRoute(heldBy);
  report.emit('lock-timeout', at, key, {
    detail: `${by} of this session held its lock for ${Math.round(heldForMs)} ms; the next request went on`,
  });
}

/**
 * `GET /reset/<token>?next=/` -> `GET /reset/:token`: a route for an operator, never a secret from a path
 * or a query. Made only when an event is reported, not on each request.
 */
function maskRoute(route: string): string {
  const query = route.indexOf('?');
  const path = (query === -1 ? route : route.slice(0, query)).slice(0, LIMITS.maxRoute);
  return path.replace(/\/[^/]{16,}|\/[^/]*\d{4,}[^/]*/g, '/:token');
}
