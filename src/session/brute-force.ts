/**
 * Id brute-force detection (OWASP ASVS V7, the Session Management Cheat Sheet's "session ID guessing and
 * brute force detection"): the distinct unknown session ids each client sent within a sliding window, in a
 * table of the most recently seen clients, bounded (the least recently seen client is dropped first). A
 * client with `threshold` distinct unknown ids within `window` is in a burst: one `brute-force` event per
 * burst, and under the `'429'` policy each further unknown id of it is answered 429 with Retry-After.
 *
 * An unknown id is a session cookie that names no session: malformed, badly signed, tampered, a store miss,
 * a revoked sealed cookie. An expired session or an id retired by login is not one (it was issued: a
 * returning visitor, not a guess). Ids are counted distinct, so a browser that keeps sending its one stale
 * cookie counts once. Only misses are counted: a request with a live session costs nothing here, and is
 * never refused, whatever else its address sent.
 */
import { SessionRateLimitError, tellerMessage } from './errors.js';
import type { Reporter } from './report.js';

/** What `createSessionManager({ bruteForce })` takes. */
export interface BruteForceOptions {
  /** Distinct unknown ids from one client within `window` that make a burst. @default 20 */
  threshold?: number;
  /** ms of the sliding window. @default 60_000 */
  window?: number;
  /** Clients tracked at most; beyond, the least recently seen is forgotten. @default 10_000 */
  maxClients?: number;
  /**
   * `'event'`: a `brute-force` event per burst. `'429'`: that event, and each unknown id a client sends
   * during its burst is answered 429 Too Many Requests with Retry-After (a `SessionRateLimitError`).
   * @default 'event'
   */
  policy?: 'event' | '429';
}

export const BRUTE_FORCE_DEFAULTS = {
  threshold: 20,
  window: 60_000,
  maxClients: 10_000,
  policy: 'event',
} as const;

export type ResolvedBruteForce = Required<BruteForceOptions>;

/** One client's unknown ids within the window: parallel lists, oldest first, at most `threshold` long. */
interface Client {
  times: number[];
  refs: number[];
  burst: boolean;
}

export class BruteForceGuard {
  readonly #options: ResolvedBruteForce;
  readonly #report: Reporter;
  /** Map order is the LRU order: a client seen again is moved to the end. */
  readonly #clients = new Map<string, Client>();

  constructor(options: ResolvedBruteForce, report: Reporter) {
    this.#options = options;
    this.#report = report;
  }

  /** Clients tracked now (for tests and metrics). */
  get size(): number {
    return this.#clients.size;
  }

  /**
   * `ip` sent `raw`, a cookie value that names no session, at `now`. Throws SessionRateLimitError under the
   * '429' policy while the client is in a burst. Without an address (the adapter gave none), nothing is counted.
   */
  miss(ip: string | undefined, raw: string, now: number): void {
    if (ip === undefined || ip === '') return;
    const { threshold, window, maxClients, policy } = this.#options;
    let client = this.#clients.get(ip);
    if (client === undefined) {
      client = { times: [], refs: [], burst: false };
      if (this.#clients.size >= maxClients) this.#clients.delete(this.#clients.keys().next().value!);
    } else {
      this.#clients.delete(ip);
    }
    this.#clients.set(ip, client);
    const { times, refs } = client;
    for (let i = times.length - 1; i >= 0; i--) {
      if (times[i]! <= now - window) {
        times.splice(i, 1);
        refs.splice(i, 1);
      }
    }
    const ref = fnv1a(raw);
    const seen = refs.indexOf(ref);
    if (seen !== -1) {
      times.splice(seen, 1);
      refs.splice(seen, 1);
    }
    times.push(now);
    refs.push(ref);
    if (refs.length > threshold) {
      times.shift();
      refs.shift();
    }
    if (refs.length < threshold) {
      client.burst = false;
      return;
    }
    if (!client.burst) {
      client.burst = true;
      this.#report.emit('brute-force', now, undefined, {
        ip,
        detail: `${threshold} unknown session ids from one client within ${window} ms`,
      });
      this.#report.log(
        'warn',
        tellerMessage(
          'session',
          `possible session id brute force: ${threshold} unknown ids within ${window} ms`,
        ),
        { ip },
      );
    }
    if (policy === '429') {
      // The burst ends when its oldest id leaves the window.
      const retryAfter = Math.max(1, Math.ceil((times[0]! + window - now) / 1000));
      throw new SessionRateLimitError(
        tellerMessage('session', 'too many unknown session ids from this client'),
        retryAfter,
      );
    }
  }
}

/** A 32-bit FNV-1a hash: ids are told apart without keeping them. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
