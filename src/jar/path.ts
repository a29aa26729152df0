/** Cookie paths: RFC 6265bis 5.1.4, default-path and path-match. */

/**
 * The default-path of a cookie (RFC 6265bis 5.1.4): the request path up to, not including, its
 * right-most `/`; `/` when the path is empty, relative, or has a single `/`.
 */
export function defaultPath(uriPath: string): string {
  if (uriPath.charCodeAt(0) !== 0x2f) return '/';
  const last = uriPath.lastIndexOf('/');
  return last === 0 ? '/' : uriPath.slice(0, last);
}

/**
 * Path-match (RFC 6265bis 5.1.4): the paths are identical, or `cookiePath` is a prefix of
 * `requestPath` that ends with `/` or is followed by `/` in `requestPath`.
 */
export function pathMatch(requestPath: string, cookiePath: string): boolean {
  const n = cookiePath.length;
  if (requestPath.length < n) return false;
  if (requestPath.length === n) return requestPath === cookiePath;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.charCodeAt(n - 1) === 0x2f || requestPath.charCodeAt(n) === 0x2f;
}
