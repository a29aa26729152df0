/**
 * `teller/adapters/node`: sessions on node:http. The session is loaded from the Cookie header, put on
 * `req.session`, and committed when the response first tries to send its headers (`writeHead`,
 * `flushHeaders`, `write` or `end`): that call waits for the commit, so `Set-Cookie` goes out with the
 * headers and a redirect never races the store write. Adds `Vary: Cookie` when the session was used (RFC 9110
 * 12.5.5: a shared cache must not serve one visitor's page to another), and `Cache-Control: no-store` with
 * any Set-Cookie (RFC 9111 5.2.2.5; RFC 6265bis 7.1 on caching Set-Cookie). Session errors become short plain
 * answers (503, 409), never a stack trace or a crash.
 *
 * Written for a small per-request cost: the four hooks are shared functions that find the request's state
 * under a symbol on the response (no closures per request), calls made during the commit queue as flat
 * entries, and the headers given to `writeHead` stay a plain object when nothing was set before, so node
 * sends them as it would without the adapter.
 */
import { type IncomingMessage, ServerResponse, validateHeaderName, validateHeaderValue } from 'node:http';
import { statusForError } from '../session/errors.js';
import type { Session, SessionData } from '../session/session.js';
import type { AdapterManager, RequestContext } from './_shared.js';
import { errorBody, forwardedHeaders, safeReporter, TEXT_PLAIN, varyWithCookie, wasRead } from './_shared.js';

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
  const headers = req.headers;
  const socket = req.socket;
  const encrypted = (socket as { encrypted?: boolean }).encrypted === true;
  if (!trustProxy) {
    return {
      secure: encrypted,
      host: headers.host,
      userAgent: headers['user-agent'],
      ip: socket.remoteAddress,
    };
  }
  const forwarded = forwardedHeaders(true, (name) => headers[name]);
  return {
    secure: forwarded.proto === undefined ? encrypted : forwarded.proto === 'https',
    host: forwarded.host ?? headers.host,
    userAgent: headers['user-agent'],
    ip: forwarded.ip ?? socket.remoteAddress,
  };
}

type Method = (this: ServerResponse, ...args: unknown[]) => unknown;

// The phases of a response: nothing sent yet; calls queue; calls pass through; the error answer went out.
const OPEN = 0;
const COMMITTING = 1;
const DONE = 2;
const FAILED = 3;
// The hooked methods, as queue entries name them.
const WRITE_HEAD = 0;
const FLUSH_HEADERS = 1;
const WRITE = 2;
const END = 3;
/** A queued call takes this many slots: method, argument count, three arguments. */
const ENTRY = 5;

type AnySession = Session<SessionData>;

/** What one adapter (one `createNodeSessions`) gives each of its requests. */
interface Adapter {
  manager: AdapterManager<AnySession>;
  onError: (error: unknown) => void;
}

/** One request's hooks: its session, the methods it replaced, the calls waiting for the commit. */
class Hooks {
  phase = OPEN;
  /** The handler failed: the error answer may be a 409 or 503, but nothing of the request persists. */
  failed = false;
  /** Calls made while committing, `ENTRY` slots each. */
  queue: unknown[] | undefined = undefined;
  /**
   * The headers of a queued `writeHead` when they were the response's only headers: a copy the commit adds
   * its own to, then passed to `writeHead` as node would have been (the keys below are its Vary,
   * Set-Cookie and Cache-Control, in the handler's spelling).
   */
  head: Record<string, unknown> | undefined = undefined;
  varyKey: string | undefined = undefined;
  cookieKey: string | undefined = undefined;
  cacheKey: string | undefined = undefined;

  constructor(
    readonly adapter: Adapter,
    readonly session: AnySession,
    readonly writeHead: Method,
    readonly flushHeaders: Method,
    readonly write: Method,
    readonly end: Method,
  ) {}
}

const HOOKS = Symbol('teller.node.hooks');
type Hooked = ServerResponse & { [HOOKS]?: Hooks };
const PROTO = ServerResponse.prototype as unknown as Record<
  'writeHead' | 'flushHeaders' | 'write' | 'end',
  Method
>;

function original(hooks: Hooks, method: number): Method {
  return method === WRITE_HEAD
    ? hooks.writeHead
    : method === FLUSH_HEADERS
      ? hooks.flushHeaders
      : method === WRITE
        ? hooks.write
        : hooks.end;
}

