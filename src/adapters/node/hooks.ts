/**
 * The node adapter's response hooks (private: not a package export). The session is committed when the
 * response first tries to send its headers: `writeHead`, `flushHeaders`, `write` and `end` are replaced,
 * the calls made while the commit runs are queued, then replayed once the session's headers are added.
 *
 * Written for a small per-request cost: a request's state is one `Hooks` object under a symbol on the
 * response, and its logic is that object's methods. The four replacement methods are shared by every
 * response (one set per nesting depth, for a second manager on the same response), so a request allocates
 * no closure; calls made during the commit queue as flat entries, and the headers given to `writeHead` stay
 * a plain object when nothing was set before, so node sends them as it would without the adapter.
 */
import { ServerResponse, validateHeaderName, validateHeaderValue } from 'node:http';
import { headersForError, statusForError } from '../../session/errors.js';
import type { CommitOptions, CommitResult } from '../../session/manager.js';
import type { AnySession } from '../../session/session.js';
import type { AdapterManager, HeaderTarget } from '../_shared.js';
import { addSessionHeaders, errorBody, SessionHttpError, TEXT_PLAIN } from '../_shared.js';

type Method = (this: ServerResponse, ...args: unknown[]) => unknown;

// The hooked methods, as indices of a method table (`Methods`) and queue entries name them.
const WRITE_HEAD = 0;
const FLUSH_HEADERS = 1;
const WRITE = 2;
const END = 3;
type MethodIndex = typeof WRITE_HEAD | typeof FLUSH_HEADERS | typeof WRITE | typeof END;
/** writeHead, flushHeaders, write and end, in that order. */
type Methods = readonly [Method, Method, Method, Method];
const PROTO = ServerResponse.prototype;
/** node's own methods: what a response has when nothing replaced them. */
const PROTO_METHODS = [PROTO.writeHead, PROTO.flushHeaders, PROTO.write, PROTO.end] as unknown as Methods;

// The phases of a response: nothing sent yet; calls queue; calls pass through; the error answer went out.
const OPEN = 0;
const COMMITTING = 1;
const DONE = 2;
const FAILED = 3;
/** A queued call takes this many slots: method, argument count, three arguments. */
const ENTRY = 5;
/**
 * Header names `writeHead` was given that node's `validateHeaderName` accepted: the same few names come with
 * every response, and a name once valid stays valid (its regex was most of what the copy of the headers
 * cost). Bounded, so names made up per request cannot grow it.
 */
const VALID_NAMES = new Set<string>();
const VALID_NAMES_MAX = 256;

export type { AnySession };

/** What one adapter (one `createNodeSessions`) gives each of its requests. */
export interface Adapter {
  manager: AdapterManager<AnySession>;
  onError: (error: unknown) => void;
  /**
   * The manager's `commit` that answers without a promise when nothing had to be waited for (session/sync.ts),
   * when the manager is Teller's; it throws what `commit` would reject with.
   */
  commitNow?: (session: AnySession, options: CommitOptions) => CommitResult | Promise<CommitResult>;
}

/** The first manager's hooks on a response; a second manager's are its `inner`, and so on. */
const HOOKS = Symbol('teller.node.hooks');
type Hooked = ServerResponse & { [HOOKS]?: Hooks };

/**
 * Hooks the response's four methods; `req.session` is set by the caller. With `next` (a framework's, as
 * Express's middleware has it), a commit that fails once the handler ended its answer goes to
 * `next(SessionHttpError)`, the framework's error path, instead of the plain error answer.
 */
export function hook(
  adapter: Adapter,
  session: AnySession,
  res: ServerResponse,
  next?: (error: unknown) => void,
): Hooks {
  const hooks = new Hooks(adapter, session, res, methodsOf(res));
  hooks.next = next;
  const carrier = res as Hooked;
  let outer = carrier[HOOKS];
  let depth = 0;
  if (outer === undefined) {
    carrier[HOOKS] = hooks;
    res.on('close', onClose);
  } else {
    // A second manager on the same response: its hooks end the chain, found by the methods of their depth.
    depth = 1;
    while (outer.inner !== undefined) {
      outer = outer.inner;
      depth++;
    }
    outer.inner = hooks;
  }
  const hooked = hookedAt(depth);
  res.writeHead = hooked[WRITE_HEAD] as ServerResponse['writeHead'];
  res.flushHeaders = hooked[FLUSH_HEADERS] as ServerResponse['flushHeaders'];
  res.write = hooked[WRITE] as ServerResponse['write'];
  res.end = hooked[END] as ServerResponse['end'];
  return hooks;
}

