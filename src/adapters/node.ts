/**
 * `teller/adapters/node`: sessions on node:http. The session is loaded from the Cookie header, put on
 * `req.session`, and committed when the response first tries to send its headers (`writeHead`,
 * `flushHeaders`, `write` or `end`): that call waits for the commit, so `Set-Cookie` goes out with the
 * headers and a redirect never races the store write. Adds `Vary: Cookie` when the session was used (RFC 9110
 * 12.5.5: a shared cache must not serve one visitor's page to another), and `Cache-Control: no-store` with
 * any Set-Cookie (RFC 9111 5.2.2.5; RFC 6265bis 7.1 on caching Set-Cookie). Session errors become short plain
 * answers (503, 409), never a stack trace or a crash.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { statusForError } from '../session/errors.js';
import type { Session, SessionData } from '../session/session.js';
import type { AdapterManager, RequestContext } from './_shared.js';
import { addSessionHeaders, errorBody, forwardedHeaders, safeReporter, TEXT_PLAIN } from './_shared.js';

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
}

export type SessionRequest<S> = IncomingMessage & { session: S };
export type NodeHandler<S> = (req: SessionRequest<S>, res: ServerResponse) => unknown;

/** The node:http integration of one manager. */
export interface NodeSessions<S> {
  /** Wraps a node:http listener: `http.createServer(sessions.wrap((req, res) => { ... }))`. */
  wrap(handler: NodeHandler<S>): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  /** Connect-style middleware: puts `req.session` on the request, then calls `next()`. */
  middleware(req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): Promise<void>;
}

/** The request facts the manager needs; forwarding headers count only with `trustProxy`. */
export function requestContext(req: IncomingMessage, trustProxy = false): RequestContext {
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
  const forwarded = forwardedHeaders(trustProxy, (name) => req.headers[name]);
  return {
    secure: forwarded.proto === undefined ? encrypted : forwarded.proto === 'https',
    host: forwarded.host ?? req.headers.host,
    userAgent: req.headers['user-agent'],
    ip: forwarded.ip ?? req.socket.remoteAddress,
  };
}

/**
 * Moves the headers given to `writeHead` onto the response (Set-Cookie appended), so the commit's
 * Set-Cookie, Vary and Cache-Control are merged with them instead of being replaced.
 */
function absorbHeaders(res: ServerResponse, args: unknown[]): unknown[] {
  const at = typeof args[1] === 'string' ? 2 : 1;
  const headers = args[at];
  if (headers === undefined || headers === null || typeof headers !== 'object') return args;
  const put = (name: string, value: unknown) => {
    if (name.toLowerCase() === 'set-cookie') res.appendHeader(name, value as string | string[]);
    else res.setHeader(name, value as string | string[] | number);
  };
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2)
      res.appendHeader(String(headers[i]), headers[i + 1] as string);
  } else {
    for (const [name, value] of Object.entries(headers)) if (value !== undefined) put(name, value);
  }
  return args.slice(0, at);
}

/** Answers a short plain-text error, dropping whatever headers the handler had set. */
function sendError(
  res: ServerResponse,
  status: number,
  original: Pick<ServerResponse, 'writeHead' | 'end'>,
): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  const body = errorBody(status);
  original.writeHead.call(res, status, {
    'Content-Type': TEXT_PLAIN,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  });
  (original.end as (chunk: string) => ServerResponse).call(res, body);
}

/**
 * Creates the node:http integration: `wrap(handler)` gives a `(req, res)` listener, `middleware` is the
 * Connect-style `(req, res, next)` form.
 */
