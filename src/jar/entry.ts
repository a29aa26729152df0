/**
 * How the jar holds a cookie: the storage model's fields (RFC 6265bis 5.7) in a compact record, the
 * boolean and enumerated flags packed into one small integer (a jar of 1,000 cookies is about a
 * sixth smaller than with a field per flag).
 */
import type { Priority } from '../cookie/index.js';
import type { SameSiteFlag, StoredCookie } from './types.js';

/** A stored cookie, mutable inside the jar only. Times are epoch ms; a session cookie expires at +Infinity. */
export interface Entry {
  name: string;
  value: string;
  /** Shared by every cookie of the domain (the bucket's string). */
  domain: string;
  path: string;
  expiresAt: number;
  creation: number;
  lastAccess: number;
  /** Creation order within this jar: ties of creation-time sort by it (kept by a replacement). */
  seq: number;
  /** The CHIPS partition key (`https://example.com`) of a partitioned cookie; undefined otherwise. */
  partitionKey: string | undefined;
  /** {@link HOST_ONLY} | {@link SECURE} | {@link HTTP_ONLY} | {@link PARTITIONED} | SameSite << 4 | Priority << 6. */
  flags: number;
}

export const HOST_ONLY = 1;
export const SECURE = 2;
export const HTTP_ONLY = 4;
export const PARTITIONED = 8;
const SAME_SITE_SHIFT = 4;
const PRIORITY_SHIFT = 6;
/** The same-site-flag in bits 4-5. */
export const SAME_SITE_MASK = 3 << SAME_SITE_SHIFT;
/** No SameSite attribute (or an unknown value): "Default", Lax by default. */
export const SAME_SITE_DEFAULT = 0;
export const SAME_SITE_STRICT = 1 << SAME_SITE_SHIFT;
export const SAME_SITE_NONE = 3 << SAME_SITE_SHIFT;

const SAME_SITE_VALUES: readonly SameSiteFlag[] = ['Default', 'Strict', 'Lax', 'None'];
const PRIORITY_VALUES: readonly (Priority | undefined)[] = [undefined, 'Low', 'Medium', 'High'];

/** The fields a flag word holds, as booleans and names. */
export interface CookieFlags {
  hostOnly: boolean;
  secure: boolean;
  httpOnly: boolean;
  partitioned: boolean;
  sameSite: SameSiteFlag;
  priority: Priority | undefined;
}

export function packFlags(f: CookieFlags): number {
  return (
    (f.hostOnly ? HOST_ONLY : 0) |
    (f.secure ? SECURE : 0) |
    (f.httpOnly ? HTTP_ONLY : 0) |
    (f.partitioned ? PARTITIONED : 0) |
    (SAME_SITE_VALUES.indexOf(f.sameSite) << SAME_SITE_SHIFT) |
    (f.priority === undefined ? 0 : PRIORITY_VALUES.indexOf(f.priority) << PRIORITY_SHIFT)
  );
}

export function sameSiteOf(flags: number): SameSiteFlag {
  return SAME_SITE_VALUES[(flags & SAME_SITE_MASK) >> SAME_SITE_SHIFT]!;
}

export function priorityOf(flags: number): Priority | undefined {
  return PRIORITY_VALUES[(flags >> PRIORITY_SHIFT) & 3];
}

/** The public, detached view of an entry. */
export function snapshot(e: Entry): StoredCookie {
  const f = e.flags;
  return {
    name: e.name,
    value: e.value,
    domain: e.domain,
    path: e.path,
    expires: e.expiresAt === Number.POSITIVE_INFINITY ? undefined : new Date(e.expiresAt),
    hostOnly: (f & HOST_ONLY) !== 0,
    secure: (f & SECURE) !== 0,
    httpOnly: (f & HTTP_ONLY) !== 0,
    sameSite: sameSiteOf(f),
    partitioned: (f & PARTITIONED) !== 0,
    partitionKey: e.partitionKey,
    priority: priorityOf(f),
    creation: new Date(e.creation),
    lastAccess: new Date(e.lastAccess),
  };
}
