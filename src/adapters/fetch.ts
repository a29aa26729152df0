/**
 * `teller/adapters/fetch`: sessions for Web-standard handlers (`Request` -> `Response`), as on Bun, Deno,
 * Cloudflare-style runtimes, Hono's `app.fetch` or undici. The session is loaded from the Cookie header and
 * committed before the wrapper returns; its `Set-Cookie` lines go on a copy of the handler's response
 * (a response's headers may be immutable), with `Vary: Cookie` when the session was used (RFC 9110 12.5.5),
 * and `Cache-Control: no-store` with any Set-Cookie (RFC 9111 5.2.2.5). Session errors become short plain
 * answers (503, 409), never a stack trace.
 */
import type { CommitResult, RequestOptions } from '../session/manager.js';
import type { AnySession } from '../session/session.js';
import type { AdapterManager, RequestContext } from './_shared.js';
import { addSessionHeaders, errorResponse, forwardedHeaders, headerTarget, safeReporter } from './_shared.js';

export type { RequestOptions } from '../session/manager.js';
export type { AdapterManager, RequestContext } from './_shared.js';

/**
 * Per handler, so per route: `withSession(manager, handler, { lock: false })` for a stream or a long poll,
 * `{ passive: true }` for a poll or a health check that must not keep the session alive.
 */
export interface FetchSessionOptions extends RequestOptions {
  /**
   * Believe `X-Forwarded-Proto`, `X-Forwarded-Host` and `X-Forwarded-For` (the left-most entry): set it only
   * behind a proxy that overwrites them. Otherwise HTTPS is judged from the request URL.
   * @default false
   */
  trustProxy?: boolean;
  /** The client's address when the runtime knows it (e.g. Bun's `server.requestIP(request)`). */
  clientIp?: (request: Request) => string | undefined;
  /** Told of every error answered with a 5xx or 409. @default console.error */
  onError?: (error: unknown) => void;
}

/** The second argument of a wrapped handler. */
export interface SessionContext<S> {
  session: S;
}

export type FetchHandler<S, Rest extends unknown[]> = (
  request: Request,
  context: SessionContext<S>,
  ...rest: Rest
) => Response | Promise<Response>;

/** The request facts the manager needs; forwarding headers count only with `trustProxy`. */
export function requestContext(request: Request, options: FetchSessionOptions = {}): RequestContext {
  const { trustProxy = false } = options;
  const headers = request.headers;
  // A Request's URL is absolute and serialized (scheme lower case, no credentials): read without parsing it.
  const url = request.url;
  const authority = url.indexOf('//') + 2;
  let pathStart = url.indexOf('/', authority);
  if (pathStart < 0) pathStart = url.length;
  const query = url.indexOf('?', pathStart);
  const fragment = url.indexOf('#', pathStart);
  const pathEnd =
    query < 0 ? (fragment < 0 ? url.length : fragment) : fragment < 0 ? query : Math.min(query, fragment);
  const forwarded = forwardedHeaders(trustProxy, (name) => headers.get(name));
  return {
    secure: forwarded.proto === undefined ? url.startsWith('https:') : forwarded.proto === 'https',
    host: forwarded.host ?? headers.get('host') ?? url.slice(authority, pathStart),
    userAgent: headers.get('user-agent') ?? undefined,
    ip: forwarded.ip ?? options.clientIp?.(request),
    route: `${request.method} ${url.slice(pathStart, pathEnd) || '/'}`,
  };
}

/**
 * Wraps a `(request, { session }) => Response` handler. Extra arguments (a runtime's env or context) are
 * passed through.
 *
 * @example
 * export default { fetch: withSession(manager, async (request, { session }) => new Response('hi')) };
 */
export function withSession<S extends AnySession, Rest extends unknown[] = []>(
  manager: AdapterManager<S>,
  handler: FetchHandler<S, Rest>,
  options: FetchSessionOptions = {},
): (request: Request, ...rest: Rest) => Promise<Response> {
  const onError = safeReporter(options.onError);
  return async function sessionHandler(request: Request, ...rest: Rest): Promise<Response> {
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
    // A client gone before the answer: end the session's lock now rather than at its timeout.
    const release = () => session.release();
    request.signal?.addEventListener('abort', release, { once: true });
    let response: Response;
    try {
      response = await handler(request, { session }, ...rest);
    } catch (error) {
      onError(error);
      // Ends the session's lock; a status of 500 persists nothing of a failed request, whatever its answer.
      await Promise.resolve(manager.commit(session, { status: 500 })).catch(() => {});
      return errorResponse(error);
    } finally {
      request.signal?.removeEventListener('abort', release);
    }
    let result: CommitResult;
    try {
      // An answer that cannot carry Set-Cookie (Response.error()'s 0, a 101 upgrade) persists nothing.
      const status = response.status >= 200 && response.status <= 599 ? response.status : 500;
      result = await manager.commit(session, { status });
    } catch (error) {
      onError(error);
      await response.body?.cancel().catch(() => {});
      return errorResponse(error);
    }
    // `new Response` takes statuses 200-599 only (a 101 upgrade is passed on as it is).
    if (response.status < 200 || response.status > 599) return response;
    const headers = new Headers(response.headers);
    addSessionHeaders(headerTarget(headers), session, result.setCookie, result.clearSiteData);
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  };
}