/** The response's methods as a table: node's own, shared, when none was replaced (nothing allocated). */
function methodsOf(res: ServerResponse): Methods {
  const { writeHead, flushHeaders, write, end } = res;
  if (
    writeHead === PROTO.writeHead &&
    flushHeaders === PROTO.flushHeaders &&
    write === PROTO.write &&
    end === PROTO.end
  )
    return PROTO_METHODS;
  return [writeHead, flushHeaders, write, end] as unknown as Methods;
}

/** The replacement methods of the hooks at each depth on a response, made once per depth. */
const HOOKED: Methods[] = [hookedMethods(0)];

function hookedAt(depth: number): Methods {
  return (HOOKED[depth] ??= hookedMethods(depth));
}

function hookedMethods(depth: number): Methods {
  return [
    function hookedWriteHead(this: Hooked, a?: unknown, b?: unknown, c?: unknown): unknown {
      return dispatch(this, depth, WRITE_HEAD, a, b, c);
    },
    function hookedFlushHeaders(this: Hooked): unknown {
      return dispatch(this, depth, FLUSH_HEADERS, undefined, undefined, undefined);
    },
    function hookedWrite(this: Hooked, a?: unknown, b?: unknown, c?: unknown): unknown {
      return dispatch(this, depth, WRITE, a, b, c);
    },
    function hookedEnd(this: Hooked, a?: unknown, b?: unknown, c?: unknown): unknown {
      return dispatch(this, depth, END, a, b, c);
    },
  ];
}

/** Passes a call of a hooked method to the hooks at `depth` on the response it was called on. */
function dispatch(
  res: Hooked,
  depth: number,
  method: MethodIndex,
  a: unknown,
  b: unknown,
  c: unknown,
): unknown {
  let hooks = res[HOOKS];
  for (let i = depth; i > 0 && hooks !== undefined; i--) hooks = hooks.inner;
  const count = countOf(a, b, c);
  // Called on a response this adapter never hooked that deep (a method copied elsewhere): plain node behaviour.
  if (hooks === undefined) return invoke(PROTO_METHODS[method], res, count, a, b, c);
  return hooks.intercept(method, count, a, b, c);
}

/** How many arguments a hooked method was given (trailing undefined ones count as absent, as node takes them). */
function countOf(a: unknown, b: unknown, c: unknown): number {
  return c !== undefined ? 3 : b !== undefined ? 2 : a !== undefined ? 1 : 0;
}

/** A client gone before the handler answered: end each open session's lock now rather than at its timeout. */
function onClose(this: Hooked): void {
  for (let hooks = this[HOOKS]; hooks !== undefined; hooks = hooks.inner) hooks.releaseIfOpen();
}

/**
 * One request's hooks: its session, the methods it replaced, the calls waiting for the commit. It is also
 * the {@link HeaderTarget} the commit adds the session's headers to: the copy of `writeHead`'s headers when
 * there is one, else the response.
 */
export class Hooks implements HeaderTarget {
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
  /** The hooks of the next manager on the same response. */
  inner: Hooks | undefined = undefined;
  /** The framework's `next`, for a commit that fails (see {@link hook}). */
  next: ((error: unknown) => void) | undefined = undefined;

  constructor(
    readonly adapter: Adapter,
    readonly session: AnySession,
    readonly res: ServerResponse,
    /** The methods these hooks replaced. */
    readonly originals: Methods,
  ) {}

