/**
 * The names `createSessionManager` accepts, checked at construction: an unknown one is an error naming it
 * (TypeScript catches unknown names only in inline literals; a config object built first compiles), with
 * what Teller does instead when it is one of express-session's options.
 */
import { tellerMessage } from './errors.js';

/** What Teller does instead of express-session's options (and of the cookie options it has no use for). */
const INSTEAD: Record<string, string> = {
  resave: 'Teller writes a session only when it changed, by compare-and-set; there is nothing to resave',
  saveUninitialized: 'Teller stores a session at its first write; one never written is never stored',
  name: 'the cookie name is cookie.name (default __Host-Http-sid over HTTPS, sid over http)',
  rolling:
    'the idle lifetime slides on use (idleTimeout, touchInterval); a persistent cookie is re-sent with it',
  genid: 'ids are 32 bytes from the CSPRNG; `random` supplies the bytes (for tests)',
  proxy: 'the adapters take trustProxy',
  unset: 'logout() and destroy() end a session',
  secrets: 'the option is secret (a string or an array: the first signs, all verify)',
  'cookie.maxAge':
    'the session cookie lasts until the browser closes; login(user, { remember: true }) makes it persistent (rememberMe), anonymousLifetime does for anonymous sessions, and idleTimeout/absoluteTimeout bound every session',
  'cookie.expires':
    'see cookie.maxAge: lifetimes are idleTimeout, absoluteTimeout, rememberMe and anonymousLifetime',
  'cookie.httpOnly': 'the session cookie is always HttpOnly',
};

/** The names above that are express-session's options (its drop-in takes them as they are). */
const EXPRESS_SESSION_NAMES = new Set([
  'resave',
  'saveUninitialized',
  'name',
  'rolling',
  'genid',
  'proxy',
  'unset',
  'cookie.maxAge',
  'cookie.expires',
  'cookie.httpOnly',
]);

/** Every option `createSessionManager` takes (`SessionManagerOptions`). */
export const OPTION_NAMES: ReadonlySet<string> = new Set([
  'store',
  'seal',
  'cookie',
  'idleTimeout',
  'absoluteTimeout',
  'renewAfter',
  'renewGrace',
  'rememberMe',
  'rememberMeAbsolute',
  'anonymousLifetime',
  'secret',
  'legacyCookies',
  'serializer',
  'maxDataBytes',
  'sealedMaxBytes',
  'storeTimeout',
  'lockTimeout',
  'touchInterval',
  'logger',
  'bruteForce',
  'clearSiteData',
  'onEvent',
  'reuse',
  'clock',
  'random',
]);
/** Every option of `cookie` (`SessionCookieOptions`). */
export const COOKIE_OPTION_NAMES: ReadonlySet<string> = new Set([
  'name',
  'secure',
  'sameSite',
  'path',
  'domain',
]);

/**
 * Unknown option names are an error naming the option (TypeScript catches them only in inline literals),
 * with what Teller does instead of express-session's.
 */
export function checkOptionNames(options: Record<string, unknown>): void {
  const unknown = (name: string): never => {
    const instead = Object.hasOwn(INSTEAD, name) ? INSTEAD[name] : undefined;
    const dropIn = EXPRESS_SESSION_NAMES.has(name)
      ? ' (code written for express-session keeps its options on teller/adapters/express-session)'
      : '';
    const text = `unknown option ${name}${instead === undefined ? '' : `: ${instead}${dropIn}`}`;
    throw new TypeError(tellerMessage('session', text));
  };
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.has(name) && options[name] !== undefined) unknown(name);
  }
  const cookie = options.cookie;
  if (cookie !== null && typeof cookie === 'object') {
    for (const name of Object.keys(cookie)) {
      if (!COOKIE_OPTION_NAMES.has(name) && (cookie as Record<string, unknown>)[name] !== undefined) {
        unknown(`cookie.${name}`);
      }
    }
  }
}
