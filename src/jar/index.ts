/**
 * `teller/jar`: the user agent's side of cookies. A {@link CookieJar} that stores and sends cookies as
 * a browser does (RFC 6265bis 5.7 and 5.8), persists as JSON or curl's `cookies.txt`, and a `fetch`
 * that carries it through redirects ({@link fetchWithJar}).
 */
export { CookieRejectedError } from './errors.js';
export type { FetchLike, FetchWithJarOptions } from './fetch.js';
export { fetchWithJar } from './fetch.js';
export { CookieJar } from './jar.js';
export type {
  CookieContextOptions,
  CookieHeaderOptions,
  CookieJarJSON,
  CookieJarOptions,
  GetCookiesOptions,
  JarProfile,
  LoadOptions,
  NetscapeOptions,
  NetscapeResult,
  SameSiteContext,
  SameSiteFlag,
  SerializedCookie,
  SetCookieOptions,
  StoredCookie,
} from './types.js';
