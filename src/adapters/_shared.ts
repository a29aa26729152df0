/**
 * What the HTTP adapters share (private: not a package export). The request facts a manager is told,
 * the part of a manager an adapter uses, forwarding headers, the error answers, and the headers a
 * committed session adds: `Vary: Cookie` when the session was used (RFC 9110 12.5.5: a shared cache must
 * not serve one visitor's page to another) and `Cache-Control: no-store` with any Set-Cookie (RFC 9111
 * 5.2.2.5; RFC 6265bis 7.1 on caching Set-Cookie).
 */
import { headersForError, statusForError, TellerError } from '../session/errors.js';
import type { CommitOptions, CommitResult, RequestOptions } from '../session/manager.js';
import type { AnySession, Session } from '../session/session.js';

/** What the manager is told about the request (`manager.load(cookieHeader, context)`); time is the manager's clock. */
export interface RequestContext {
  /** The adapter's verdict on HTTPS (the socket, or a trusted proxy's header). */
  secure: boolean;
  host?: string;
  userAgent?: string;
  ip?: string;
  /** The request's method and target, `GET /path?query` (named in lock-timeout events, query and tokens left out). */
  route?: string;
}

/**
 * The part of a session manager the adapter uses: `load` and `commit` of a `SessionManager`
 * (`createSessionManager` returns one), for sessions of type `S`.
 */
export interface AdapterManager<S extends AnySession = Session> {
  load(cookieHeader: string | undefined, context: RequestContext, options?: RequestOptions): Promise<S>;
  commit(session: S, options: CommitOptions): Promise<CommitResult>;
  /** Sealed sessions: the Cookie header bytes their cookies may take (checked against `maxHeaderSize`). */
  readonly sealedMaxBytes?: number | undefined;
}

/** What a request's other headers (request line, Host, User-Agent, Accept..., other cookies) are given. */
export const OTHER_HEADERS_BYTES = 4096;

/**
 * Throws at setup when a sealed session's cookies (`sealedMaxBytes`) with {@link OTHER_HEADERS_BYTES} for the
 * rest would pass node's `maxHeaderSize`: node:http answers 431 to such a request before any handler runs,
 * logout included, so the browser holding them could never be rid of them.
 */
export function checkHeaderRoom(
  manager: AdapterManager<AnySession>,
  maxHeaderSize: unknown,
  adapter: string,
): void {
  const sealed = manager.sealedMaxBytes;
  if (typeof sealed !== 'number' || typeof maxHeaderSize !== 'number') return;
  if (sealed + OTHER_HEADERS_BYTES > maxHeaderSize) {
    throw new TypeError(
      `[teller] [${adapter}] sealedMaxBytes (${sealed}) with ${OTHER_HEADERS_BYTES} bytes for the other headers exceeds node's maxHeaderSize (${maxHeaderSize}): node:http would answer 431 to every request of a browser holding such cookies, logout included. Lower sealedMaxBytes or raise maxHeaderSize (--max-http-header-size, or the server's option, given to the adapter too)`,
    );
  }
}

/**
 * The request options (`lock`, `passive`) out of an adapter's options object, made once per middleware (not
 * per request), with only the members given: an adapter's own options are not passed on to `load`.
 */
export function requestOptionsOf(options: RequestOptions): RequestOptions {
  const out: RequestOptions = {};
  if (options.lock !== undefined) out.lock = options.lock;
  if (options.passive !== undefined) out.passive = options.passive;
  return out;
}

/**
 * The default `onError`: an expected outcome (a 409 conflict, a store that is down or slow: Teller's own
 * errors) is one line, its message and its cause's; anything else (a handler's bug) is logged whole, stack
 * included.
 */
function logError(error: unknown): void {
  if (!(error instanceof TellerError)) {
    console.error(error);
    return;
  }
  const cause = error.cause instanceof Error ? ` (cause: ${error.cause.message})` : '';
  console.error(`${error.name} ${error.status}: ${error.message}${cause}`);
}

/** The error reporter, made safe: a throwing logger must not turn an error answer into a crash. */
export function safeReporter(report: ((error: unknown) => void) | undefined): (error: unknown) => void {
  return (error) => {
    try {
      (report ?? logError)(error);
    } catch {
      // Nothing better to do: the answer to the client matters more than the log line.
    }
  };
}

const REASONS: Record<number, string> = {
  409: 'Conflict',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** The Content-Type of the error answers. */
export const TEXT_PLAIN = 'text/plain; charset=utf-8';

/** The body of a short plain-text error answer: the status's reason phrase, never the error's message. */
export function errorBody(status: number): string {
  return `${REASONS[status] ?? 'Error'}\n`;
}

/**
 * What a framework's own error path is given for a session error (Express's `next(err)`, Fastify's error
 * handler): `status` and `statusCode` the HTTP status, `expose: false` (the http-errors convention: the message
 * is not for the client), the Teller error as `cause` (for the app's logs). Its message is the status's reason
 * phrase, and its `stack` that line alone: a default error handler that prints `err.stack` outside production
 * (Express's) shows neither a trace of Teller's internals nor what the cause names (a store's address).
 */
export class SessionHttpError extends Error {
  readonly status: number;
  readonly statusCode: number;
  readonly expose = false;
  /** Headers the answer carries (Retry-After with a 429); Express's and Fastify's error paths send them. */
  readonly headers: Record<string, string> | undefined;
  constructor(status: number, cause: unknown) {
    super(REASONS[status] ?? 'Error', { cause });
    this.name = 'SessionHttpError';
    this.status = status;
    this.statusCode = status;
    this.headers = headersForError(cause);
    this.stack = this.message;
  }
}

/** The first value of a (possibly repeated, comma-separated) forwarding header. */
function firstForwarded(value: string | string[] | null | undefined): string | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  const first = text?.split(',')[0]?.trim();
  return first === '' ? undefined : first;
}