/** Calls `fn` with exactly `count` of the arguments (a wrapper may look at `arguments.length`). */
function invoke(fn: Method, res: ServerResponse, count: number, a: unknown, b: unknown, c: unknown): unknown {
  if (count === 0) return fn.call(res);
  if (count === 1) return fn.call(res, a);
  if (count === 2) return fn.call(res, a, b);
  return fn.call(res, a, b, c);
}

/**
 * Copies the headers given to `writeHead` (validated, as node would, so a bad one throws to the handler),
 * noting Vary, Set-Cookie and Cache-Control. False when a copy would not be faithful (one of those given
 * twice in two spellings, or `__proto__`): the caller moves them onto the response instead.
 */
function copyHead(hooks: Hooks, headers: Record<string, unknown>): boolean {
  const copy: Record<string, unknown> = {};
  const names = Object.keys(headers);
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    const value = headers[name];
    if (value === undefined) continue;
    validateHeaderName(name);
    validateHeaderValue(name, value as string);
    const length = name.length;
    if (length === 4 || length === 9 || length === 10 || length === 13) {
      const lower = name.toLowerCase();
      if (lower === 'vary') {
        if (hooks.varyKey !== undefined) return false;
        hooks.varyKey = name;
      } else if (lower === 'set-cookie') {
        if (hooks.cookieKey !== undefined) return false;
        hooks.cookieKey = name;
      } else if (lower === 'cache-control') {
        if (hooks.cacheKey !== undefined) return false;
        hooks.cacheKey = name;
      } else if (lower === '__proto__') return false;
    }
    copy[name] = value;
  }
  hooks.head = copy;
  return true;
}

/** Moves the headers given to `writeHead` onto the response (Set-Cookie appended). */
function absorbHeaders(res: ServerResponse, headers: object): void {
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2)
      res.appendHeader(String(headers[i]), headers[i + 1] as string);
    return;
  }
  const names = Object.keys(headers);
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    const value = (headers as Record<string, unknown>)[name];
    if (value === undefined) continue;
    if (name.length === 10 && name.toLowerCase() === 'set-cookie')
      res.appendHeader(name, value as string | string[]);
    else res.setHeader(name, value as string | string[] | number);
  }
}

/**
 * A hooked method was called: before the commit it queues (the first call starts the commit), after it
 * passes through, after a failed commit it does nothing (the error answer went out).
 */
function intercept(
  hooks: Hooks | undefined,
  res: ServerResponse,
  method: number,
  count: number,
  a: unknown,
  b: unknown,
  c: unknown,
): unknown {
  if (hooks === undefined) {
    // Called on a response this adapter never saw (a method copied elsewhere): plain node behaviour.
    const name =
      method === WRITE_HEAD
        ? 'writeHead'
        : method === FLUSH_HEADERS
          ? 'flushHeaders'
          : method === WRITE
            ? 'write'
            : 'end';
    return invoke(PROTO[name], res, count, a, b, c);
  }
  const phase = hooks.phase;
  if (phase === DONE) return invoke(original(hooks, method), res, count, a, b, c);
  if (phase === FAILED) return method === WRITE ? true : res;
  let status = res.statusCode;
  if (method === WRITE_HEAD) {
    if (typeof a === 'number') status = a;
    // writeHead(status, [message], [headers]): the headers join the response's (Set-Cookie appended).
    const at = typeof b === 'string' ? 2 : 1;
    const headers = at === 1 ? b : c;
    if (count > at && headers !== null && typeof headers === 'object') {
      // The first call, on a response with no headers yet: a copy takes the place of the handler's object.
      if (
        hooks.queue === undefined &&
        !Array.isArray(headers) &&
        res.getHeaderNames().length === 0 &&
        copyHead(hooks, headers as Record<string, unknown>)
      ) {
        if (at === 1) b = hooks.head;
        else c = hooks.head;
      } else {
        absorbHeaders(res, headers);
        count = at;
      }
    }
  }
  let queue = hooks.queue;
  if (queue === undefined) queue = hooks.queue = [];
  queue.push(method, count, a, b, c);
  if (phase === OPEN) void commit(hooks, res, status);
  return method === WRITE ? true : res;
}

