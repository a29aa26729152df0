/**
 * `teller/adapters/hono`: sessions on Hono 4, as a middleware on the fetch adapter (`withSession`), so it
 * runs wherever Hono does (Node with @hono/node-server, Bun, Deno, workers): it imports nothing of Node's
 * beyond what `teller/adapters/fetch` does, and nothing of Hono's at run time. The session is loaded from the
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
import type { Context, MiddlewareHandler, Next } from 'hono';
import type { AnySession, Session } from '../session/session.js';
import type { AdapterManager } from './_shared.js';
import { type FetchSessionOptions, withSession } from './fetch.js';

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
 * and the request options (`lock: false` for a route's own middleware, e.g. a stream).
 */
export type HonoSessionsOptions = FetchSessionOptions;

/**
 * Creates the middleware: `app.use(honoSessions(manager))`, or on some routes only
 * (`app.use('/account/*', honoSessions(manager))`).
 */
export function honoSessions<S extends AnySession>(
  manager: AdapterManager<S>,
  options: HonoSessionsOptions = {},
): MiddlewareHandler<{ Variables: { session: S } }> {
  // One wrapped handler for every request: the context and `next` travel as its extra arguments.
  const handler = withSession(
    manager,
    async (_request, { session }, c: Context, next: Next) => {
      c.set('session', session as unknown as HonoSession);
      await next();
      return c.res;
    },
    options,
  );
  return async function tellerSession(c, next) {
    const response = await handler(c.req.raw, c as unknown as Context, next);
    // Replaces the answer whole: set over an answer, Hono merges the old one's headers (Set-Cookie too) into it.
    c.res = undefined;
    c.res = response;
  };
}
