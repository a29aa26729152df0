/**
 * `teller/adapters/hono`: sessions on Hono 4, as a middleware on the fetch adapter (`withSession`), so it
 * runs wherever Hono does (Node with @hono/node-server, Bun, Deno, workers): it imports nothing of Node's
 * beyond what `teller/adapters/fetch` does, and nothing of Hono's at run time (it uses that adapter's request
 * facts, error answers and header writing, on Hono's context). The session is loaded from the
 * Cookie header and put at `c.get('session')` (typed through Hono's `ContextVariableMap`); once the rest of
 * the chain has answered, it is committed and its `Set-Cookie` lines go on the answer (with `Vary: Cookie`,
 * and `Cache-Control: no-store` with any cookie). An error a handler throws takes Hono's own path
 * (`app.onError`, 500 by default) and nothing of the request persists. A store that is down or slow is
 * answered 503 in plain text, never a stack trace (as the fetch adapter answers it).
 *
 * @example
 * app.use(honoSessions(manager));
 * app.get('/', (c) => c.json({ user: c.get('session').userId ?? null }));
 */
import type { MiddlewareHandler } from 'hono';
import type { CommitResult } from '../session/manager.js';
import type { AnySession, Session } from '../session/session.js';
import type { AdapterManager } from './_shared.js';
import { addSessionHeaders, errorResponse, headerTarget, safeReporter } from './_shared.js';
import { type FetchSessionOptions, requestContext } from './fetch.js';

export type { RequestOptions } from '../session/manager.js';
export type { AdapterManager, RequestContext } from './_shared.js';

/**
 * Merge `session` into this interface to type `c.get('session')` (e.g. `Session<MyData>`):
 * `declare module 'teller/adapters/hono' { interface HonoSessionTypes { session: Session<MyData> } }`.
 */
// biome-ignore lint/suspicious/noEmptyInterface: declared empty so that an app can merge its session type in
export interface HonoSessionTypes {}

/** The type of `c.get('session')`: the `session` merged into {@link HonoSessionTypes}, else `Session`. */
export type HonoSession = HonoSessionTypes extends { session: infer S } ? S : Session;

declare module 'hono' {
  interface ContextVariableMap {
    /** The Teller session of this request (`teller/adapters/hono`). */
    session: HonoSession;
  }
}

/**
 * The fetch adapter's options: `trustProxy`, `clientIp(request)` (e.g. Bun's `server.requestIP`), `onError`,
 * and the request options (`lock: false` for a route's own middleware, e.g. a stream; `passive: true` for a poll
 * that must not keep the session alive).
 */
export type HonoSessionsOptions = FetchSessionOptions;

/** Where @hono/node-server puts the node response (`c.env.outgoing`): its `close` tells of a client gone. */
interface NodeBindings {
  outgoing?: { once?(event: 'close', listener: () => void): unknown };
}

/**
 * Creates the middleware: `app.use(honoSessions(manager))`, or on some routes only
 * (`app.use('/account/*', honoSessions(manager))`).
 *
 * The session's headers go on `c.res` itself, as Hono's own middleware add theirs (a response whose headers
 * are immutable, such as one `fetch` returned, is copied first), so @hono/node-server keeps its fast path.
 */
export function honoSessions<S extends AnySession>(
  manager: AdapterManager<S>,
  options: HonoSessionsOptions = {},
): MiddlewareHandler<{ Variables: { session: S } }> {
  const onError = safeReporter(options.onError);
  return async function tellerSession(c, next) {
    const request = c.req.raw;
    let session: S;
    try {
      session = await manager.load(
        request.headers.get('cookie') ?? undefined,
        requestContext(request, options),
        options,
      );
    } catch (error) {
      onError(error);
      return errorResponse(error);
    }
    c.set('session', session);
    // A client gone before the answer: end the session's lock now rather than at its timeout. On Node the
    // response's `close` tells it (the request's `signal` would make @hono/node-server build a full Request).
    const release = () => session.release();
    const outgoing = (c.env as NodeBindings | undefined)?.outgoing;
    const signal = typeof outgoing?.once === 'function' ? undefined : request.signal;
    if (signal) signal.addEventListener('abort', release, { once: true });
    else outgoing?.once?.('close', release);
    try {
      await next();
    } finally {
      signal?.removeEventListener('abort', release);
    }
    // A handler's error took Hono's path (`c.error`, `app.onError`): nothing of the request persists.
    const response = c.res;
    const status = c.error ? 500 : response.status;
    let result: CommitResult;
    try {
      result = await manager.commit(session, {
        status: status >= 200 && status <= 599 ? status : 500,
      });
    } catch (error) {
      onError(error);
      await response.body?.cancel().catch(() => {});
      // Replaces the answer whole: set over an answer, Hono merges the old one's headers (Set-Cookie too) into it.
      c.res = undefined;
      c.res = errorResponse(error);
      return;
    }
    if (status < 200 || status > 599) return;
    try {
      addSessionHeaders(headerTarget(response.headers), session, result.setCookie, result.clearSiteData);
    } catch {
      // Immutable headers (a response `fetch` returned): a copy carries them.
      const headers = new Headers(response.headers);
      addSessionHeaders(headerTarget(headers), session, result.setCookie, result.clearSiteData);
      c.res = undefined;
      c.res = new Response(response.body, { status, statusText: response.statusText, headers });
    }
  };
}