  /**
   * A hooked method was called: before the commit it queues (the first call starts the commit), after it
   * passes through, after a failed commit it does nothing (the error answer went out).
   */
  intercept(method: MethodIndex, count: number, a: unknown, b: unknown, c: unknown): unknown {
    const res = this.res;
    const phase = this.phase;
    if (phase === DONE) return invoke(this.originals[method], res, count, a, b, c);
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
          this.queue === undefined &&
          !Array.isArray(headers) &&
          res.getHeaderNames().length === 0 &&
          this.copyHead(headers as Record<string, unknown>)
        ) {
          if (at === 1) b = this.head;
          else c = this.head;
        } else {
          absorbHeaders(res, headers);
          count = at;
        }
      }
    }
    let queue = this.queue;
    if (queue === undefined) queue = this.queue = [];
    queue.push(method, count, a, b, c);
    if (phase === OPEN) this.commit(status);
    return method === WRITE ? true : res;
  }

  /**
   * Copies the headers given to `writeHead` (validated, as node would, so a bad one throws to the handler),
   * noting Vary, Set-Cookie and Cache-Control. False when a copy would not be faithful (one of those given
   * twice in two spellings, or `__proto__`): the caller moves them onto the response instead.
   */
  private copyHead(headers: Record<string, unknown>): boolean {
    const copy: Record<string, unknown> = {};
    const names = Object.keys(headers);
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string;
      const value = headers[name];
      if (value === undefined) continue;
      if (!VALID_NAMES.has(name)) {
        validateHeaderName(name);
        if (VALID_NAMES.size < VALID_NAMES_MAX) VALID_NAMES.add(name);
      }
      // A number (a Content-Length) has no character a header value may not have.
      if (typeof value !== 'number') validateHeaderValue(name, value as string);
      const length = name.length;
      if (length === 4 || length === 9 || length === 10 || length === 13) {
        const lower = name.toLowerCase();
        if (lower === 'vary') {
          if (this.varyKey !== undefined) return false;
          this.varyKey = name;
        } else if (lower === 'set-cookie') {
          if (this.cookieKey !== undefined) return false;
          this.cookieKey = name;
        } else if (lower === 'cache-control') {
          if (this.cacheKey !== undefined) return false;
          this.cacheKey = name;
        } else if (lower === '__proto__') return false;
      }
      copy[name] = value;
    }
    this.head = copy;
    return true;
  }

  /**
   * Commits the session, adds its headers, then replays the queued calls in order. A commit that answered
   * synchronously (`commitNow`) is still applied in a microtask, as a promise's answer would be: the calls
   * the handler makes meanwhile queue behind the one that started the commit, exactly as with any store.
   */
  private commit(status: number): void {
    this.phase = COMMITTING;
    const adapter = this.adapter;
    const options = { status: this.failed ? 500 : status };
    const commitNow = adapter.commitNow;
    if (commitNow === undefined) {
      let pending: Promise<CommitResult>;
      try {
        pending = Promise.resolve(adapter.manager.commit(this.session, options));
      } catch (error) {
        this.refused(error);
        return;
      }
      pending.then(
        (result) => this.committed(result),
        (error: unknown) => this.refused(error),
      );
      return;
    }
    let result: CommitResult | Promise<CommitResult>;
    try {
      result = commitNow(this.session, options);
    } catch (error) {
      queueMicrotask(() => this.refused(error));
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (answer) => this.committed(answer),
        (error: unknown) => this.refused(error),
      );
    } else queueMicrotask(() => this.committed(result));
  }

  /** The commit succeeded: its headers added, the queued calls replayed (a failure there answered as a refusal). */
  private committed({ setCookie, clearSiteData }: CommitResult): void {
    const res = this.res;
    try {
      const queue = this.queue as unknown[];
      addSessionHeaders(this, this.session, setCookie, clearSiteData);
      this.phase = DONE;
      this.queue = undefined;
      this.head = undefined;
      const originals = this.originals;
      for (let i = 0; i < queue.length; i += ENTRY) {
        const method = originals[queue[i] as MethodIndex];
        invoke(method, res, queue[i + 1] as number, queue[i + 2], queue[i + 3], queue[i + 4]);
      }
      // The handler failed while the commit ran, after it had started its answer: cut it, never leave it hanging.
      if (this.failed && !res.writableEnded) res.destroy();
    } catch (error) {
      this.refused(error);
    }
  }

  /** The commit (or the replay of the queued calls) failed: the error answer, or the framework's error path. */
  private refused(error: unknown): void {
    const res = this.res;
    const queue = this.queue;
    this.queue = undefined;
    this.head = undefined;
    this.adapter.onError(error);
    const next = this.next;
    // The handler ended its answer (its last call was `end`): the framework's error path answers instead,
    // through the original methods, on a response cleared of the handler's headers.
    const ended = queue !== undefined && queue[queue.length - ENTRY] === END;
    if (next !== undefined && ended && !res.headersSent && !this.failed) {
      this.phase = DONE;
      for (const name of res.getHeaderNames()) res.removeHeader(name);
      next(new SessionHttpError(statusForError(error), error));
      return;
    }
    this.phase = FAILED;
    sendError(res, error, this.originals[WRITE_HEAD], this.originals[END]);
  }

  // HeaderTarget, for addSessionHeaders: the copied head (in the handler's spelling), else the response.
  get(name: string): string {
    const head = this.head;
    if (head !== undefined) return String(head[this.spelling(name)] ?? '');
    const value = this.res.getHeader(name);
    return value === undefined ? '' : String(value);
  }

  set(name: string, value: string): void {
    const head = this.head;
    if (head !== undefined) head[this.spelling(name)] = value;
    else this.res.setHeader(name, value);
  }

  appendSetCookie(lines: string[]): void {
    const head = this.head;
    const res = this.res;
    if (head !== undefined) {
      const key = this.cookieKey ?? 'Set-Cookie';
      const own = head[key];
      head[key] = own === undefined ? lines : (Array.isArray(own) ? own : [own]).concat(lines);
    } else if (res.getHeader('set-cookie') === undefined) res.setHeader('Set-Cookie', lines);
    else res.appendHeader('Set-Cookie', lines);
  }

  /** The key the handler gave a header under in the head (for Vary, Set-Cookie, Cache-Control), else `name`. */
  private spelling(name: string): string {
    // The names addSessionHeaders uses come first: no lower-casing on the common path.
    const lower =
      name === 'vary' || name === 'Vary'
        ? 'vary'
        : name === 'Cache-Control'
          ? 'cache-control'
          : name === 'Set-Cookie'
            ? 'set-cookie'
            : name.toLowerCase();
    if (lower === 'vary') return this.varyKey ?? name;
    if (lower === 'cache-control') return this.cacheKey ?? name;
    return lower === 'set-cookie' ? (this.cookieKey ?? name) : name;
  }

  /** The handler failed: answers its error (nothing of the request persists), or cuts a half-sent answer. */
  fail(error: unknown): void {
    const res = this.res;
    this.adapter.onError(error);
    // Headers out but the body unfinished: cut the connection rather than leave the client waiting.
    if (this.phase === DONE && !res.writableEnded) res.destroy();
    // Headers already on their way behind the commit: commit() cuts the answer once they are out.
    if (this.phase === COMMITTING) this.failed = true;
    if (this.phase !== OPEN) return; // the answer is on its way (or out): nothing left to replace
    this.failed = true;
    res.statusCode = statusForError(error);
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    res.setHeader('Content-Type', TEXT_PLAIN);
    res.setHeader('Cache-Control', 'no-store');
    res.end(errorBody(res.statusCode));
  }

  releaseIfOpen(): void {
    if (this.phase === OPEN) this.session.release();
  }
}

/** Calls `fn` with exactly `count` of the arguments (a wrapper may look at `arguments.length`). */
function invoke(fn: Method, res: ServerResponse, count: number, a: unknown, b: unknown, c: unknown): unknown {
  if (count === 0) return fn.call(res);
  if (count === 1) return fn.call(res, a);
  if (count === 2) return fn.call(res, a, b);
  return fn.call(res, a, b, c);
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
 * Answers a short plain-text error with the given methods (by default the response's own), dropping whatever
 * headers the handler had set.
 */
export function sendError(
  res: ServerResponse,
  error: unknown,
  writeHead = res.writeHead as Method,
  end = res.end as Method,
): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  const status = statusForError(error);
  const body = errorBody(status);
  writeHead.call(res, status, {
    'Content-Type': TEXT_PLAIN,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    ...headersForError(error),
  });
  end.call(res, body);
}