/** What a trusted proxy says of the request (the left-most entry of each forwarding header). */
export interface Forwarded {
  /** `X-Forwarded-Proto`, lower-cased. */
  proto?: string;
  /** `X-Forwarded-Host`. */
  host?: string;
  /** `X-Forwarded-For`. */
  ip?: string;
}

/**
 * The forwarding headers, read only with `trustProxy` (nothing otherwise). `header` gives a request header
 * by its lower-case name.
 */
export function forwardedHeaders(
  trustProxy: boolean,
  header: (name: string) => string | string[] | null | undefined,
): Forwarded {
  if (!trustProxy) return {};
  return {
    proto: firstForwarded(header('x-forwarded-proto'))?.toLowerCase(),
    host: firstForwarded(header('x-forwarded-host')),
    ip: firstForwarded(header('x-forwarded-for')),
  };
}

/** Whether the handler used the session (`session.accessed`; assumed when a session does not say). */
export function wasRead(session: unknown): boolean {
  return (session as { accessed?: boolean }).accessed !== false;
}

/**
 * The response headers as {@link addSessionHeaders} needs them (a `Headers`, a node:http response, or the
 * node adapter's copy of the headers given to `writeHead`).
 */
export interface HeaderTarget {
  /** The current value of a header ('' when absent). */
  get(name: string): string;
  set(name: string, value: string): void;
  appendSetCookie(lines: string[]): void;
}

/** The Clear-Site-Data field sent when a session ends (W3C Clear Site Data, section 3.1). */
export const CLEAR_SITE_DATA = '"cookies", "storage"';

/** Names Cookie or `*` among a Vary field's values (RFC 9110 12.5.5). */
const VARY_COVERS_COOKIE = /(^|,)\s*(cookie|\*)\s*(,|$)/i;

/**
 * The Vary field to send for a session that was used, given the current one ('' when absent): `Cookie`
 * added, or undefined when the field already names Cookie or `*`.
 */
export function varyWithCookie(vary: string): string | undefined {
  if (vary === '') return 'Cookie';
  return VARY_COVERS_COOKIE.test(vary) ? undefined : `${vary}, Cookie`;
}

/**
 * Adds what a committed session needs to the response headers: `Vary: Cookie` when the session was used or
 * a cookie is set (unless Vary already names Cookie or `*`), then the Set-Cookie lines with
 * `Cache-Control: no-store`, and `Clear-Site-Data` when the commit says so (its `clearSiteData`).
 */
export function addSessionHeaders(
  target: HeaderTarget,
  session: unknown,
  setCookie: string[],
  clearSiteData = false,
): void {
  if (clearSiteData) target.set('Clear-Site-Data', CLEAR_SITE_DATA);
  if (!wasRead(session) && setCookie.length === 0) return;
  const vary = varyWithCookie(target.get('vary'));
  if (vary !== undefined) target.set('Vary', vary);
  if (setCookie.length > 0) {
    target.appendSetCookie(setCookie);
    target.set('Cache-Control', 'no-store');
  }
}

/** `headers` as {@link addSessionHeaders} writes to them (each Set-Cookie line appended on its own). */
export function headerTarget(headers: Headers): HeaderTarget {
  return {
    get: (name) => headers.get(name) ?? '',
    set: (name, value) => headers.set(name, value),
    appendSetCookie: (lines) => {
      for (const line of lines) headers.append('Set-Cookie', line);
    },
  };
}

/** The short plain answer to a session error (503, 409, 429 with Retry-After): no stack trace, never cached. */
export function errorResponse(error: unknown): Response {
  const status = statusForError(error);
  return new Response(errorBody(status), {
    status,
    headers: { 'Content-Type': TEXT_PLAIN, 'Cache-Control': 'no-store', ...headersForError(error) },
  });
}

/**
 * For sealed sessions: a check of the server each request came through, run once per server (the last one
 * is remembered), that reports to `onError` a server whose own `maxHeaderSize` leaves too little room;
 * undefined for sessions in a store.
 */
export function serverCheck(
  manager: AdapterManager<AnySession>,
  onError: (error: unknown) => void,
  adapter: string,
): ((req: { socket: unknown }) => void) | undefined {
  if (typeof manager.sealedMaxBytes !== 'number') return undefined;
  let checked: unknown;
  return (req) => {
    const server = (req.socket as { server?: { maxHeaderSize?: unknown } }).server;
    if (server === checked || server === undefined) return;
    checked = server;
    try {
      checkHeaderRoom(manager, server.maxHeaderSize, adapter);
    } catch (error) {
      onError(error);
    }
  };
}