/** How many arguments a hooked method was given (trailing undefined ones count as absent, as node takes them). */
function countOf(a: unknown, b: unknown, c: unknown): number {
  return c !== undefined ? 3 : b !== undefined ? 2 : a !== undefined ? 1 : 0;
}

function hookedWriteHead(this: Hooked, a?: unknown, b?: unknown, c?: unknown): unknown {
  return intercept(this[HOOKS], this, WRITE_HEAD, countOf(a, b, c), a, b, c);
}
function hookedFlushHeaders(this: Hooked): unknown {
  return intercept(this[HOOKS], this, FLUSH_HEADERS, 0, undefined, undefined, undefined);
}
function hookedWrite(this: Hooked, a?: unknown, b?: unknown, c?: unknown): unknown {
  return intercept(this[HOOKS], this, WRITE, countOf(a, b, c), a, b, c);
}
function hookedEnd(this: Hooked, a?: unknown, b?: unknown, c?: unknown): unknown {
  return intercept(this[HOOKS], this, END, countOf(a, b, c), a, b, c);
}

/** A client gone before the handler answered: end the session's lock now rather than at its timeout. */
function releaseIfOpen(hooks: Hooks | undefined): void {
  if (hooks !== undefined && hooks.phase === OPEN) hooks.session.release?.();
}
function onClose(this: Hooked): void {
  releaseIfOpen(this[HOOKS]);
}

/** Hooks the response's four methods; `req.session` is set by the caller. */
function hook(adapter: Adapter, session: AnySession, res: ServerResponse): Hooks {
  const hooks = new Hooks(
    adapter,
    session,
    res.writeHead as Method,
    res.flushHeaders as Method,
    res.write as Method,
    res.end as Method,
  );
  const carrier = res as Hooked;
  if (carrier[HOOKS] === undefined) {
    carrier[HOOKS] = hooks;
    res.writeHead = hookedWriteHead as ServerResponse['writeHead'];
    res.flushHeaders = hookedFlushHeaders;
    res.write = hookedWrite as ServerResponse['write'];
    res.end = hookedEnd as ServerResponse['end'];
    res.on('close', onClose);
    return hooks;
  }
  // A second session on the same response (two managers): hooks bound to their own state, chained.
  const own = hooks;
  res.writeHead = function (this: ServerResponse, a?: unknown, b?: unknown, c?: unknown) {
    return intercept(own, this, WRITE_HEAD, countOf(a, b, c), a, b, c);
  } as ServerResponse['writeHead'];
  res.flushHeaders = function (this: ServerResponse) {
    intercept(own, this, FLUSH_HEADERS, 0, undefined, undefined, undefined);
  };
  res.write = function (this: ServerResponse, a?: unknown, b?: unknown, c?: unknown) {
    return intercept(own, this, WRITE, countOf(a, b, c), a, b, c);
  } as ServerResponse['write'];
  res.end = function (this: ServerResponse, a?: unknown, b?: unknown, c?: unknown) {
    return intercept(own, this, END, countOf(a, b, c), a, b, c);
  } as ServerResponse['end'];
  res.on('close', () => releaseIfOpen(own));
  return hooks;
}

/** Adds the session's headers to the copy of `writeHead`'s headers (see {@link Hooks.head}). */
function addToHead(hooks: Hooks, head: Record<string, unknown>, setCookie: string[]): void {
  const varyKey = hooks.varyKey;
  if (varyKey === undefined) head.Vary = 'Cookie';
  else {
    const vary = varyWithCookie(String(head[varyKey] ?? ''));
    if (vary !== undefined) head[varyKey] = vary;
  }
  if (setCookie.length === 0) return;
  const cookieKey = hooks.cookieKey;
  if (cookieKey === undefined) head['Set-Cookie'] = setCookie;
  else {
    const own = head[cookieKey];
    head[cookieKey] = (Array.isArray(own) ? own : [own]).concat(setCookie);
  }
  head[hooks.cacheKey ?? 'Cache-Control'] = 'no-store';
}

