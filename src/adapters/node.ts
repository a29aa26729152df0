/**
 * `teller/adapters/node`: sessions on node:http. The session is loaded from the Cookie header, put on
 * `req.session`, and committed when the response first tries to send its headers (`writeHead`,
 * `flushHeaders`, `write` or `end`): that call waits for the commit, so `Set-Cookie` goes out with the
 * headers and a redirect never races the store write. Adds `Vary: Cookie` when the session was used (RFC 9110
 * 12.5.5: a shared cache must not serve one visitor's page to another), and `Cache-Control: no-store` with
 * any Set-Cookie (RFC 9111 5.2.2.5; RFC 6265bis 7.1 on caching Set-Cookie). Session errors become short plain
 * answers (503, 409), never a stack trace or a crash. The response's methods are hooked by `./node/hooks.ts`.
 */
import { type IncomingMessage, maxHeaderSize as nodeMaxHeaderSize, type ServerResponse } from 'node:http';
import type { RequestOptions } from '../session/manager.js';
import { COMMIT_NOW, LOAD_NOW, type ManagerNow } from '../session/sync.js';
import type { AdapterManager, RequestContext } from './_shared.js';
import { checkHeaderRoom, forwardedHeaders, safeReporter, serverCheck } from './_shared.js';
import { type Adapter, type AnySession, type Hooks, hook, sendError } from './node/hooks.js';

/** What a listener returns when the request was served synchronously (one settled promise, shared). */
const DONE: Promise<void> = Promise.resolve();

export type { RequestOptions } from '../session/manager.js';
export type { AdapterManager, RequestContext } from './_shared.js';
export { wasRead } from './_shared.js';

export interface NodeSessionsOptions {
  /**
   * Believe `X-Forwarded-Proto`, `X-Forwarded-Host` and `X-Forwarded-For` (the left-most entry): set it only
   * behind a proxy that overwrites them. Otherwise HTTPS is judged from the socket (TLS) and the ip is the peer's.
   * @default false
   */
  trustProxy?: boolean;
  /** Told of every error answered with a 5xx or 409 (and of handler errors after the headers went out). @default console.error */
  onError?: (error: unknown) => void;
  /**
   * The server's `maxHeaderSize`, when it was created with one (`http.createServer({ maxHeaderSize })`):
   * sealed sessions' `sealedMaxBytes` with 4 KB for the other headers must fit in it, or this throws (node:http
   * would answer 431 to every request of a browser holding such cookies, logout included). A server whose
   * own limit is smaller than this is reported to `onError` at its first request.
   * @default http.maxHeaderSize (16 KB unless --max-http-header-size says otherwise)
   */
  maxHeaderSize?: number;
}

export type SessionRequest<S> = IncomingMessage & { session: S };
export type NodeHandler<S> = (req: SessionRequest<S>, res: ServerResponse) => unknown;

