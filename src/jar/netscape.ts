/**
 * The Netscape `cookies.txt` format, as curl and wget read and write it: one cookie per line, seven
 * tab-separated fields `domain  include-subdomains  path  secure  expiry  name  value`, where
 * include-subdomains and secure are `TRUE`/`FALSE`, expiry is in Unix seconds (0 for a session
 * cookie), and a domain written `#HttpOnly_domain` marks an HttpOnly cookie. Other lines starting with
 * `#` are comments.
 */
import { isStorable, type LoadedCookie } from './serialize.js';

const HTTP_ONLY = '#HttpOnly_';

/** The fields of a stored cookie that the format holds. */
export type NetscapeFields = Pick<
  LoadedCookie,
  'name' | 'value' | 'domain' | 'path' | 'expiresAt' | 'hostOnly' | 'secure' | 'httpOnly'
>;

/** One line for `cookie`, or undefined when a field contains a tab or a line break the format cannot hold. */
export function netscapeLine(c: NetscapeFields): string | undefined {
  const unsafe = /[\t\r\n]/;
  if (unsafe.test(c.name) || unsafe.test(c.value) || unsafe.test(c.path) || unsafe.test(c.domain)) {
    return undefined;
  }
  const expiry = c.expiresAt === Number.POSITIVE_INFINITY ? 0 : Math.max(1, Math.ceil(c.expiresAt / 1000));
  return [
    (c.httpOnly ? HTTP_ONLY : '') + (c.hostOnly ? c.domain : `.${c.domain}`),
    c.hostOnly ? 'FALSE' : 'TRUE',
    c.path,
    c.secure ? 'TRUE' : 'FALSE',
    String(expiry),
    c.name,
    c.value,
  ].join('\t');
}

/**
 * The cookies of a `cookies.txt` text, in file order. Lenient, like curl: a line that is not a valid
 * cookie is skipped, as is a cookie the storage model could not have stored (see `isStorable`). A
 * leading `.` on the domain, or include-subdomains `TRUE`, makes a domain cookie; a six-field line
 * (older writers) has an empty value. SameSite is "Default".
 */
export function parseNetscape(text: string): LoadedCookie[] {
  const out: LoadedCookie[] = [];
  for (let line of text.split('\n')) {
    if (line.endsWith('\r')) line = line.slice(0, -1);
    let httpOnly = false;
    if (line.startsWith(HTTP_ONLY)) {
      httpOnly = true;
      line = line.slice(HTTP_ONLY.length);
    } else if (line === '' || line.startsWith('#')) {
      continue;
    }
    const f = line.split('\t');
    if (f.length !== 7 && f.length !== 6) continue;
    const [rawDomain, subdomains, path, secure, expiry, name, value = ''] = f as [
      string,
      string,
      string,
      string,
      string,
      string,
      string?,
    ];
    if (!/^-?\d{1,16}$/.test(expiry)) continue;
    const seconds = Number(expiry);
    let domain = rawDomain.toLowerCase();
    let hostOnly = subdomains.toUpperCase() !== 'TRUE';
    if (domain.startsWith('.')) {
      domain = domain.slice(1);
      hostOnly = false;
    }
    const cookie: LoadedCookie = {
      name,
      value,
      domain,
      path,
      expiresAt: seconds === 0 ? Number.POSITIVE_INFINITY : seconds * 1000,
      hostOnly,
      secure: secure.toUpperCase() === 'TRUE',
      httpOnly,
      sameSite: 'Default',
      partitioned: false,
      partitionKey: undefined,
      priority: undefined,
      creation: undefined,
      lastAccess: undefined,
    };
    if (isStorable(cookie)) out.push(cookie);
  }
  return out;
}