/** Adds the session's headers to the response's own (set with `setHeader`). */
function addToResponse(res: ServerResponse, setCookie: string[]): void {
  const current = res.getHeader('vary');
  const vary = current === undefined ? 'Cookie' : varyWithCookie(String(current));
  if (vary !== undefined) res.setHeader('Vary', vary);
  if (setCookie.length === 0) return;
  if (res.getHeader('set-cookie') === undefined) res.setHeader('Set-Cookie', setCookie);
  else res.appendHeader('Set-Cookie', setCookie);
  res.setHeader('Cache-Control', 'no-store');
}

/** Commits the session, adds its headers, then replays the queued calls in order. */
async function commit(hooks: Hooks, res: ServerResponse, status: number): Promise<void> {
  hooks.phase = COMMITTING;
  const session = hooks.session;
  try {
    const { setCookie } = await hooks.adapter.manager.commit(session, {
      status: hooks.failed ? 500 : status,
    });
    const queue = hooks.queue as unknown[];
    const head = hooks.head;
    if (wasRead(session) || setCookie.length > 0) {
      if (head !== undefined) addToHead(hooks, head, setCookie);
      else addToResponse(res, setCookie);
    }
    hooks.phase = DONE;
    hooks.queue = undefined;
    hooks.head = undefined;
    for (let i = 0; i < queue.length; i += ENTRY) {
      const method = queue[i] as number;
      invoke(original(hooks, method), res, queue[i + 1] as number, queue[i + 2], queue[i + 3], queue[i + 4]);
    }
    // The handler failed while the commit ran, after it had started its answer: cut it, never leave it hanging.
    if (hooks.failed && !res.writableEnded) res.destroy();
  } catch (error) {
    hooks.phase = FAILED;
    hooks.queue = undefined;
    hooks.adapter.onError(error);
    sendError(res, statusForError(error), hooks);
  }
}

/** Answers a short plain-text error, dropping whatever headers the handler had set. */
function sendError(
  res: ServerResponse,
  status: number,
  original: Pick<ServerResponse, 'writeHead' | 'end'> | Hooks,
): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  const body = errorBody(status);
  (original.writeHead as Method).call(res, status, {
    'Content-Type': TEXT_PLAIN,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  });
  (original.end as Method).call(res, body);
}

/** The handler failed: answers its error (nothing of the request persists), or cuts a half-sent answer. */
function fail(hooks: Hooks, res: ServerResponse, error: unknown): void {
  hooks.adapter.onError(error);
  // Headers out but the body unfinished: cut the connection rather than leave the client waiting.
  if (hooks.phase === DONE && !res.writableEnded) res.destroy();
  // Headers already on their way behind the commit: commit() cuts the answer once they are out.
  if (hooks.phase === COMMITTING) hooks.failed = true;
  if (hooks.phase !== OPEN) return; // the answer is on its way (or out): nothing left to replace
  hooks.failed = true;
  res.statusCode = statusForError(error);
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  res.setHeader('Content-Type', TEXT_PLAIN);
  res.setHeader('Cache-Control', 'no-store');
  res.end(errorBody(res.statusCode));
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
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
  const adapter: Adapter = { manager: manager as AdapterManager<AnySession>, onError };

  /**
   * Loads the session, puts it on the request and hooks the response, then runs the handler (or `next`).
   * A load error is answered here; an error escaping the adapter itself is reported and its response cut,
   * never a crash.
   */
  async function run(
    req: IncomingMessage,
    res: ServerResponse,
    handler: NodeHandler<S> | undefined,
    next?: () => void,
  ): Promise<void> {
    try {
      let session: S;
      try {
        session = await manager.load(req.headers.cookie, requestContext(req, trustProxy));
      } catch (error) {
        onError(error);
        sendError(res, statusForError(error), res);
        return;
      }
      (req as SessionRequest<S>).session = session;
      const hooks = hook(adapter, session, res);
      try {
        if (handler === undefined) (next as () => void)();
        else {
          const result = handler(req as SessionRequest<S>, res);
          // Only a promise is awaited: a handler that answered synchronously costs no further tick.
          if (isThenable(result)) await result;
        }
      } catch (error) {
        fail(hooks, res, error);
      }
    } catch (error) {
      onError(error);
      res.destroy();
    }
  }

  return {
    wrap(handler) {
      return function sessionListener(req, res) {
        return run(req, res, handler);
      };
    },
    middleware(req, res, next) {
      return run(req, res, undefined, next);
    },
  };
}
