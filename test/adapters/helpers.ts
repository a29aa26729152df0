/**
 * Helpers of the adapter tests: a store wrapper that records, slows or breaks the real store, and a
 * minimal cookie jar for a test client (name=value by name; a Max-Age=0 line removes).
 */
import type { SessionRecord, SessionStore } from '../../src/session/store.js';
import type { MemoryStore } from '../../src/stores/memory.js';

export interface ProbeStore extends SessionStore {
  /** When each successful `set` finished (performance.now()). */
  setsDoneAt: number[];
  /** Delay every `set` by this many ms (to show the response waits for the write). */
  setDelay: number;
  /** 'up': pass through; 'throw': every call rejects; 'hang': every call never settles. */
  mode: 'up' | 'throw' | 'hang';
}

/** Wraps a real store with switches for slowness and failure. */
export function probeStore(inner: MemoryStore): ProbeStore {
  const gate = async <T>(call: () => Promise<T>): Promise<T> => {
    if (probe.mode === 'throw')
      throw new Error('connect ECONNREFUSED 127.0.0.1:6379 (the test store is down)');
    if (probe.mode === 'hang') return new Promise<T>(() => {});
    return call();
  };
  const probe: ProbeStore = {
    setsDoneAt: [],
    setDelay: 0,
    mode: 'up',
    get: (key) => gate(() => inner.get(key)),
    set: (key: string, record: SessionRecord, expected: number | null, ttlMs: number) =>
      gate(async () => {
        if (probe.setDelay > 0) await new Promise((resolve) => setTimeout(resolve, probe.setDelay));
        const ok = await inner.set(key, record, expected, ttlMs);
        if (ok) probe.setsDoneAt.push(performance.now());
        return ok;
      }),
    delete: (key) => gate(() => inner.delete(key)),
    listByUser: (userId) => gate(() => inner.listByUser(userId)),
    deleteByUser: (userId, options) => gate(() => inner.deleteByUser(userId, options)),
    count: () => inner.count(),
  };
  return probe;
}

/** A test client's cookies: applies Set-Cookie lines, renders the Cookie header. */
export class TinyJar {
  readonly cookies = new Map<string, string>();
  apply(lines: readonly string[]): void {
    for (const line of lines) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/;\s*max-age=0/i.test(line) || /;\s*expires=thu, 01 jan 1970/i.test(line))
        this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string | undefined {
    if (this.cookies.size === 0) return undefined;
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
  clone(): TinyJar {
    const copy = new TinyJar();
    for (const [name, value] of this.cookies) copy.cookies.set(name, value);
    return copy;
  }
}

/** A well-formed but unknown session id cookie under every default name. */
export const FOREIGN_COOKIE = ['__Host-sid', '__Secure-sid', 'sid']
  .map((n) => `${n}=${'A'.repeat(43)}`)
  .join('; ');