export function createNodeSessions<S extends Session<SessionData>>(
  manager: AdapterManager<S>,
  options: NodeSessionsOptions = {},
): NodeSessions<S> {
  const { trustProxy = false } = options;
  const onError = safeReporter(options.onError);

  /**
   * Loads the session and hooks the response. Returns how to fail the request later, or undefined when
   * loading failed and the error answer was already sent.
   */
  async function attach(
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<((error: unknown) => void) | undefined> {
    const original = {
      writeHead: res.writeHead,
      flushHeaders: res.flushHeaders,
      write: res.write,
      end: res.end,
    };
    let session: S;
    try {
      session = await manager.load(req.headers.cookie, requestContext(req, trustProxy));
    } catch (error) {
      onError(error);
      sendError(res, statusForError(error), original);
      return undefined;
    }
    (req as SessionRequest<S>).session = session;
    // 'open': nothing sent yet; 'committing': calls queue; 'done': pass through; 'failed': the error answer went out.
    let state: 'open' | 'committing' | 'done' | 'failed' = 'open';
    const queue: Array<() => void> = [];

    // Set when the handler failed: the error answer may be a 409 or 503, but nothing of the request persists.
    let failed = false;
    const commit = async (status: number) => {
      state = 'committing';
      try {
        const { setCookie } = await manager.commit(session, { status: failed ? 500 : status });
        addSessionHeaders(
          {
            get: (name) => String(res.getHeader(name) ?? ''),
            set: (name, value) => res.setHeader(name, value),
            appendSetCookie: (lines) => res.appendHeader('Set-Cookie', lines),
          },
          session,
          setCookie,
        );
        state = 'done';
        for (const call of queue.splice(0)) call();
      } catch (error) {
        state = 'failed';
        queue.length = 0;
        onError(error);
        sendError(res, statusForError(error), original);
      }
    };
    // Each hooked method: the first call starts the commit, calls made meanwhile queue in order.
    const hook = <K extends keyof typeof original>(name: K, statusOf: (args: unknown[]) => number) => {
      const fn = original[name] as (...args: unknown[]) => unknown;
      (res as unknown as Record<K, unknown>)[name] = function hooked(
        this: ServerResponse,
        ...args: unknown[]
      ) {
        if (state === 'done') return fn.apply(this, args);
        if (state === 'failed') return name === 'write' ? true : this;
        if (name === 'writeHead') args = absorbHeaders(this, args);
        queue.push(() => fn.apply(this, args));
        if (state === 'open') void commit(statusOf(args));
        return name === 'write' ? true : this;
      };
    };
    hook('writeHead', (args) => (typeof args[0] === 'number' ? args[0] : res.statusCode));
    hook('flushHeaders', () => res.statusCode);
    hook('write', () => res.statusCode);
    hook('end', () => res.statusCode);
    // A client gone before the handler answered: end the session's lock now rather than at its timeout.
    res.once('close', () => {
      if (state === 'open') session.release?.();
    });

    return (error: unknown) => {
      onError(error);
      // Headers out but the body unfinished: cut the connection rather than leave the client waiting.
      if (state === 'done' && !res.writableEnded) res.destroy();
      if (state !== 'open') return; // the answer is on its way (or out): nothing left to replace
      failed = true;
      res.statusCode = statusForError(error);
      for (const name of res.getHeaderNames()) res.removeHeader(name);
      res.setHeader('Content-Type', TEXT_PLAIN);
      res.setHeader('Cache-Control', 'no-store');
      res.end(errorBody(res.statusCode));
    };
  }

  /** The last resort: an error escaping the adapter itself is reported and its response cut, never a crash. */
  const bail = (res: ServerResponse) => (error: unknown) => {
    onError(error);
    res.destroy();
  };

  return {
    wrap(handler) {
      return async function sessionListener(req, res) {
        try {
          const fail = await attach(req, res);
          if (fail === undefined) return;
          try {
            await handler(req as SessionRequest<S>, res);
          } catch (error) {
            fail(error);
          }
        } catch (error) {
          bail(res)(error);
        }
      };
    },
    async middleware(req, res, next) {
      try {
        const fail = await attach(req, res);
        if (fail === undefined) return;
        try {
          next();
        } catch (error) {
          fail(error);
        }
      } catch (error) {
        bail(res)(error);
      }
    },
  };
}
