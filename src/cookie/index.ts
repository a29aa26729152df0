/**
 * `teller/cookie`: the cookie codec. Parse leniently (as a user agent, RFC 6265bis section 5),
 * serialize strictly (as a server, section 4), sign in the cookie-signature format.
 * @module
 */
export type { ParseCookieOptions } from './cookie-header.js';
export { parseCookie, serializeCookieHeader } from './cookie-header.js';
export { parseCookieDate } from './date.js';
export type { SerializeOptions } from './serialize.js';
export { serializeDeleteCookie, serializeSetCookie } from './serialize.js';
export type {
  ParsedSetCookie,
  ParseSetCookieOptions,
  Priority,
  SameSite,
  SetCookieParseResult,
} from './set-cookie.js';
export {
  EARLIEST_DATE_MS,
  MAX_ATTRIBUTE_VALUE_BYTES,
  MAX_COOKIE_AGE_SECONDS,
  MAX_NAME_VALUE_BYTES,
  parseSetCookie,
  parseSetCookieDetailed,
} from './set-cookie.js';
export type { Secret } from './sign.js';
export { MIN_SECRET_BYTES, sign, unsign } from './sign.js';