/** The node:http integration of one manager. */
export interface NodeSessions<S> {
  /**
   * Wraps a node:http listener: `http.createServer(sessions.wrap((req, res) => { ... }))`. `options` apply to
   * every request of this listener (e.g. `{ lock: false }` for a long poll, `{ passive: true }` for a poll that
   * must not keep the session alive).
   */
  wrap(
    handler: NodeHandler<S>,
    options?: RequestOptions,
  ): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  /** Connect-style middleware: puts `req.session` on the request, then calls `next()`. */
  middleware(req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): Promise<void>;
  /**
   * The middleware for routes that want other request options, e.g.
   * `app.get('/events', sessions.route({ lock: false }), handler)` for a stream that must neither wait for
   * nor hold up other requests of its session.
   */
  route(
    options: RequestOptions,
  ): (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => Promise<void>;
}

/**
 * Creates the node:http integration: `wrap(handler)` gives a `(req, res)` listener, `middleware` is the
 * Connect-style `(req, res, next)` form.
 */
export function createNodeSessions<S extends AnySession>(
  manager: AdapterManager<S>,
  options: NodeSessionsOptions = {},
): NodeSessions<S> {
  const { trustProxy = false } = options;
  const onError = safeReporter(options.onError);
  // A Teller manager's synchronous entry points (session/sync.ts), when the manager passed is one: a request
  // whose store answers synchronously then loads and commits without a promise turn. Anything else is used
  // through `load` and `commit`.
  const now =
    (manager as Partial<ManagerNow<S>>)[LOAD_NOW] === undefined
      ? undefined
      : (manager as unknown as ManagerNow<S>);
  const adapter: Adapter = {
    manager: manager as AdapterManager<AnySession>,
    onError,
    commitNow:
      now === undefined
        ? undefined
        : (session, commitOptions) => now[COMMIT_NOW](session as S, commitOptions),
  };
  checkHeaderRoom(adapter.manager, options.maxHeaderSize ?? nodeMaxHeaderSize, 'node');
  const checkServer = serverCheck(adapter.manager, onError, 'node');

  /**
   * Loads the session, puts it on the request and hooks the response, then runs the handler (or `next`).
   * A load error is answered here; an error escaping the adapter itself is reported and its response cut,
   * never a crash. A session had without waiting is served at once (see `serve`).
   */
  function run(
    req: IncomingMessage,
    res: ServerResponse,
    handler: NodeHandler<S> | undefined,
    next: (() => void) | undefined,
    requestOptions: RequestOptions | undefined,
  ): Promise<void> {
    try {
      if (checkServer !== undefined) checkServer(req);
      let loaded: S | Promise<S>;
      try {
        const context = requestContext(req, trustProxy);
        loaded =
          now === undefined
            ? manager.load(req.headers.cookie, context, requestOptions)
            : now[LOAD_NOW](req.headers.cookie, context, requestOptions);
      } catch (error) {
        onError(error);
        sendError(res, error);
        return DONE;
      }
      if (now === undefined || loaded instanceof Promise) return runLater(loaded, req, res, handler, next);
      return serve(req, res, loaded, handler, next) ?? DONE;
    } catch (error) {
      onError(error);
      res.destroy();
      return DONE;
    }
  }

  /** {@link run} once the session was loaded: the handler run, its promise (if any) settled. */
  function serve(
    req: IncomingMessage,
    res: ServerResponse,
    session: S,
    handler: NodeHandler<S> | undefined,
    next: (() => void) | undefined,
  ): Promise<void> | undefined {
    (req as SessionRequest<S>).session = session;
    const hooks = hook(adapter, session, res);
    try {
      if (handler === undefined) (next as () => void)();
      else {
        const result = handler(req as SessionRequest<S>, res);
        // Only a promise is awaited: a handler that answered synchronously costs no further tick.
        if (isThenable(result)) return settle(result, hooks, res);
      }
    } catch (error) {
      hooks.fail(error);
    }
    return undefined;
  }

  /** An asynchronous handler's outcome: its failure answered as a synchronous one's. */
  async function settle(result: PromiseLike<unknown>, hooks: Hooks, res: ServerResponse): Promise<void> {
    try {
      try {
        await result;
      } catch (error) {
        hooks.fail(error);
      }
    } catch (error) {
      onError(error);
      res.destroy();
    }
  }

  /** {@link run} with a session still being loaded: once it is, served as {@link run} serves it. */
  async function runLater(
    loading: S | Promise<S>,
    req: IncomingMessage,
    res: ServerResponse,
    handler: NodeHandler<S> | undefined,
    next: (() => void) | undefined,
  ): Promise<void> {
    try {
      let session: S;
      try {
        session = await loading;
      } catch (error) {
        onError(error);
        sendError(res, error);
        return;
      }
      const pending = serve(req, res, session, handler, next);
      if (pending !== undefined) await pending;
    } catch (error) {
      onError(error);
      res.destroy();
    }
  }

  return {
    wrap(handler, requestOptions) {
      return function sessionListener(req, res) {
        return run(req, res, handler, undefined, requestOptions);
      };
    },
    middleware(req, res, next) {
      return run(req, res, undefined, next, undefined);
    },
    route(requestOptions) {
      return function sessionMiddleware(req, res, next) {
        return run(req, res, undefined, next, requestOptions);
      };
    },
  };
}

/** The request facts the manager needs; forwarding headers count only with `trustProxy`. */
export function requestContext(req: IncomingMessage, trustProxy = false): RequestContext {
  const headers = req.headers;
  const socket = req.socket;
  const encrypted = (socket as { encrypted?: boolean }).encrypted === true;
  if (!trustProxy) {
    return {
      secure: encrypted,
      host: headers.host,
      userAgent: headers['user-agent'],
      ip: socket.remoteAddress,
      route: `${req.method} ${req.url}`,
    };
  }
  const forwarded = forwardedHeaders(true, (name) => headers[name]);
  return {
    secure: forwarded.proto === undefined ? encrypted : forwarded.proto === 'https',
    host: forwarded.host ?? headers.host,
    userAgent: headers['user-agent'],
    ip: forwarded.ip ?? socket.remoteAddress,
    route: `${req.method} ${req.url}`,
  };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
