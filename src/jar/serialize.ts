/** Reading the JSON form of a jar back (`CookieJar.fromJSON`): every field checked. */

import type { Priority } from '../cookie/index.js';
import { tellerMessage } from '../util.js';
import { hasEmptyLabel, hasNonChar, isPublicSuffix } from './host.js';
import { isPartitionKey, legacyPartitionKey } from './partitions.js';
import { checkPrefixes, checkSameSiteNone } from './storage.js';
import type { CookieJarJSON, SameSiteFlag, StoredCookie } from './types.js';

/**
 * A cookie read from a file, before the jar inserts it: a {@link StoredCookie} with times in epoch ms. A
 * session cookie expires at +Infinity; times a file does not hold are undefined.
 */
export interface LoadedCookie extends Omit<StoredCookie, 'expires' | 'creation' | 'lastAccess'> {
  expiresAt: number;
  creation: number | undefined;
  lastAccess: number | undefined;
}

/** The CTLs of RFC 6265bis 5.7 step 3 (HTAB excepted). */
const CTL = /[\x00-\x08\x0a-\x1f\x7f]/;
const SAME_SITE = new Set<unknown>(['Strict', 'Lax', 'None', 'Default']);
const PRIORITY = new Set<unknown>(['Low', 'Medium', 'High']);

/**
 * Is this cookie one the storage model could have produced? Name and value free of CTLs and not both
 * empty (5.7 steps 2-3), a canonical ASCII domain (no empty label, 5.1.2) that is not a public suffix
 * unless host-only (steps 8-9), a path starting with `/`, the SameSite=None and prefix rules
 * (steps 19-22, and layered cookies 5.4.3 steps 15-17), and CHIPS: a partition key exactly when
 * partitioned, and Secure then.
 */
export function isStorable(c: LoadedCookie): boolean {
  if (CTL.test(c.name) || CTL.test(c.value) || (c.name === '' && c.value === '')) return false;
  if (c.domain === '' || hasNonChar(c.domain) || c.domain !== c.domain.toLowerCase()) return false;
  if (hasEmptyLabel(c.domain) || /[\s/;,]/.test(c.domain)) return false;
  if (!c.hostOnly && isPublicSuffix(c.domain)) return false;
  if (c.path.charCodeAt(0) !== 0x2f || CTL.test(c.path)) return false;
  if (c.partitioned !== (c.partitionKey !== undefined) || (c.partitioned && !c.secure)) return false;
  return (
    checkSameSiteNone(c.sameSite, c.secure) === undefined &&
    checkPrefixes(c.name, c.value, c.secure, c.hostOnly, c.path, c.httpOnly) === undefined
  );
}

function broken(field: string): never {
  throw new TypeError(tellerMessage('jar', `fromJSON: ${field} is invalid`));
}

function isTime(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/**
 * The cookies of a `CookieJarJSON` (or its text). Throws a `TypeError` naming the first field of the
 * wrong type; drops cookies that the storage model could not have stored (see {@link isStorable}).
 */
export function readJSON(input: CookieJarJSON | string): LoadedCookie[] {
  let data: unknown = input;
  if (typeof input === 'string') {
    try {
      data = JSON.parse(input);
    } catch (cause) {
      throw new TypeError(tellerMessage('jar', 'fromJSON: the text is not JSON'), { cause });
    }
  }
  if (typeof data !== 'object' || data === null) broken('the jar');
  const { version, cookies } = data as { version?: unknown; cookies?: unknown };
  if (version !== 1) broken('version');
  if (!Array.isArray(cookies)) broken('cookies');
  const out: LoadedCookie[] = [];
  for (let i = 0; i < cookies.length; i++) {
    const raw: unknown = cookies[i];
    const at = `cookies[${i}]`;
    if (typeof raw !== 'object' || raw === null) broken(at);
    const c = raw as Record<string, unknown>;
    if (typeof c.name !== 'string') broken(`${at}.name`);
    if (typeof c.value !== 'string') broken(`${at}.value`);
    if (typeof c.domain !== 'string') broken(`${at}.domain`);
    if (typeof c.path !== 'string') broken(`${at}.path`);
    if (c.expires !== null && !isTime(c.expires)) broken(`${at}.expires`);
    for (const flag of ['hostOnly', 'secure', 'httpOnly', 'partitioned'] as const) {
      if (typeof c[flag] !== 'boolean') broken(`${at}.${flag}`);
    }
    if (!SAME_SITE.has(c.sameSite)) broken(`${at}.sameSite`);
    if (c.priority !== undefined && !PRIORITY.has(c.priority)) broken(`${at}.priority`);
    if (
      c.partitionKey !== undefined &&
      (typeof c.partitionKey !== 'string' || !isPartitionKey(c.partitionKey))
    ) {
      broken(`${at}.partitionKey`);
    }
    if (!isTime(c.creation)) broken(`${at}.creation`);
    if (!isTime(c.lastAccess)) broken(`${at}.lastAccess`);
    const cookie: LoadedCookie = {
      name: c.name,
      value: c.value,
      domain: c.domain,
      path: c.path,
      expiresAt: c.expires === null ? Number.POSITIVE_INFINITY : (c.expires as number),
      hostOnly: c.hostOnly as boolean,
      secure: c.secure as boolean,
      httpOnly: c.httpOnly as boolean,
      sameSite: c.sameSite as SameSiteFlag,
      partitioned: c.partitioned as boolean,
      // A file from before partition keys were kept: the partition of the cookie's own site.
      partitionKey:
        c.partitionKey === undefined && c.partitioned === true
          ? legacyPartitionKey(c.domain)
          : (c.partitionKey as string | undefined),
      priority: c.priority as Priority | undefined,
      creation: c.creation,
      lastAccess: c.lastAccess,
    };
    if (isStorable(cookie)) out.push(cookie);
  }
  return out;
}
