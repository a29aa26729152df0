/**
 * `fetch` with a cookie jar: sends the jar's cookies, stores every Set-Cookie, and follows redirects
 * itself so that each hop's cookies are stored and each hop's Cookie header is computed for that hop's
 * URL (RFC 6265bis 5.8.2), as a browser does.
 */
import { tellerMessage } from '../util.js';
import type { CookieJar } from './jar.js';

/** The `fetch` signature `fetchWithJar` wraps and returns. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** Options of {@link fetchWithJar}. */
export interface FetchWithJarOptions {
  /** The most redirects followed before the call fails with a `TypeError` (as fetch's own limit). @default 20 */
  maxRedirects?: number;
  /** The clock for storing and retrieving cookies (epoch ms). @default Date.now */
  now?: () => number;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Request-body headers dropped when a redirect turns the request into a GET (Fetch, HTTP-redirect fetch step 11). */
const BODY_HEADERS = [
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-location',
];
/** Credentials the caller gave for the first origin only. */
const ORIGIN_BOUND_HEADERS = ['cookie', 'authorization', 'proxy-authorization'];

function setCookieLines(headers: Headers): string[] {
  if (typeof headers.getSetCookie === 'function') return headers.getSetCookie();
  const single = headers.get('set-cookie');
  return single === null ? [] : [single];
}

/**
 * Returns a `fetch` that carries `jar`:
 * - before each request (and each redirect hop) it adds the jar's Cookie header for that URL;
 * - it stores every Set-Cookie of every response, redirects included (the context is same-site: a
 *   program has no top-level site of its own);
 * - header values are octets, a character each, in `fetch`: it reads Set-Cookie as such (the 4096-octet
 *   limit counts what came over the wire, the jar keeps the text it encodes as UTF-8) and sends the
 *   jar's cookies as their UTF-8;
 * - it follows redirects itself (at most `maxRedirects`): 303, and 301/302 after a POST, become a GET
 *   without a body, 307/308 repeat the method and body; `redirect: 'manual'` returns the 3xx response
 *   (its cookies stored) and `redirect: 'error'` fails on it, as with fetch;
 * - a Cookie, Authorization or Proxy-Authorization header the caller gave is sent to the first origin
 *   only and dropped for good once a redirect leaves it (the CVE-2023-45143 class of leaks); a
 *   caller's Cookie header comes before the jar's cookies.
 *
 * The response is the last hop's; its `url` is that hop's URL. A request body is read once into
 * memory so that a 307/308 can send it again. Other `init` options (an undici `dispatcher`, `cache`,
 * `keepalive`, ...) are passed to `fetchImpl` on every hop.
 *
 * @example
 * const jar = new CookieJar();
 * const fetch = fetchWithJar(jar);
 * await fetch('https://example.com/login', { method: 'POST', body: form }); // 302 -> GET /home, cookies kept
 * await fetch('https://example.com/account'); // sends the session cookie
 */
export function fetchWithJar(
  jar: CookieJar,
  fetchImpl: FetchLike = globalThis.fetch,
  options?: FetchWithJarOptions,
): FetchLike {
  const maxRedirects = options?.maxRedirects ?? 20;
  if (!Number.isSafeInteger(maxRedirects) || maxRedirects < 0) {
    throw new TypeError(tellerMessage('jar', 'option maxRedirects must be a non-negative integer'));
  }
  const now = options?.now ?? Date.now;
  return async function fetchWithCookies(input, init) {
    const request = new Request(input, init);
    const mode = request.redirect;
    const headers = new Headers(request.headers);
    const callerCookie = headers.get('cookie');
    headers.delete('cookie');
    let body: ArrayBuffer | null = request.body === null ? null : await request.arrayBuffer();
    let method = request.method;
    let url = new URL(request.url);
    const firstOrigin = url.origin;
    let leftFirstOrigin = false;
    for (let hop = 0; ; hop++) {
      const hopHeaders = new Headers(headers);
      // Header values are octets both ways (a character each): the cookies' UTF-8 out, and in.
      const fromJar = jar.getCookieHeader(url, { now: now(), method, octets: true });
      const cookie =
        !leftFirstOrigin && callerCookie !== null && callerCookie !== ''
          ? fromJar === ''
            ? callerCookie
            : `${callerCookie}; ${fromJar}`
          : fromJar;
      if (cookie !== '') hopHeaders.set('cookie', cookie);
      const response = await fetchImpl(url.href, {
        // Other options (an undici dispatcher, cache, keepalive...) go through to every hop.
        ...init,
        method,
        headers: hopHeaders,
        body,
        redirect: 'manual',
        signal: request.signal,
      });
      for (const line of setCookieLines(response.headers)) {
        jar.setCookie(line, url, { now: now(), octets: true });
      }
      const location = response.headers.get('location');
      if (!REDIRECT_STATUSES.has(response.status) || location === null || mode === 'manual') return response;
      await response.body?.cancel();
      // The Location is not echoed: it may carry a token (an OAuth code, a reset link).
      if (mode === 'error') {
        throw new TypeError(tellerMessage('jar', `a ${response.status} redirect with redirect: 'error'`));
      }
      if (hop >= maxRedirects)
        throw new TypeError(tellerMessage('jar', `more than ${maxRedirects} redirects`));
      let next: URL;
      try {
        next = new URL(location, url);
      } catch (cause) {
        throw new TypeError(tellerMessage('jar', 'redirect to an invalid Location'), { cause });
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new TypeError(tellerMessage('jar', `redirect to a ${next.protocol} URL`));
      }
      const status = response.status;
      if (
        (status === 303 && method !== 'HEAD') ||
        ((status === 301 || status === 302) && method === 'POST')
      ) {
        method = 'GET';
        body = null;
        for (const name of BODY_HEADERS) headers.delete(name);
      }
      if (next.origin !== firstOrigin && !leftFirstOrigin) {
        leftFirstOrigin = true;
        for (const name of ORIGIN_BOUND_HEADERS) headers.delete(name);
      }
      url = next;
    }
  };
}
