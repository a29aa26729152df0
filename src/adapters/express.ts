/// <reference types="express-serve-static-core" />
/**
 * `teller/adapters/express`: sessions on Express (4 and 5), on the node adapter's response hooks. The
 * middleware loads the session from the Cookie header and puts it on `req.session`; the session is committed
 * when the response first tries to send its headers (`res.send`, `res.json`, `res.redirect`, `res.end`,
 * `res.write`...), so `Set-Cookie` goes out with them. HTTPS and the client's address are Express's own
 * `req.secure` and `req.ip`: they follow the app's `trust proxy` setting. A session error while loading goes
 * to `next(err)` as a {@link SessionHttpError} (`status` 503 for a store that is down or slow, `expose:
 * false`), so the app's error handlers see it and Express's default answer shows no stack trace; so does a
 * commit that fails once the handler ended its answer (`res.send`, `res.json`, `res.redirect`, `res.end`),
 * on a response cleared of the handler's headers. A streamed answer whose commit fails (its head not yet out)
 * is answered as the node adapter does: a plain 503 or 409.
 *
 * `req.session` is typed by one declaration merging, on `express-serve-static-core`'s `Request` (the request
 * type of every Express handler). `@types/express-session` merges its own `session` into the global
 * `Express.Request`, which that `Request` extends: when both are in one program, Teller's type is joined with
 * express-session's (see {@link ExpressSession}), so the two never clash. Give the session your data's type
 * once in your app:
 *
 * @example
 * declare module 'teller/adapters/express' {
 *   interface ExpressSessionTypes { session: Session<{ cart: string[] }> }
 * }
 */
import { type IncomingMessage, maxHeaderSize as nodeMaxHeaderSize, type ServerResponse } from 'node:http';
import { statusForError } from '../session/errors.js';
import type { RequestOptions } from '../session/manager.js';
import type { AnySession, Session } from '../session/session.js';
import type { AdapterManager, RequestContext } from './_shared.js';
import { checkHeaderRoom, requestOptionsOf, SessionHttpError, safeReporter, serverCheck } from './_shared.js';
import { type Adapter, hook } from './node/hooks.js';

export type { RequestOptions } from '../session/manager.js';
export type { AdapterManager, RequestContext } from './_shared.js';
export { SessionHttpError } from './_shared.js';

/**
 * Merge `session` into this interface to type `req.session` (e.g. `Session<MyData>`); without it,
 * `req.session` is a `Session` of any JSON keys.
 */
// biome-ignore lint/suspicious/noEmptyInterface: declared empty so that an app can merge its session type in
export interface ExpressSessionTypes {}

/**
 * The type of `req.session`: the `session` merged into {@link ExpressSessionTypes}, else `Session`. When
 * `@types/express-session` is in the program too (a migration, the express-session drop-in), its session type
 * joins Teller's (an intersection), so that code written for either compiles: one program has one type for
 * `req.session`, and at run time it is the session of the middleware the route runs.
 */
export type ExpressSession = WithLegacy<ExpressSessionTypes extends { session: infer S } ? S : Session>;

/** `S`, joined with express-session's session type when its global `Express.Request` merging is present. */
type WithLegacy<S> = Express.Request extends { session: infer Legacy; sessionStore: unknown }
  ? S & Legacy
  : S;

declare module 'express-serve-static-core' {
  // The type parameters must be those of the interface merged into, constraint included.
  // biome-ignore lint/suspicious/noExplicitAny: Express's own constraint, repeated as declaration merging requires
  interface Request<P, ResBody, ReqBody, ReqQuery, LocalsObj extends Record<string, any>> {
    /** The Teller session of this request (`teller/adapters/express`). */
    session: ExpressSession;
  }
}

/**
 * Per middleware, so per route: `expressSessions(manager, { lock: false })` for a stream or a long poll,
 * `{ passive: true }` for a poll or a health check that must not keep the session alive.
 */
export interface ExpressSessionsOptions extends RequestOptions {
  /**
   * Told of every session error: those passed to `next(err)` (the error itself, not its wrapper) and the
   * failed commits answered 5xx or 409. @default console.error (one line for Teller's own errors)
   */
  onError?: (error: unknown) => void;
  /**
   * The server's `maxHeaderSize`, when it was created with one: sealed sessions' `sealedMaxBytes` with 4 KB
   * for the other headers must fit in it, or this throws (node:http would answer 431 to every request of a
   * browser holding such cookies, logout included). A server whose own limit is smaller is reported to
   * `onError` at its first request.
   * @default http.maxHeaderSize (16 KB unless --max-http-header-size says otherwise)
   */
  maxHeaderSize?: number;
}

/** What the middleware reads of Express's request (`req.secure` and `req.ip` honour `trust proxy`). */
export interface ExpressRequest extends IncomingMessage {
  secure?: boolean;
  ip?: string | undefined;
  originalUrl?: string;
}

/** A Connect-style middleware (Express 4 and 5 take it as it is). */
export type ExpressSessionMiddleware = (
  req: ExpressRequest,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => Promise<void>;

/**
 * Creates the middleware: `app.use(expressSessions(manager))`. A route that wants other request options
 * gets a middleware of its own, placed before the app-wide one:
 * `app.get('/events', expressSessions(manager, { lock: false }), handler)`.
 */
export function expressSessions<S extends AnySession>(
  manager: AdapterManager<S>,
  options: ExpressSessionsOptions = {},
): ExpressSessionMiddleware {
  const onError = safeReporter(options.onError);
  const adapter: Adapter = { manager: manager as AdapterManager<AnySession>, onError };
  const requestOptions = requestOptionsOf(options);
  checkHeaderRoom(adapter.manager, options.maxHeaderSize ?? nodeMaxHeaderSize, 'express');
  const checkServer = serverCheck(adapter.manager, onError, 'express');

  return async function tellerSession(req, res, next) {
    if (checkServer !== undefined) checkServer(req);
    let session: S;
    try {
      session = await manager.load(req.headers.cookie, requestContext(req), requestOptions);
    } catch (error) {
      onError(error);
      next(new SessionHttpError(statusForError(error), error));
      return;
    }
    (req as ExpressRequest & { session: S }).session = session;
    const hooks = hook(adapter, session, res, next);
    try {
      next();
    } catch (error) {
      // Express catches its handlers' errors itself; this is a last resort (a broken `next`).
      hooks.fail(error);
    }
  };
}

/** The request facts the manager needs, as Express sees them (its `trust proxy` setting applies). */
export function requestContext(req: ExpressRequest): RequestContext {
  const headers = req.headers;
  return {
    secure: req.secure ?? (req.socket as { encrypted?: boolean }).encrypted === true,
    host: headers.host,
    userAgent: headers['user-agent'],
    ip: req.ip ?? req.socket.remoteAddress,
    route: `${req.method} ${req.originalUrl ?? req.url}`,
  };
}
